import { CliError, EXIT } from '../cli-error.js';

// A JSON reader for values typed on the command line (`berth explain`'s
// filter). JSON.parse is not enough: on Node 20 its errors often carry no
// position, it rounds integers past 2^53 without a word and keeps the last of
// two equal keys. This one names the line and column of every mistake, and
// decodes `{"$date": "<ISO 8601>"}` into a Date, the encoding Berth's JSON
// adapters store (see toJsonValue in @berth/core/adapter).

/** Parses `text` as JSON for the argument named `what`; Dates are written `{"$date":"2026-01-01T00:00:00Z"}`. */
export function parseJsonArgument(text: string, what: string): unknown {
  const reader = new JsonReader(text, what);
  reader.skipSpace();
  const value = reader.value();
  reader.skipSpace();
  if (!reader.atEnd()) reader.fail('unexpected text after the JSON value');
  return value;
}

const NUMBER = /-?(?:0|[1-9]\d*)(\.\d+)?([eE][+-]?\d+)?/y;
const ESCAPES: Readonly<Record<string, string>> = {
  '"': '"',
  '\\': '\\',
  '/': '/',
  b: '\b',
  f: '\f',
  n: '\n',
  r: '\r',
  t: '\t',
};

class JsonReader {
  private position = 0;

  constructor(
    private readonly text: string,
    private readonly what: string,
  ) {}

  atEnd(): boolean {
    return this.position >= this.text.length;
  }

  skipSpace(): void {
    while (/[ \t\n\r]/.test(this.text[this.position] ?? '')) this.position += 1;
  }

  fail(problem: string, at = this.position): never {
    const before = this.text.slice(0, at);
    const line = before.split('\n').length;
    const column = at - before.lastIndexOf('\n');
    throw new CliError(
      `${this.what} is not valid JSON: ${problem} at line ${line}, column ${column} (position ${at})`,
      EXIT.usage,
      `write it in single quotes, like '{"status":"active","age":{"$gte":18}}'; a Date is {"$date":"2026-01-01T00:00:00Z"}`,
    );
  }

  value(): unknown {
    const char = this.text[this.position];
    if (char === '{') return this.object();
    if (char === '[') return this.array();
    if (char === '"') return this.string();
    if (char === '-' || (char !== undefined && char >= '0' && char <= '9')) return this.number();
    for (const [word, literal] of [
      ['true', true],
      ['false', false],
      ['null', null],
    ] as const) {
      if (this.text.startsWith(word, this.position)) {
        this.position += word.length;
        return literal;
      }
    }
    return this.fail(
      char === undefined ? 'the text ends where a value should start' : `unexpected ${JSON.stringify(char)}`,
    );
  }

  private expect(char: string): void {
    this.skipSpace();
    if (this.text[this.position] !== char) {
      this.fail(
        this.atEnd() ? `the text ends where ${JSON.stringify(char)} should be` : `expected ${JSON.stringify(char)}`,
      );
    }
    this.position += 1;
  }

  private object(): unknown {
    const start = this.position;
    this.position += 1;
    const object: Record<string, unknown> = {};
    this.skipSpace();
    if (this.text[this.position] === '}') {
      this.position += 1;
      return object;
    }
    for (;;) {
      this.skipSpace();
      const keyAt = this.position;
      if (this.text[this.position] !== '"') this.fail('expected a property name in double quotes');
      const key = this.string();
      if (Object.hasOwn(object, key)) this.fail(`property ${JSON.stringify(key)} is repeated`, keyAt);
      this.expect(':');
      this.skipSpace();
      // defineProperty: assigning `__proto__` would set the prototype instead of a key.
      Object.defineProperty(object, key, {
        value: this.value(),
        enumerable: true,
        writable: true,
        configurable: true,
      });
      this.skipSpace();
      if (this.text[this.position] === ',') {
        this.position += 1;
        continue;
      }
      this.expect('}');
      return decodeDate(object, () => this.fail('{"$date": …} needs an ISO 8601 date string', start));
    }
  }

  private array(): unknown[] {
    this.position += 1;
    const array: unknown[] = [];
    this.skipSpace();
    if (this.text[this.position] === ']') {
      this.position += 1;
      return array;
    }
    for (;;) {
      this.skipSpace();
      array.push(this.value());
      this.skipSpace();
      if (this.text[this.position] === ',') {
        this.position += 1;
        continue;
      }
      this.expect(']');
      return array;
    }
  }

  private string(): string {
    const start = this.position;
    this.position += 1;
    let result = '';
    for (;;) {
      const char = this.text[this.position];
      if (char === undefined) this.fail('the string never ends', start);
      if (char === '"') {
        this.position += 1;
        return result;
      }
      if (char < ' ') this.fail('a control character must be escaped in a string');
      if (char === '\\') {
        const escaped = this.text[this.position + 1] ?? '';
        if (escaped === 'u') {
          const hex = this.text.slice(this.position + 2, this.position + 6);
          if (!/^[0-9a-fA-F]{4}$/.test(hex)) this.fail('\\u needs four hexadecimal digits');
          result += String.fromCharCode(Number.parseInt(hex, 16));
          this.position += 6;
          continue;
        }
        const decoded = ESCAPES[escaped];
        if (decoded === undefined) this.fail(`unknown escape \\${escaped}`);
        result += decoded;
        this.position += 2;
        continue;
      }
      result += char;
      this.position += 1;
    }
  }

  private number(): number {
    NUMBER.lastIndex = this.position;
    const match = NUMBER.exec(this.text);
    if (match === null) return this.fail('malformed number');
    const token = match[0];
    const value = Number(token);
    // Berth numbers are doubles: an integer that has none refuses to be rounded silently.
    if (match[1] === undefined && match[2] === undefined && BigInt(token) !== BigInt(value)) {
      this.fail(`${token} has no exact double (it would become ${BigInt(value)}); Berth numbers are doubles`);
    }
    if (!Number.isFinite(value)) this.fail(`${token} is out of the double range`);
    this.position += token.length;
    return value;
  }
}

function decodeDate(object: Record<string, unknown>, fail: () => never): unknown {
  const keys = Object.keys(object);
  if (keys.length !== 1 || keys[0] !== '$date') return object;
  const text = object.$date;
  // Date.parse accepts many formats; an ISO 8601 date (time optional) is the one documented.
  if (typeof text !== 'string' || !/^\d{4}-\d{2}-\d{2}(T[\d:.]+(Z|[+-]\d{2}:\d{2})?)?$/.test(text)) fail();
  const date = new Date(text);
  if (Number.isNaN(date.getTime())) fail();
  return date;
}

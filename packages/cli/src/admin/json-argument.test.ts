import { describe, expect, it } from 'vitest';
import { CliError, EXIT } from '../cli-error.js';
import { parseJsonArgument } from './json-argument.js';

function failure(text: string): CliError {
  try {
    parseJsonArgument(text, 'the filter');
  } catch (error) {
    if (error instanceof CliError) return error;
    throw error;
  }
  throw new Error(`${JSON.stringify(text)} parsed`);
}

describe('parseJsonArgument', () => {
  it('reads what JSON.parse reads', () => {
    for (const text of [
      '{}',
      '[]',
      '{"a":[1,-2.5e3,true,false,null,"x\\n\\u00e9\\ud834\\udd1e"]}',
      ' { "a" : { "b" : [ ] } } ',
      '5e-324',
      '1e308',
      '-0',
    ]) {
      expect(parseJsonArgument(text, 'v')).toEqual(JSON.parse(text));
    }
    expect(Object.is(parseJsonArgument('-0', 'v'), -0)).toBe(true);
  });

  it('decodes {"$date": ISO} into a Date, and only an object with that one key', () => {
    expect(parseJsonArgument('{"at":{"$gte":{"$date":"2026-01-01T00:00:00Z"}}}', 'f')).toEqual({
      at: { $gte: new Date('2026-01-01T00:00:00Z') },
    });
    expect(parseJsonArgument('{"$date":"2026-01-01"}', 'f')).toEqual(new Date('2026-01-01'));
    expect(parseJsonArgument('{"$date":"2026-01-01","x":1}', 'f')).toEqual({ $date: '2026-01-01', x: 1 });
    expect(failure('{"$date":"yesterday"}').message).toContain('line 1, column 1');
    expect(failure('{"a":{"$date":1}}').message).toContain(
      '{"$date": …} needs an ISO 8601 date string at line 1, column 6',
    );
    expect(failure('{"$date":"2026-02-30T99:00:00Z"}').exitCode).toBe(EXIT.usage);
  });

  it('keeps a "__proto__" key as data instead of setting the prototype', () => {
    const value = parseJsonArgument('{"__proto__":{"polluted":true}}', 'f') as Record<string, unknown>;
    expect(Object.keys(value)).toEqual(['__proto__']);
    expect(Object.getPrototypeOf(value)).toBe(Object.prototype);
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
  });

  it('names the line, column and position of every mistake', () => {
    expect(failure('{"a": }').message).toBe(
      'the filter is not valid JSON: unexpected "}" at line 1, column 7 (position 6)',
    );
    expect(failure('{"a": 1').message).toContain('the text ends where "}" should be at line 1, column 8');
    expect(failure('{\n  "a" 1}').message).toContain('expected ":" at line 2, column 7');
    expect(failure('[1,]').message).toContain('unexpected "]"');
    expect(failure('').message).toContain('the text ends where a value should start');
    expect(failure("{'a':1}").message).toContain('expected a property name in double quotes');
    expect(failure('{"a":"x\u0001"}').message).toContain('a control character must be escaped');
    expect(failure('{"a":"\\x"}').message).toContain('unknown escape \\x');
    expect(failure('{"a":1} x').message).toContain('unexpected text after the JSON value at line 1, column 9');
    expect(failure('{"a":01}').message).toContain('expected "}"');
    expect(failure('{"a":"never ends').message).toContain('the string never ends at line 1, column 6');
  });

  it('refuses a repeated key and an integer that no double holds exactly', () => {
    expect(failure('{"a":1,"a":2}').message).toContain('property "a" is repeated at line 1, column 8');
    expect(failure('{"n":9007199254740993}').message).toContain(
      '9007199254740993 has no exact double (it would become 9007199254740992)',
    );
    expect(parseJsonArgument('{"n":9007199254740992}', 'f')).toEqual({ n: 2 ** 53 });
    expect(failure('{"n":1e400}').message).toContain('1e400 is out of the double range');
  });
});

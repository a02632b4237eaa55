import { describe, expect, it } from 'vitest';
import { validationPath } from '../testing/validation-path.js';
import type { DocumentValue } from './document.js';
import { stringifyDocument } from './document-json.js';
import { checkId, copyDocument, copyValue, jsonByteLength, MAX_DOCUMENT_BYTES, MAX_NESTING_DEPTH } from './values.js';

describe('copyDocument', () => {
  it('returns a deep copy with undefined dropped and -0 normalized', () => {
    const date = new Date(1000);
    const input = { id: 'a', nested: { date, list: [1, 'x', null] }, gone: undefined, zero: -0 };
    const copy = copyDocument<typeof input>(input);
    expect(copy).toEqual({ id: 'a', nested: { date: new Date(1000), list: [1, 'x', null] }, zero: 0 });
    expect(Object.is(copy.zero, 0)).toBe(true);
    expect(copy.nested.date).not.toBe(date);
    expect('gone' in copy).toBe(false);
  });

  it.each([
    ['a BigInt', { id: 'a', stats: { born: 1n } }, 'stats.born'],
    ['NaN', { id: 'a', stats: { born: Number.NaN } }, 'stats.born'],
    ['Infinity', { id: 'a', n: Number.POSITIVE_INFINITY }, 'n'],
    ['a Map', { id: 'a', m: new Map() }, 'm'],
    ['a class instance', { id: 'a', list: [new (class Point {})()] }, 'list.0'],
    ['a function', { id: 'a', f: () => 1 }, 'f'],
    ['an invalid Date', { id: 'a', d: new Date(Number.NaN) }, 'd'],
    ['a Date after the year 9999', { id: 'a', d: new Date('+010000-01-01T00:00:00Z') }, 'd'],
    ['a Date before the year 0', { id: 'a', d: new Date('-000001-12-31T23:59:59Z') }, 'd'],
    ['undefined in an array', { id: 'a', list: [1, undefined] }, 'list.1'],
    ['a $ key', { id: 'a', o: { $where: 1 } }, 'o.$where'],
    ['a lone surrogate', { id: 'a', s: '\uD800' }, 's'],
    ['U+0000', { id: 'a', s: 'a\u0000b' }, 's'],
  ])('rejects %s and names its path', (_name, document, path) => {
    expect(validationPath(() => copyDocument(document))).toBe(path);
  });

  it('rejects circular references', () => {
    const document: Record<string, unknown> = { id: 'a' };
    document.self = document;
    expect(validationPath(() => copyDocument(document))).toBe('self');
  });

  it('rejects a __proto__ key', () => {
    expect(validationPath(() => copyDocument(JSON.parse('{"id":"a","__proto__":{"x":1}}')))).toBe('__proto__');
  });
});

describe('checkId', () => {
  it('accepts 256 characters of anything printable and rejects 257', () => {
    expect(() => checkId('/:\'"%_ 😀'.repeat(1))).not.toThrow();
    expect(() => checkId('x'.repeat(256))).not.toThrow();
    expect(validationPath(() => checkId('x'.repeat(257)))).toBe('id');
    expect(validationPath(() => checkId(''))).toBe('id');
    expect(validationPath(() => checkId(5))).toBe('id');
  });
});

/** A value `levels` objects deep (an object is level 1), built without recursion. */
function nested(levels: number, leaf: unknown = 1, key = 'a'): Record<string, unknown> {
  let value: Record<string, unknown> = { [key]: leaf };
  for (let level = 1; level < levels; level++) value = { [key]: value };
  return value;
}

describe('nesting depth', () => {
  it('accepts a document exactly MAX_NESTING_DEPTH deep, a Date at the bottom counting as a scalar', () => {
    const document = { id: 'a', ...nested(MAX_NESTING_DEPTH, new Date(0)) };
    expect(copyDocument(document)).toStrictEqual(document);
  });

  it('rejects one level more, naming the path of the value that goes too deep', () => {
    const document = { id: 'a', ...nested(MAX_NESTING_DEPTH + 1) };
    const path = Array.from({ length: MAX_NESTING_DEPTH }, () => 'a').join('.');
    expect(validationPath(() => copyDocument(document))).toBe(path);
    const arrays: unknown[] = [];
    let inner = arrays;
    for (let level = 1; level < MAX_NESTING_DEPTH; level++) {
      const next: unknown[] = [];
      inner.push(next);
      inner = next;
    }
    expect(validationPath(() => copyDocument({ id: 'a', list: arrays }))).toBe(
      ['list', ...Array.from({ length: MAX_NESTING_DEPTH - 1 }, () => '0')].join('.'),
    );
  });

  it('rejects 100 000 levels of objects or arrays with VALIDATION, never a RangeError', () => {
    expect(validationPath(() => copyDocument({ id: 'a', ...nested(100_000) }))).toMatch(/^a(\.a)+$/);
    let list: unknown[] = [];
    for (let level = 0; level < 100_000; level++) list = [list];
    expect(validationPath(() => copyValue(list, 'payload'))).toMatch(/^payload(\.0)+$/);
  });
});

describe('size limit', () => {
  const samples: readonly DocumentValue[] = [
    null,
    true,
    -0.000001,
    -2.2250738585072014e-308,
    2 ** 62,
    '',
    'plain',
    'quote " backslash \\ newline \n control \u0001 \u001f tab \t',
    'é € 😀 \u2028 \uFEFF',
    '\b\f\r \u007f \u0080 \u07ff \u0800 \uffff \u{10ffff} \u{10000}',
    new Date(0),
    new Date('9999-12-31T23:59:59.999Z'),
    [],
    {},
    [1, 'two', [3], { four: 4 }],
    { 'k"ey': { é: [null, false, new Date(5)] }, '😀': '' },
  ];

  it.each(samples.map((value) => [value]))('measures %j as the UTF-8 bytes of its stored JSON', (value) => {
    expect(jsonByteLength(value)).toBe(Buffer.byteLength(stringifyDocument(value)));
  });

  /** A document whose stored JSON is exactly `bytes` long, mostly 2- and 4-byte characters and escapes. */
  function documentOf(bytes: number): Record<string, unknown> {
    const base = { id: 'a', at: new Date(0), s: '' };
    const fill = bytes - Buffer.byteLength(stringifyDocument(base));
    const unit = 'é😀"\n'; // 2 + 4 + 2 + 2 bytes of JSON
    const text = unit.repeat(Math.floor(fill / 10)) + 'x'.repeat(fill % 10);
    return { ...base, s: text };
  }

  it('accepts a document of exactly maxBytes and rejects one byte more, naming no field', () => {
    for (const max of [100, 4096, 100_003]) {
      expect(Buffer.byteLength(stringifyDocument(documentOf(max)))).toBe(max);
      expect(() => copyDocument(documentOf(max), 'c', max)).not.toThrow();
      expect(validationPath(() => copyDocument(documentOf(max + 1), 'c', max))).toBe('');
    }
  });

  it('defaults to 16 MiB and names the path of a payload', () => {
    expect(() => copyValue('x'.repeat(MAX_DOCUMENT_BYTES - 2), 'payload')).not.toThrow();
    expect(validationPath(() => copyValue('x'.repeat(MAX_DOCUMENT_BYTES - 1), 'payload'))).toBe('payload');
  });
});

import { describe, expect, it } from 'vitest';
import { isBerthError } from './errors.js';
import { checkId, copyDocument } from './values.js';

function pathOf(work: () => unknown): string | undefined {
  try {
    work();
  } catch (error) {
    if (isBerthError(error, 'VALIDATION')) return error.path;
    throw error;
  }
  return undefined;
}

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
    expect(pathOf(() => copyDocument(document))).toBe(path);
  });

  it('rejects circular references', () => {
    const document: Record<string, unknown> = { id: 'a' };
    document.self = document;
    expect(pathOf(() => copyDocument(document))).toBe('self');
  });

  it('rejects a __proto__ key', () => {
    expect(pathOf(() => copyDocument(JSON.parse('{"id":"a","__proto__":{"x":1}}')))).toBe('__proto__');
  });
});

describe('checkId', () => {
  it('accepts 256 characters of anything printable and rejects 257', () => {
    expect(() => checkId('/:\'"%_ 😀'.repeat(1))).not.toThrow();
    expect(() => checkId('x'.repeat(256))).not.toThrow();
    expect(pathOf(() => checkId('x'.repeat(257)))).toBe('id');
    expect(pathOf(() => checkId(''))).toBe('id');
    expect(pathOf(() => checkId(5))).toBe('id');
  });
});

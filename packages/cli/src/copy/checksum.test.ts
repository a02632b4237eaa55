import { describe, expect, it } from 'vitest';
import { canonicalEntry, canonicalJson } from './checksum.js';

describe('canonical encoding of entries', () => {
  it('ignores key order (JSONB reorders keys) but not values', () => {
    expect(canonicalJson({ b: 1, a: { d: [1, 2], c: null } })).toBe(canonicalJson({ a: { c: null, d: [1, 2] }, b: 1 }));
    expect(canonicalJson({ a: [1, 2] })).not.toBe(canonicalJson({ a: [2, 1] }));
    expect(canonicalJson({ a: 1 })).not.toBe(canonicalJson({ a: '1' }));
    expect(canonicalJson({ a: undefined, b: 1 })).toBe(canonicalJson({ b: 1 }));
  });

  it('spells Dates with milliseconds, apart from their ISO strings, and -0 apart from 0', () => {
    expect(canonicalJson(new Date(Date.UTC(2020, 0, 1, 0, 0, 0, 7)))).toBe('{"$date":"2020-01-01T00:00:00.007Z"}');
    expect(canonicalJson(new Date(1))).not.toBe(canonicalJson(new Date(1).toISOString()));
    expect(canonicalJson(-0)).toBe('-0');
    expect(canonicalJson(0)).toBe('0');
    expect(canonicalJson([2 ** 53 + 2, 5e-324, 1e308])).toBe('[9007199254740994,5e-324,1e+308]');
    expect(canonicalJson(2 ** 53 + 2)).not.toBe(canonicalJson(2 ** 53 + 4));
  });

  it('includes the metadata: a different version or time changes the encoding', () => {
    const meta = { version: 2, createdAt: new Date(1), updatedAt: new Date(2) };
    const entry = { document: { id: 'a', x: 1 }, meta };
    expect(canonicalEntry(entry)).toBe(canonicalEntry({ document: { x: 1, id: 'a' }, meta: { ...meta } }));
    expect(canonicalEntry(entry)).not.toBe(canonicalEntry({ ...entry, meta: { ...meta, version: 3 } }));
    expect(canonicalEntry(entry)).not.toBe(canonicalEntry({ ...entry, meta: { ...meta, updatedAt: new Date(3) } }));
  });
});

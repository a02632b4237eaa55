import { describe, expect, it } from 'vitest';
import { parseDocument, stringifyDocument } from './document-json.js';

describe('document JSON', () => {
  it('round-trips Dates, nested and in arrays', () => {
    const value = { id: 'a', at: new Date(1_700_000_000_123), list: [new Date(0), { deep: new Date(-1) }], n: null };
    const text = stringifyDocument(value);
    expect(text).toContain('{"$date":"2023-11-14T22:13:20.123Z"}');
    expect(parseDocument(text)).toEqual(value);
  });

  it('encodes a Date that is the only one, however deep, and writes a value without one as JSON does', () => {
    expect(stringifyDocument({ id: 'a', list: [1, { deep: [null, new Date(0)] }] })).toBe(
      '{"id":"a","list":[1,{"deep":[null,{"$date":"1970-01-01T00:00:00.000Z"}]}]}',
    );
    expect(stringifyDocument(new Date(0))).toBe('{"$date":"1970-01-01T00:00:00.000Z"}');
    const plain = { id: 'b', skipped: undefined, list: [1, 'two', { three: [true, null] }] };
    expect(stringifyDocument(plain)).toBe(JSON.stringify(plain));
  });
});

import { describe, expect, it } from 'vitest';
import { parseDocument, stringifyDocument } from './document-json.js';

describe('document JSON', () => {
  it('round-trips Dates, nested and in arrays', () => {
    const value = { id: 'a', at: new Date(1_700_000_000_123), list: [new Date(0), { deep: new Date(-1) }], n: null };
    const text = stringifyDocument(value);
    expect(text).toContain('{"$date":"2023-11-14T22:13:20.123Z"}');
    expect(parseDocument(text)).toEqual(value);
  });
});

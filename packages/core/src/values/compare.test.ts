import { describe, expect, it } from 'vitest';
import { compareStrings, compareValues } from './compare.js';

describe('compareStrings', () => {
  it('orders by code point, not by UTF-16 code unit', () => {
    // U+FFFD is one code unit 0xFFFD; U+1F600 is the pair 0xD83D 0xDE00.
    expect(compareStrings('\uFFFD', '😀')).toBe(-1);
    expect('\uFFFD' < '😀').toBe(false);
    expect(compareStrings('😀', '\uE000')).toBe(1);
    expect(compareStrings('\uD7FF', '😀')).toBe(-1);
  });

  it('orders astral characters among themselves', () => {
    expect(compareStrings('😀', '😁')).toBe(-1);
    expect(compareStrings('𝒜', '😀')).toBe(-1);
  });

  it('orders upper case before lower case, unlike a locale collation', () => {
    expect(compareStrings('Z', 'a')).toBe(-1);
    expect(compareStrings('a', 'é')).toBe(-1);
    expect(compareStrings('ab', 'a')).toBe(1);
    expect(compareStrings('', '')).toBe(0);
  });
});

describe('compareValues', () => {
  it('ranks types: null < booleans < numbers < strings < Dates < arrays < objects', () => {
    const ordered = [undefined, null, false, true, -1, 0, 2.5, '', 'a', new Date(0), new Date(1), [1], { a: 1 }];
    for (let i = 0; i < ordered.length - 1; i++) {
      expect(compareValues(ordered[i], ordered[i + 1])).toBeLessThanOrEqual(0);
      expect(compareValues(ordered[i + 1], ordered[i])).toBeGreaterThanOrEqual(0);
    }
    expect(compareValues(1, '1')).toBe(-1);
    expect(compareValues([2], [1])).toBe(0);
  });
});

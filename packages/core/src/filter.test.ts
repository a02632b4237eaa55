import { describe, expect, it } from 'vitest';
import { isBerthError } from './errors.js';
import { matchesFilter, parseFilter } from './filter.js';

describe('matchesFilter', () => {
  const document = { id: 'p1', level: 3, name: 'Ada', tags: ['a', 1], stats: { hp: null } };

  it('compares type-strictly', () => {
    expect(matchesFilter(document, { level: 3 })).toBe(true);
    expect(matchesFilter(document, { level: '3' })).toBe(false);
    expect(matchesFilter(document, { level: { $gt: '1' } })).toBe(false);
    expect(matchesFilter(document, { tags: 'a' })).toBe(false);
    expect(matchesFilter(document, { tags: { $contains: 'a' } })).toBe(true);
    expect(matchesFilter(document, { tags: { $contains: '1' } })).toBe(false);
  });

  it('treats null and missing alike for equality, and $ne/$not as plain negation', () => {
    expect(matchesFilter(document, { 'stats.hp': null })).toBe(true);
    expect(matchesFilter(document, { missing: null })).toBe(true);
    expect(matchesFilter(document, { missing: { $ne: 1 } })).toBe(true);
    expect(matchesFilter(document, { $not: { missing: { $gt: 1 } } })).toBe(true);
    expect(matchesFilter(document, { 'stats.hp': { $exists: true } })).toBe(true);
    expect(matchesFilter(document, { missing: { $exists: true } })).toBe(false);
  });

  it('treats $startsWith operands literally', () => {
    expect(matchesFilter({ id: 'x', s: '50%_off' }, { s: { $startsWith: '50%_' } })).toBe(true);
    expect(matchesFilter({ id: 'x', s: '50abc' }, { s: { $startsWith: '50%' } })).toBe(false);
  });
});

describe('parseFilter', () => {
  it.each([
    [{ a: { $regex: 'x' } }],
    [{ $where: 'true' }],
    [{ "a'b": 1 }],
    [{ 'a..b': 1 }],
    [{ a: { b: 1 } }],
    [{ a: [1] }],
    [{ a: {} }],
    [{ a: { $in: 'x' } }],
    [{ a: { $gt: null } }],
    [{ $or: {} }],
  ])('rejects %j with a VALIDATION error', (filter) => {
    let caught: unknown;
    try {
      parseFilter(filter);
    } catch (error) {
      caught = error;
    }
    expect(isBerthError(caught, 'VALIDATION')).toBe(true);
  });
});

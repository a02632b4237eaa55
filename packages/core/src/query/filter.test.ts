import { describe, expect, it } from 'vitest';
import { isBerthError } from '../errors.js';
import { validationPath } from '../testing/validation-path.js';
import { MAX_FILTER_DEPTH, matchesFilter, parseFilter } from './filter.js';
import type { Filter } from './query.js';

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

/** `levels` filters nested through `operator` (the outer filter is level 1), built without recursion. */
function nestedFilter(levels: number, operator: '$and' | '$or' | '$not'): Filter {
  let filter: Filter = { level: 3 };
  for (let level = 1; level < levels; level++)
    filter = operator === '$not' ? { $not: filter } : { [operator]: [filter] };
  return filter;
}

describe('filter depth', () => {
  it.each(['$and', '$or', '$not'] as const)(
    'accepts %s nested MAX_FILTER_DEPTH levels and refuses one more',
    (operator) => {
      const document = { id: 'p1', level: 3 };
      const expected = operator !== '$not' || MAX_FILTER_DEPTH % 2 === 1;
      expect(matchesFilter(document, nestedFilter(MAX_FILTER_DEPTH, operator))).toBe(expected);
      expect(validationPath(() => parseFilter(nestedFilter(MAX_FILTER_DEPTH + 1, operator)))).toBe('');
    },
  );

  it.each(['$and', '$or', '$not'] as const)(
    'refuses %s nested 10 000 levels with VALIDATION, not a RangeError',
    (operator) => {
      expect(validationPath(() => parseFilter(nestedFilter(10_000, operator)))).toBe('');
    },
  );
});

describe('paths through prototype members', () => {
  it('refuses a __proto__ segment anywhere in a path, naming the path', () => {
    for (const path of ['__proto__', 'a.__proto__', '__proto__.polluted']) {
      expect(validationPath(() => parseFilter({ [path]: 1 }))).toBe(path);
    }
  });

  it('treats constructor, prototype and toString as plain fields, missing unless the document has them', () => {
    const bare = { id: 'a', stats: {} };
    for (const field of ['constructor', 'prototype', 'toString', 'stats.constructor', 'stats.hasOwnProperty']) {
      expect(matchesFilter(bare, { [field]: null })).toBe(true);
      expect(matchesFilter(bare, { [field]: { $exists: false } })).toBe(true);
      expect(matchesFilter(bare, { [field]: { $ne: null } })).toBe(false);
    }
    const held = { id: 'b', constructor: 'c', stats: { prototype: 2 } };
    expect(matchesFilter(held, { constructor: 'c' })).toBe(true);
    expect(matchesFilter(held, { 'stats.prototype': { $gt: 1 } })).toBe(true);
  });
});

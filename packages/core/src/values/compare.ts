/**
 * The total order of document values that every adapter reproduces:
 * missing = null < false < true < numbers < strings (by code point) < Dates <
 * arrays < objects. Arrays and objects are not compared by content.
 */

/**
 * Rank of a value's type in the cross-type order.
 *
 * ### Examples
 * ```ts
 * import { typeRank } from '@berth/core/adapter';
 *
 * // Values of different types sort by type first.
 * console.log(typeRank(null) < typeRank(1), typeRank(1) < typeRank('a'));
 * ```
 */
export function typeRank(value: unknown): number {
  if (value === undefined || value === null) return 0;
  switch (typeof value) {
    case 'boolean':
      return 1;
    case 'number':
      return 2;
    case 'string':
      return 3;
    default:
      if (value instanceof Date) return 4;
      return Array.isArray(value) ? 5 : 6;
  }
}

/**
 * Compares two strings by Unicode code point, as SQLite's BINARY and
 * PostgreSQL's "C" collation do on UTF-8. JavaScript's `<` compares UTF-16
 * code units, which puts U+E000–U+FFFF after astral characters.
 *
 * ### Examples
 * ```ts
 * import { compareStrings } from '@berth/core/adapter';
 *
 * const sorted = ['\u{1F600}', '\uFFFD', 'a'].sort(compareStrings); // ['a', '\uFFFD', '\u{1F600}'], as the engines sort
 * ```
 */
export function compareStrings(a: string, b: string): number {
  if (a === b) return 0;
  const length = Math.min(a.length, b.length);
  for (let index = 0; index < length; index++) {
    const x = a.charCodeAt(index);
    const y = b.charCodeAt(index);
    if (x === y) continue;
    // Surrogates (U+D800–U+DFFF) stand for code points above U+FFFF, so they
    // outrank every BMP unit at or above U+E000.
    const xSurrogate = x >= 0xd800 && x <= 0xdfff;
    const ySurrogate = y >= 0xd800 && y <= 0xdfff;
    if (xSurrogate === ySurrogate) return x < y ? -1 : 1;
    return xSurrogate ? 1 : -1;
  }
  return a.length < b.length ? -1 : a.length > b.length ? 1 : 0;
}

/**
 * Compares two document values in the cross-type order (ascending).
 *
 * ### Examples
 * ```ts
 * import { compareValues } from '@berth/core/adapter';
 *
 * const sorted = [3, 'b', null, 1, new Date(0)].sort(compareValues);
 * ```
 */
export function compareValues(a: unknown, b: unknown): number {
  const rankA = typeRank(a);
  const rankB = typeRank(b);
  if (rankA !== rankB) return rankA < rankB ? -1 : 1;
  switch (rankA) {
    case 1:
    case 2: {
      const x = Number(a);
      const y = Number(b);
      return x < y ? -1 : x > y ? 1 : 0;
    }
    case 3:
      return compareStrings(a as string, b as string);
    case 4: {
      const x = (a as Date).getTime();
      const y = (b as Date).getTime();
      return x < y ? -1 : x > y ? 1 : 0;
    }
    default:
      return 0;
  }
}

/**
 * Type-strict equality of two scalars (Dates by instant).
 *
 * ### Examples
 * ```ts
 * import { scalarsEqual } from '@berth/core/adapter';
 *
 * scalarsEqual(new Date(5), new Date(5)); // true
 * scalarsEqual(1, '1'); // false
 * ```
 */
export function scalarsEqual(a: unknown, b: unknown): boolean {
  if (a instanceof Date) return b instanceof Date && a.getTime() === b.getTime();
  return a === b;
}

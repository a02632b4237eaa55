import {
  type BerthErrorCode,
  type Document,
  type DocumentValue,
  type Filter,
  isBerthError,
  type NewDocument,
  type Repository,
} from '@berth/core';
import { expect } from 'vitest';
import type { ConformanceContext } from '../harness.js';

/** A document with arbitrary fields, as the query groups store them. */
export type LooseDocument = Document & { readonly [field: string]: DocumentValue | undefined };

export const ISO_1999 = '1999-12-31T23:59:59.999Z';
export const ISO_2021 = '2021-01-01T00:00:00.000Z';

/**
 * One document per kind of value in field `v`, plus one without it. Ids name
 * the value. Dates get ids in the opposite order of their instants, and arrays
 * and objects get ids in the opposite order of their contents, so an adapter
 * that compares them the wrong way cannot pass by falling back to ids.
 */
export function valueDocuments(): LooseDocument[] {
  return [
    { id: 'missing' },
    { id: 'null', v: null },
    { id: 'false', v: false },
    { id: 'true', v: true },
    { id: 'num-neg', v: -1.5 },
    { id: 'num-0', v: 0 },
    { id: 'num-1', v: 1 },
    { id: 'num-2', v: 2 },
    { id: 'num-10', v: 10 },
    { id: 'str-empty', v: '' },
    { id: 'str-1', v: '1' },
    { id: 'str-true', v: 'true' },
    { id: 'str-iso', v: ISO_2021 },
    { id: 'str-B', v: 'B' },
    { id: 'str-a', v: 'a' },
    { id: 'date-a', v: new Date(ISO_2021) },
    { id: 'date-b', v: new Date(ISO_1999) },
    { id: 'arr-a', v: [1, 'a'] },
    { id: 'arr-b', v: [] },
    { id: 'obj-a', v: { x: 2 } },
    { id: 'obj-b', v: { x: 1 } },
  ];
}

/** Every id of {@link valueDocuments}. */
export const VALUE_IDS: readonly string[] = valueDocuments().map((document) => document.id);

/** The ids of {@link valueDocuments} except the given ones. */
export function valueIdsExcept(...excluded: string[]): string[] {
  return VALUE_IDS.filter((id) => !excluded.includes(id));
}

/**
 * People with nested addresses. `address` is an object for some, null for
 * `dan`, a string for `eve`, an array for `fay` and absent for `gus`, so that
 * `address.city` walks through every kind of value.
 */
export function peopleDocuments(): LooseDocument[] {
  return [
    { id: 'ann', name: 'Ann', age: 31, address: { city: 'Oslo', zip: '0150' }, tags: ['admin', 'ops'] },
    { id: 'bob', name: 'Bob', age: 25, address: { city: 'Bergen' }, tags: [] },
    { id: 'cid', name: 'cid', age: null, address: { city: 'Oslo', geo: { zone: 2 } }, tags: ['ops'] },
    { id: 'dan', name: 'Dan', address: null },
    { id: 'eve', name: 'Eve', age: 40, address: 'Oslo' },
    { id: 'fay', name: 'Fay', age: 5, address: [{ city: 'Oslo' }] },
    { id: 'gus', name: 'Gus', age: 5 },
  ];
}

/**
 * Numbers an engine gets wrong unless it compares the doubles JavaScript
 * holds, ascending: integers past 2^53 whose shortest decimal text is not
 * exact (SQLite reads `4611686018427388000` back as a 64-bit integer, which
 * is not 2^62), integers past 2^63, values a fixed-point decimal rounds
 * together (`1e-40`, `5e-324`, `1e300` and `1e308`), and neighbours one ulp
 * apart near 1e-300 that SQLite's own text-to-double conversion merges
 * (…04e-300 and …05e-300) or swaps (…09e-300 and …1e-300).
 */
export const EXTREME_NUMBERS: readonly number[] = [
  -Number.MAX_VALUE,
  -1e300,
  -1e19,
  -(2 ** 62),
  -(2 ** 53) - 2,
  -1.5,
  -1e-40,
  -5e-324,
  0,
  5e-324,
  1.0000000000000004e-300,
  1.0000000000000005e-300,
  1.0000000000000009e-300,
  1.000000000000001e-300,
  1e-40,
  2e-40,
  1,
  2 ** 53,
  2 ** 53 + 2,
  2 ** 60,
  2 ** 62,
  2 ** 62 + 1024,
  2 ** 63,
  1e19,
  1e19 + 2048,
  1e21,
  1e300,
  1e308,
  Number.MAX_VALUE,
];

/**
 * One document per {@link EXTREME_NUMBERS} value in `n` (also inside the
 * array `list`), plus `-0`, which is stored as 0 and ties with it. Ids run
 * against the numeric order, so an engine that ties two different numbers
 * and falls back to the id tie-break puts them in the wrong order.
 */
export function extremeNumberDocuments(): LooseDocument[] {
  const count = EXTREME_NUMBERS.length;
  const documents: LooseDocument[] = EXTREME_NUMBERS.map((n, index) => ({
    id: `x${String(count - index).padStart(2, '0')}`,
    n,
    list: [n],
  }));
  return [...documents, { id: 'x00', n: -0, list: [-0] }];
}

/**
 * Strings that differ only by trailing or leading spaces (equal under the
 * PAD SPACE collations of MySQL and MariaDB), by case, by accent
 * (precomposed `é` against `e` + combining acute) or by astral character.
 * Ids run against the code point order of the values.
 */
export const LOOKALIKE_STRINGS: readonly string[] = [
  ' a',
  'A',
  'E',
  'SS',
  'a',
  'a ',
  'a  ',
  'e',
  'e\u0301',
  'ss',
  '\u00df',
  '\u00e9',
  '\uff45',
  '😀',
  '😀 ',
  '😁',
];

/** One document per {@link LOOKALIKE_STRINGS} value in `s`, ids against the value order. */
export function lookalikeStringDocuments(): LooseDocument[] {
  const count = LOOKALIKE_STRINGS.length;
  return LOOKALIKE_STRINGS.map((s, index) => ({ id: `s${String(count - index).padStart(2, '0')}`, s }));
}

/** Sorts documents by a numeric or string field (code points), then id: what the sort cases expect. */
export function sortedIds(documents: readonly LooseDocument[], field: string, direction: 'asc' | 'desc'): string[] {
  const sign = direction === 'desc' ? -1 : 1;
  return [...documents]
    .sort((a, b) => {
      const x = a[field] as number | string;
      const y = b[field] as number | string;
      const order =
        typeof x === 'string' && typeof y === 'string' ? compareCodePoints(x, y) : x < y ? -1 : x > y ? 1 : 0;
      return sign * order || compareCodePoints(a.id, b.id);
    })
    .map((document) => document.id);
}

/** Compares strings by Unicode code point, as Berth orders them. */
function compareCodePoints(a: string, b: string): number {
  const left = Array.from(a);
  const right = Array.from(b);
  const length = Math.min(left.length, right.length);
  for (let index = 0; index < length; index += 1) {
    const difference = (left[index]?.codePointAt(0) ?? 0) - (right[index]?.codePointAt(0) ?? 0);
    if (difference !== 0) return difference;
  }
  return left.length - right.length;
}

/** The ids of `documents`, in their order. */
export function ids(documents: readonly (Document | null)[]): (string | null)[] {
  return documents.map((document) => document?.id ?? null);
}

/** The ids of `documents` as a set (code point order), for results whose order is not the point. */
export function idSet(documents: readonly Document[]): string[] {
  return documents.map((document) => document.id).sort(compareCodePoints);
}

/**
 * Inserts `documents` in a fixed scrambled order, so that neither insertion
 * order nor its reverse coincides with id order or any expected sort order.
 */
function scrambled<T>(items: readonly T[]): T[] {
  const result = [...items];
  // A small deterministic PRNG keeps every run (and every adapter) identical.
  let state = 0x9e3779b9;
  for (let index = result.length - 1; index > 0; index -= 1) {
    state = (Math.imul(state ^ (state >>> 15), 0x2c1b3c6d) + 0x6d2b79f5) >>> 0;
    const other = state % (index + 1);
    const item = result[index] as T;
    result[index] = result[other] as T;
    result[other] = item;
  }
  return result;
}

/** A fresh repository holding `documents` (inserted in scrambled order). */
export async function seeded(
  context: ConformanceContext,
  documents: readonly LooseDocument[],
): Promise<Repository<LooseDocument>> {
  const repository = context.repository<LooseDocument>();
  await repository.insertMany(scrambled(documents) as NewDocument<LooseDocument>[]);
  return repository;
}

/** Asserts that `where` matches exactly `expected` (order ignored). */
export async function expectMatches(
  repository: Repository<LooseDocument>,
  where: Filter,
  expected: readonly string[],
): Promise<void> {
  const found = await repository.find({ where });
  expect(idSet(found), `ids matching ${render(where)}`).toEqual([...expected].sort(compareCodePoints));
}

/** Asserts that `work` rejects (or throws) a Berth error with `code`. */
export async function expectCode(work: () => unknown, code: BerthErrorCode): Promise<void> {
  let outcome: { readonly error: unknown } | undefined;
  try {
    await work();
  } catch (error) {
    outcome = { error };
  }
  expect(outcome, `expected a ${code} error, but the operation succeeded`).toBeDefined();
  const error = outcome?.error;
  expect(isBerthError(error) ? error.code : error, `expected a ${code} error`).toBe(code);
}

/** Collects an async iterator into an array. */
export async function collect<T>(iterator: AsyncIterable<T>): Promise<T[]> {
  const items: T[] = [];
  for await (const item of iterator) items.push(item);
  return items;
}

// JSON.stringify calls Date#toJSON before any replacer sees the Date, so Dates
// are rewritten first to stay recognisable in messages.
function dateAware(value: unknown): unknown {
  if (value instanceof Date) return Number.isNaN(value.getTime()) ? 'Date(invalid)' : `Date(${value.toISOString()})`;
  if (Array.isArray(value)) return value.map(dateAware);
  if (typeof value === 'object' && value !== null) {
    return Object.fromEntries(Object.entries(value).map(([key, item]) => [key, dateAware(item)]));
  }
  return value;
}

/** Renders any query input, Dates included, for assertion messages. */
export function render(value: unknown): string {
  // BigInts are among the invalid values the random groups feed in.
  return (
    JSON.stringify(dateAware(value), (_key, item) => (typeof item === 'bigint' ? `${item}n` : item)) ?? 'undefined'
  );
}

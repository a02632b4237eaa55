import type {
  DocumentScalar,
  DocumentValue,
  Filter,
  OrderBy,
  Query,
  SortKey,
  Update,
  UpdateOperators,
} from '@berth/core';
import { MAX_DATE_MS, MAX_NESTING_DEPTH, MIN_DATE_MS } from '@berth/core/adapter';
import fc from 'fast-check';
import { type ConformanceGroup, defineGroup } from '../harness.js';
import type { LooseDocument } from './query-fixtures.js';
import { expectSameAsReference, type Operation } from './reference-model.js';

// The model test runs random operations against the adapter and against a
// Map driven by core's reference evaluator, and compares every result. It is
// where adapters meet combinations no hand-written case thought of.

const DEFAULT_RUNS = 40;
const MAX_OPERATIONS = 30;

// ---------------------------------------------------------------------------
// Generators. Pools are small on purpose: ids collide (so ALREADY_EXISTS and
// NOT_FOUND happen), values repeat (so ties and equal groups happen), and every
// type meets every other in filters and sorts. Beside them, the edges of the
// value space: integers past 2^53 and 2^63, -0, subnormals, 1e308, one-ulp
// neighbours, strings differing only by trailing spaces, case or accent,
// astral characters, Dates from year 0 to 9999, nesting at the depth limit.

const ID_POOL = [
  'a',
  'a ',
  'a  ',
  'A',
  'b',
  'B',
  'c',
  'k1',
  'k10',
  'k2',
  'k20',
  'e\u0301',
  '\u00e9',
  '\uff5a',
  '😀',
  'x y',
  'x-y',
];
const ISO_POOL = ['1999-12-31T23:59:59.999Z', '2021-01-01T00:00:00.000Z', '2021-01-01T00:00:00.001Z'];
const NUMBER_POOL = [-1, 0, 1, 2.5, 10];
const EXTREME_NUMBER_POOL = [
  -0,
  5e-324,
  -5e-324,
  1e-40,
  1.0000000000000009e-300,
  1.000000000000001e-300,
  2 ** 53 + 2,
  2 ** 62,
  2 ** 62 + 1024,
  -(2 ** 62),
  2 ** 63,
  1e19,
  -1e19,
  1e308,
  -1e308,
  Number.MAX_VALUE,
];
const STRING_POOL = [
  '',
  '1',
  'a',
  'a ',
  'a  ',
  'A',
  'ab',
  'B',
  'e',
  'e\u0301',
  '\u00e9',
  'ss',
  '\u00df',
  '😀',
  '😁',
  '\uff5a',
  '%_',
  ISO_POOL[1] ?? '',
];

export const idArb: fc.Arbitrary<string> = fc.constantFrom(...ID_POOL);
const dateArb: fc.Arbitrary<Date> = fc.oneof(
  { weight: 3, arbitrary: fc.constantFrom(...ISO_POOL).map((iso) => new Date(iso)) },
  { weight: 1, arbitrary: fc.date({ min: new Date(MIN_DATE_MS), max: new Date(MAX_DATE_MS), noInvalidDate: true }) },
);
const numberArb: fc.Arbitrary<number> = fc.oneof(
  { weight: 6, arbitrary: fc.constantFrom(...NUMBER_POOL) },
  { weight: 2, arbitrary: fc.constantFrom(...EXTREME_NUMBER_POOL) },
  { weight: 1, arbitrary: fc.double({ noNaN: true, noDefaultInfinity: true }) },
);
const scalarArb: fc.Arbitrary<DocumentScalar> = fc.oneof(
  { weight: 2, arbitrary: fc.constantFrom<DocumentScalar>(null, true, false) },
  { weight: 4, arbitrary: numberArb },
  { weight: 5, arbitrary: fc.constantFrom(...STRING_POOL) },
  { weight: 2, arbitrary: dateArb },
);
const nestedArb: fc.Arbitrary<DocumentValue> = fc.record({ d: scalarArb, e: scalarArb }, { requiredKeys: [] });

/**
 * `{ d: { d: … { d: scalar, e: scalar } } }` of `depth` levels: near the
 * limit, a document holding it under `c` is as deep as allowed, or one level
 * too deep (a VALIDATION error on both sides).
 */
const deepArb: fc.Arbitrary<DocumentValue> = fc
  .tuple(fc.integer({ min: MAX_NESTING_DEPTH - 3, max: MAX_NESTING_DEPTH }), nestedArb)
  .map(([depth, bottom]) => {
    let value = bottom;
    for (let level = 1; level < depth; level++) value = { d: value };
    return value;
  });
const valueArb: fc.Arbitrary<DocumentValue> = fc.oneof(
  { weight: 6, arbitrary: scalarArb },
  { weight: 2, arbitrary: fc.array(scalarArb, { maxLength: 3 }) },
  { weight: 1, arbitrary: fc.array(nestedArb, { maxLength: 2 }) },
  { weight: 2, arbitrary: nestedArb },
);

export const documentArb: fc.Arbitrary<LooseDocument> = fc.record(
  {
    id: idArb,
    a: valueArb,
    b: valueArb,
    c: fc.oneof(
      { weight: 6, arbitrary: nestedArb },
      { weight: 2, arbitrary: valueArb },
      { weight: 1, arbitrary: deepArb },
    ),
    t: fc.oneof({ weight: 4, arbitrary: fc.array(scalarArb, { maxLength: 4 }) }, { weight: 1, arbitrary: scalarArb }),
  },
  { requiredKeys: ['id'] },
);

// 'a.d' walks through whatever `a` holds, which is usually not an object.
export const FILTER_PATHS: readonly string[] = ['a', 'b', 'c', 'c.d', 'c.e', 't', 'id', 'a.d'];
const SORT_PATHS = ['a', 'b', 'c', 'c.d', 'c.e', 't', 'id'];
const UPDATE_PATHS = ['a', 'b', 'c.d', 'c.e'];

const rangeOperandArb: fc.Arbitrary<number | string | Date> = fc.oneof(
  numberArb,
  fc.constantFrom(...STRING_POOL),
  dateArb,
);
const scalarListArb = fc.array(scalarArb, { maxLength: 4 });

const conditionArb: fc.Arbitrary<Filter[string]> = fc.oneof(
  { weight: 3, arbitrary: scalarArb },
  { weight: 1, arbitrary: fc.record({ $eq: scalarArb }) },
  { weight: 2, arbitrary: fc.record({ $ne: scalarArb }) },
  { weight: 1, arbitrary: fc.record({ $gt: rangeOperandArb }) },
  { weight: 1, arbitrary: fc.record({ $gte: rangeOperandArb }) },
  { weight: 1, arbitrary: fc.record({ $lt: rangeOperandArb }) },
  { weight: 1, arbitrary: fc.record({ $lte: rangeOperandArb }) },
  { weight: 2, arbitrary: fc.record({ $in: scalarListArb }) },
  { weight: 2, arbitrary: fc.record({ $nin: scalarListArb }) },
  { weight: 2, arbitrary: fc.record({ $exists: fc.boolean() }) },
  {
    weight: 2,
    arbitrary: fc.record({
      $startsWith: fc.constantFrom('', 'a', 'a ', 'A', 'B', '1', '%', '_', 'e', '\u00e9', '😀', '2021'),
    }),
  },
  { weight: 2, arbitrary: fc.record({ $contains: scalarArb }) },
  {
    weight: 2,
    arbitrary: fc
      .record(
        { $gte: rangeOperandArb, $lt: rangeOperandArb, $ne: scalarArb, $exists: fc.boolean() },
        { requiredKeys: [] },
      )
      .filter((operators) => Object.keys(operators).length > 0),
  },
);

// One field condition mostly: two conjoined conditions on random values rarely match anything.
const fieldFilterArb: fc.Arbitrary<Filter> = fc.oneof(
  { weight: 3, arbitrary: fc.dictionary(fc.constantFrom(...FILTER_PATHS), conditionArb, { minKeys: 1, maxKeys: 1 }) },
  { weight: 1, arbitrary: fc.dictionary(fc.constantFrom(...FILTER_PATHS), conditionArb, { minKeys: 2, maxKeys: 2 }) },
);

function filterArb(depth: number): fc.Arbitrary<Filter> {
  if (depth === 0) return fieldFilterArb;
  const inner = filterArb(depth - 1);
  const list = fc.array(inner, { maxLength: 3 });
  return fc.oneof(
    { weight: 8, arbitrary: fieldFilterArb },
    { weight: 1, arbitrary: fc.record({ $and: list }) },
    { weight: 2, arbitrary: fc.record({ $or: list }) },
    { weight: 2, arbitrary: fc.record({ $not: inner }) },
    {
      weight: 1,
      arbitrary: fc.tuple(fieldFilterArb, inner).map(([fields, nested]): Filter => ({ ...fields, $or: [nested] })),
    },
  );
}

export const whereArb: fc.Arbitrary<Filter | undefined> = fc.option(filterArb(2), { nil: undefined, freq: 3 });

const sortKeyArb: fc.Arbitrary<string | SortKey> = fc.oneof(
  fc.constantFrom(...SORT_PATHS),
  fc.record(
    { field: fc.constantFrom(...SORT_PATHS), direction: fc.constantFrom<'asc' | 'desc'>('asc', 'desc') },
    { requiredKeys: ['field'] },
  ),
);
export const orderByArb: fc.Arbitrary<OrderBy | undefined> = fc.option(
  fc.oneof(sortKeyArb, fc.array(sortKeyArb, { minLength: 1, maxLength: 3 })),
  { nil: undefined, freq: 4 },
);

// Mostly valid bounds, sometimes invalid ones: both sides must then say VALIDATION.
const limitArb = fc.oneof(
  { weight: 15, arbitrary: fc.integer({ min: 0, max: 6 }) },
  { weight: 1, arbitrary: fc.constantFrom(-1, 1.5) },
);
const offsetArb = fc.oneof(
  { weight: 15, arbitrary: fc.integer({ min: 0, max: 3 }) },
  { weight: 1, arbitrary: fc.constantFrom(-1, 0.5) },
);

export const queryArb: fc.Arbitrary<Query> = fc.record(
  { where: whereArb, orderBy: orderByArb, limit: limitArb, offset: offsetArb },
  { requiredKeys: [] },
);

type UpdateChoice =
  | { readonly kind: 'set'; readonly value: DocumentValue }
  | { readonly kind: 'unset' }
  | { readonly kind: 'inc'; readonly amount: number };

const updateChoiceArb: fc.Arbitrary<UpdateChoice> = fc.oneof(
  fc.record({ kind: fc.constant('set' as const), value: valueArb }),
  fc.record({ kind: fc.constant('unset' as const) }),
  // Dyadic amounts keep sums exact in every engine (JSONB numerics included).
  fc.record({ kind: fc.constant('inc' as const), amount: fc.constantFrom(1, -2, 0.5) }),
);

function toOperators(choices: readonly (UpdateChoice | undefined)[]): UpdateOperators {
  const $set: Record<string, DocumentValue> = {};
  const $inc: Record<string, number> = {};
  const $unset: string[] = [];
  choices.forEach((choice, index) => {
    const path = UPDATE_PATHS[index] as string;
    if (choice?.kind === 'set') $set[path] = choice.value;
    else if (choice?.kind === 'inc') $inc[path] = choice.amount;
    else if (choice?.kind === 'unset') $unset.push(path);
  });
  return {
    ...(Object.keys($set).length > 0 ? { $set } : {}),
    ...(Object.keys($inc).length > 0 ? { $inc } : {}),
    ...($unset.length > 0 ? { $unset } : {}),
  };
}

export const updateArb: fc.Arbitrary<Update<LooseDocument>> = fc.oneof(
  fc
    .record({ a: valueArb, b: valueArb, 'c.d': valueArb, 'c.e': scalarArb }, { requiredKeys: [] })
    .filter((patch) => Object.keys(patch).length > 0),
  fc
    .tuple(...UPDATE_PATHS.map(() => fc.option(updateChoiceArb, { nil: undefined })))
    .filter((choices) => choices.some((choice) => choice !== undefined))
    .map(toOperators),
);

export const operationArb: fc.Arbitrary<Operation> = fc.oneof(
  // Mostly distinct ids so that most batches land; a duplicate within a batch still happens now and then.
  {
    weight: 3,
    arbitrary: fc.record({
      kind: fc.constant('insertMany' as const),
      documents: fc.oneof(
        { weight: 4, arbitrary: fc.uniqueArray(documentArb, { selector: (document) => document.id, maxLength: 3 }) },
        { weight: 1, arbitrary: fc.array(documentArb, { maxLength: 3 }) },
      ),
    }),
  },
  { weight: 3, arbitrary: fc.record({ kind: fc.constant('update' as const), id: idArb, update: updateArb }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('updateMany' as const), where: whereArb, update: updateArb }) },
  { weight: 2, arbitrary: fc.record({ kind: fc.constant('upsert' as const), document: documentArb }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('replace' as const), document: documentArb }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constantFrom('delete' as const, 'get' as const), id: idArb }) },
  // Always filtered: deleting everything would leave the rest of the run with nothing to query.
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('deleteMany' as const), where: filterArb(2) }) },
  { weight: 5, arbitrary: fc.record({ kind: fc.constant('find' as const), query: queryArb }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('findOne' as const), query: queryArb }) },
  {
    weight: 2,
    arbitrary: fc.record({
      kind: fc.constant('findPage' as const),
      query: fc.record({ where: whereArb, orderBy: orderByArb }, { requiredKeys: [] }),
      pageSize: fc.integer({ min: 1, max: 4 }),
    }),
  },
  { weight: 2, arbitrary: fc.record({ kind: fc.constantFrom('count' as const, 'exists' as const), where: whereArb }) },
  {
    weight: 2,
    arbitrary: fc.record({
      kind: fc.constant('countBy' as const),
      field: fc.constantFrom(...FILTER_PATHS),
      where: whereArb,
    }),
  },
);

const scenarioArb = fc.tuple(
  fc.uniqueArray(documentArb, { selector: (document) => document.id, minLength: 3, maxLength: 8, size: 'max' }),
  fc.array(operationArb, { minLength: 1, maxLength: MAX_OPERATIONS, size: 'max' }),
);

/**
 * Random operations (fast-check) must give the same results, order and errors as a reference model of a
 * repository.
 *
 * ### Examples
 * ```ts
 * import { type ConformanceOptions, modelGroup, registerGroup } from '@berth/conformance-tests';
 *
 * declare const options: ConformanceOptions; // what your adapter passes to repositoryConformance
 * registerGroup(modelGroup, options);
 * ```
 */
export const modelGroup: ConformanceGroup = defineGroup('model', [
  {
    name: 'random operations give the same results, order and errors as the reference model',
    run: (context) => expectSameAsReference(context, scenarioArb, DEFAULT_RUNS),
  },
]);

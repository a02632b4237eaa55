import type { Query } from '@berth/core';
import { MAX_NESTING_DEPTH } from '@berth/core/adapter';
import fc from 'fast-check';
import { type ConformanceGroup, defineGroup } from '../harness.js';
import {
  documentArb,
  FILTER_PATHS,
  idArb,
  operationArb,
  orderByArb,
  queryArb,
  updateArb,
  whereArb,
} from './model-group.js';
import type { LooseDocument } from './query-fixtures.js';
import { expectSameAsReference, type Operation } from './reference-model.js';

// The differential test replays one random sequence of operations, valid and
// invalid mixed, on the adapter and on core's reference model. Where the
// model test explores combinations of valid data, this one makes sure that
// bad input fails the same way everywhere: an operation that fails on one
// side must fail with the same error code on the other, and nothing it
// touched may change (later steps would show it).

const DEFAULT_RUNS = 60;
const MAX_OPERATIONS = 40;

function nested(depth: number): unknown {
  let value: unknown = 1;
  for (let level = 0; level < depth; level++) value = { d: value };
  return value;
}

class Point {
  x = 1;
}

/** Values the value rules refuse, each a VALIDATION error wherever it appears in a document. */
const invalidValueArb: fc.Arbitrary<unknown> = fc.constantFrom<unknown>(
  Number.NaN,
  Number.POSITIVE_INFINITY,
  Number.NEGATIVE_INFINITY,
  BigInt(1),
  [1, undefined],
  'a\u0000b',
  'lone \ud800 surrogate',
  new Date(Number.NaN),
  new Date(Date.UTC(10_000, 0, 1)),
  new Date(Date.UTC(-1, 11, 31)),
  new Map([['k', 1]]),
  new Set([1]),
  new Point(),
  { $date: '2021-01-01T00:00:00.000Z' },
  JSON.parse('{"__proto__": 1}') as unknown,
  nested(MAX_NESTING_DEPTH),
);

const invalidIdArb: fc.Arbitrary<unknown> = fc.constantFrom<unknown>('', 'x'.repeat(257), 5, null, 'a\u0000', '\udc00');

const insertArb: fc.Arbitrary<Operation> = fc.oneof(
  { weight: 2, arbitrary: documentArb.map((document) => ({ kind: 'insert' as const, document })) },
  {
    weight: 2,
    arbitrary: fc
      .tuple(documentArb, invalidValueArb, fc.constantFrom('a', 'b'), fc.boolean())
      .map(([document, bad, field, deep]) => ({
        kind: 'insert' as const,
        document: { ...document, [field]: deep ? { d: [bad] } : bad },
      })),
  },
  {
    weight: 1,
    arbitrary: fc
      .tuple(documentArb, invalidIdArb)
      .map(([document, id]) => ({ kind: 'insert' as const, document: { ...document, id } })),
  },
);

/** Updates the update rules refuse before looking at any document. */
const invalidUpdateArb: fc.Arbitrary<LooseDocument> = fc.oneof(
  fc.constantFrom<unknown>(
    { $inc: { a: 'x' } },
    { $inc: { a: Number.NaN } },
    { $set: { id: 'other' } },
    { $unset: ['id'] },
    { $push: { a: 1 } },
    { $set: { a: 1 }, b: 2 },
    { $set: { 'a..b': 1 } },
    { $set: { a: 1 }, $unset: ['a'] },
    { 'c.__proto__.x': 1 },
  ),
  invalidValueArb.map((bad) => ({ $set: { 'c.d': bad } })),
  invalidValueArb.map((bad) => ({ b: bad })),
) as fc.Arbitrary<LooseDocument>;

const seventeenSegments = Array.from({ length: 17 }, () => 'a').join('.');

/** Filters the filter rules refuse. */
const invalidWhereArb = fc.constantFrom<unknown>(
  { a: { $regex: 'x' } },
  { a: {} },
  { a: [1] },
  { a: { $eq: { x: 1 } } },
  { a: { $gt: true } },
  { a: { $lt: null } },
  { a: { $in: 1 } },
  { a: { $in: Array.from({ length: 1001 }, (_, index) => index) } },
  { a: { $exists: 1 } },
  { a: { $startsWith: 1 } },
  { a: { $contains: [1] } },
  { 'a..b': 1 },
  { [seventeenSegments]: 1 },
  { 'c.__proto__': 1 },
  { $nor: [{ a: 1 }] },
  { $and: { a: 1 } },
  { $or: 'a' },
) as fc.Arbitrary<Query['where']>;

const invalidQueryArb: fc.Arbitrary<Query> = fc.oneof(
  fc.record({ where: invalidWhereArb, orderBy: orderByArb }, { requiredKeys: ['where'] }),
  fc.record({
    where: whereArb,
    orderBy: fc.constantFrom<unknown>({ field: 'a', direction: 'up' }, 'a..b', ['a', 5], { field: '' }),
  }) as fc.Arbitrary<Query>,
  fc.record({ where: whereArb, limit: fc.constantFrom(-1, 1.5, Number.NaN) }),
  fc.record({ where: whereArb, offset: fc.constantFrom(-1, 0.5) }),
);

const invalidOperationArb: fc.Arbitrary<Operation> = fc.oneof(
  fc.record({ kind: fc.constant('update' as const), id: idArb, update: invalidUpdateArb }),
  fc.record({ kind: fc.constant('updateMany' as const), where: whereArb, update: invalidUpdateArb }),
  fc.record({ kind: fc.constant('updateMany' as const), where: invalidWhereArb, update: updateArb }),
  fc.record({ kind: fc.constant('deleteMany' as const), where: invalidWhereArb }),
  fc.record({ kind: fc.constantFrom('find' as const, 'findOne' as const), query: invalidQueryArb }),
  fc.record({ kind: fc.constantFrom('count' as const, 'exists' as const), where: invalidWhereArb }),
  fc.record({
    kind: fc.constant('countBy' as const),
    field: fc.constantFrom('', 'a..b', 'x'.repeat(65), '__proto__', 'c.__proto__', seventeenSegments),
    where: whereArb,
  }),
  fc.record({
    kind: fc.constant('findPageAt' as const),
    query: fc.record({ where: whereArb, orderBy: orderByArb }, { requiredKeys: [] }),
    cursor: fc.constantFrom('', 'garbage', '!!!', 'eyJxIjoiIn0'),
  }),
  fc.record({
    kind: fc.constant('replace' as const),
    document: fc
      .tuple(documentArb, invalidValueArb)
      .map(([document, bad]) => ({ ...document, c: bad }) as LooseDocument),
  }),
  fc.record({
    kind: fc.constant('upsert' as const),
    document: fc
      .tuple(documentArb, invalidValueArb)
      .map(([document, bad]) => ({ ...document, a: [bad] }) as LooseDocument),
  }),
);

const stepArb: fc.Arbitrary<Operation> = fc.oneof(
  { weight: 5, arbitrary: operationArb },
  { weight: 2, arbitrary: insertArb },
  {
    weight: 1,
    arbitrary: fc.record({ kind: fc.constant('getMany' as const), ids: fc.array(idArb, { maxLength: 4 }) }),
  },
  {
    weight: 1,
    arbitrary: fc.record({
      kind: fc.constant('countBy' as const),
      field: fc.constantFrom(...FILTER_PATHS),
      where: whereArb,
    }),
  },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('find' as const), query: queryArb }) },
  { weight: 3, arbitrary: invalidOperationArb },
);

const scenarioArb = fc.tuple(
  fc.uniqueArray(documentArb, { selector: (document) => document.id, minLength: 3, maxLength: 8, size: 'max' }),
  fc.array(stepArb, { minLength: 1, maxLength: MAX_OPERATIONS, size: 'max' }),
);

/**
 * Random sequences of valid and invalid operations (fast-check) must give the same results, order and error
 * codes as a reference run.
 *
 * ### Examples
 * ```ts
 * import { type ConformanceOptions, differentialGroup, registerGroup } from '@berth/conformance-tests';
 *
 * declare const options: ConformanceOptions; // what your adapter passes to repositoryConformance
 * registerGroup(differentialGroup, options);
 * ```
 */
export const differentialGroup: ConformanceGroup = defineGroup('differential', [
  {
    name: 'random valid and invalid operations give the same results, order and error codes as the reference',
    run: (context) => expectSameAsReference(context, scenarioArb, DEFAULT_RUNS),
  },
]);

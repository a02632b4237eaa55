import type { Repository, RepositoryOptions } from '@berth/core';
import { expect } from 'vitest';
import { type ConformanceContext, type ConformanceGroup, defineGroup } from '../harness.js';
import {
  expectBerthError,
  expectRepositoryRefused,
  expectUnchanged,
  invalid,
  type LooseDocument,
  snapshot,
} from './assertions.js';

/*
 * Every public entry point fed values of the wrong type. Each call must fail
 * with VALIDATION (a Berth error, never a TypeError from deep inside), reject
 * its promise rather than throw synchronously, and write nothing.
 */

/** Values no argument of any method accepts where an object, array, string or function is expected. */
const NOT_AN_OBJECT: readonly (readonly [string, () => unknown])[] = [
  ['null', () => null],
  ['a number', () => 5],
  ['a string', () => 'where'],
  ['a boolean', () => true],
  ['a BigInt', () => 10n],
  ['a Symbol', () => Symbol('s')],
  ['a function', () => () => ({})],
];

const NOT_A_STRING: readonly (readonly [string, () => unknown])[] = [
  ['undefined', () => undefined],
  ['null', () => null],
  ['a number', () => 5],
  ['a boolean', () => false],
  ['a BigInt', () => 10n],
  ['a Symbol', () => Symbol('id')],
  ['an array', () => ['a']],
  ['an object', () => ({ id: 'a' })],
  ['a String object', () => new String('a')],
  ['a function', () => () => 'a'],
];

const NOT_AN_ARRAY: readonly (readonly [string, () => unknown])[] = [
  ['undefined', () => undefined],
  ...NOT_AN_OBJECT,
  ['an object', () => ({ 0: { id: 'a' }, length: 1 })],
  ['a Set', () => new Set([{ id: 'a' }])],
];

/** Per-call options that are not `{ signal?: AbortSignal }`-shaped. */
const BAD_OPTIONS: readonly (readonly [string, () => unknown])[] = [
  ...NOT_AN_OBJECT,
  ['an array', () => []],
  ['a signal that is a string', () => ({ signal: 'abort' })],
  ['a signal that is a number', () => ({ signal: 1 })],
  ['a signal that is null', () => ({ signal: null })],
  ['a signal that is a plain object', () => ({ signal: { aborted: false } })],
  ['a signal that is an AbortController', () => ({ signal: new AbortController() })],
];

/** Calls `action` and asserts it returns a promise rejected with VALIDATION, naming `label` when it does not. */
async function expectRefused(label: string, action: () => unknown): Promise<void> {
  let result: unknown;
  try {
    result = action();
  } catch (error) {
    expect.unreachable(`${label} threw synchronously instead of rejecting: ${String(error)}`);
  }
  try {
    await expectBerthError(Promise.resolve(result), 'VALIDATION');
  } catch (error) {
    throw new Error(`${label}: ${(error as Error).message}`, { cause: error });
  }
}

/** Drains an async iterator: `iterate` reports errors on the first `next()`. */
async function drain(iterator: AsyncIterableIterator<unknown>): Promise<void> {
  for await (const _ of iterator) {
    // consumed for its errors only
  }
}

async function withKeep(context: ConformanceContext): Promise<Repository<LooseDocument>> {
  const repository = context.repository<LooseDocument>();
  await repository.insert({ id: 'keep', n: 1 });
  return repository;
}

/** A repository method as the cases call it: any arguments, as a user's untyped code could. */
type AnyCall = (repository: Repository<LooseDocument>, value: unknown) => unknown;

const r = (repository: Repository<LooseDocument>): Record<string, (...args: unknown[]) => unknown> =>
  repository as unknown as Record<string, (...args: unknown[]) => unknown>;

/** Each method with a place for a bad options object. */
const WITH_OPTIONS: readonly (readonly [string, AnyCall])[] = [
  ['get', (repository, options) => r(repository).get?.('keep', options)],
  ['getEntry', (repository, options) => r(repository).getEntry?.('keep', options)],
  ['getMany', (repository, options) => r(repository).getMany?.(['keep'], options)],
  ['find', (repository, options) => r(repository).find?.({}, options)],
  ['findPage', (repository, options) => r(repository).findPage?.({ limit: 1 }, options)],
  ['findOne', (repository, options) => r(repository).findOne?.({}, options)],
  ['count', (repository, options) => r(repository).count?.({}, options)],
  ['countBy', (repository, options) => r(repository).countBy?.('n', {}, options)],
  ['exists', (repository, options) => r(repository).exists?.({}, options)],
  ['explain', (repository, options) => r(repository).explain?.({}, options)],
  ['iterate', (repository, options) => drain(repository.iterate({}, invalid(options)))],
  ['insert', (repository, options) => r(repository).insert?.({ id: 'new', n: 2 }, options)],
  ['replace', (repository, options) => r(repository).replace?.({ id: 'keep', n: 2 }, options)],
  ['upsert', (repository, options) => r(repository).upsert?.({ id: 'new', n: 2 }, options)],
  ['update', (repository, options) => r(repository).update?.('keep', { n: 2 }, options)],
  ['delete', (repository, options) => r(repository).delete?.('keep', options)],
  ['insertMany', (repository, options) => r(repository).insertMany?.([{ id: 'new', n: 2 }], options)],
  ['upsertMany', (repository, options) => r(repository).upsertMany?.([{ id: 'keep', n: 2 }], options)],
  ['updateMany', (repository, options) => r(repository).updateMany?.({}, { n: 2 }, options)],
  ['deleteMany', (repository, options) => r(repository).deleteMany?.({}, options)],
];

/**
 * Arguments of the wrong type (an id that is not a string, a query that is not an object, options or a signal
 * of the wrong kind) are refused with `VALIDATION`, writing nothing.
 *
 * ### Examples
 * ```ts
 * import { argumentsGroup, type ConformanceOptions, registerGroup } from '@berth/conformance-tests';
 *
 * declare const options: ConformanceOptions; // what your adapter passes to repositoryConformance
 * registerGroup(argumentsGroup, options);
 * ```
 */
export const argumentsGroup: ConformanceGroup = defineGroup('arguments', [
  {
    name: 'get, getEntry, update and delete refuse an id that is not a string with VALIDATION',
    async run(context) {
      const repository = await withKeep(context);
      const before = await snapshot(repository);
      for (const [label, make] of NOT_A_STRING) {
        await expectRefused(`get(${label})`, () => r(repository).get?.(make()));
        await expectRefused(`getEntry(${label})`, () => r(repository).getEntry?.(make()));
        await expectRefused(`update(${label})`, () => r(repository).update?.(make(), { n: 2 }));
        await expectRefused(`delete(${label})`, () => r(repository).delete?.(make()));
      }
      await expectUnchanged(repository, before);
    },
  },
  {
    name: 'getMany refuses anything but an array of string ids with VALIDATION',
    async run(context) {
      const repository = await withKeep(context);
      for (const [label, make] of NOT_AN_ARRAY) {
        await expectRefused(`getMany(${label})`, () => r(repository).getMany?.(make()));
      }
      for (const [label, make] of NOT_A_STRING) {
        await expectRefused(`getMany(['keep', ${label}])`, () => r(repository).getMany?.(['keep', make()]));
      }
    },
  },
  {
    name: 'queries refuse a query or filter that is not an object with VALIDATION',
    async run(context) {
      const repository = await withKeep(context);
      const before = await snapshot(repository);
      for (const [label, make] of [...NOT_AN_OBJECT, ['an array', () => [{ n: 1 }]] as const]) {
        await expectRefused(`find(${label})`, () => r(repository).find?.(make()));
        await expectRefused(`findPage(${label})`, () => r(repository).findPage?.(make()));
        await expectRefused(`findOne(${label})`, () => r(repository).findOne?.(make()));
        await expectRefused(`explain(${label})`, () => r(repository).explain?.(make()));
        await expectRefused(`iterate(${label})`, () => drain(repository.iterate(invalid(make()))));
        await expectRefused(`count(${label})`, () => r(repository).count?.(make()));
        await expectRefused(`exists(${label})`, () => r(repository).exists?.(make()));
        await expectRefused(`countBy('n', ${label})`, () => r(repository).countBy?.('n', make()));
        await expectRefused(`updateMany(${label})`, () => r(repository).updateMany?.(make(), { n: 2 }));
        await expectRefused(`deleteMany(${label})`, () => r(repository).deleteMany?.(make()));
        await expectRefused(`find({ where: ${label} })`, () => r(repository).find?.({ where: make() }));
        if (label !== 'a string') {
          await expectRefused(`find({ orderBy: ${label} })`, () => r(repository).find?.({ orderBy: make() }));
        }
        if (label !== 'a number') {
          await expectRefused(`find({ limit: ${label} })`, () => r(repository).find?.({ limit: make() }));
        }
        await expectRefused(`findPage({ cursor: ${label} })`, () => r(repository).findPage?.({ cursor: make() }));
      }
      for (const [label, make] of NOT_A_STRING) {
        await expectRefused(`countBy(${label})`, () => r(repository).countBy?.(make()));
      }
      await expectUnchanged(repository, before);
    },
  },
  {
    name: 'writes refuse a document, documents or an update of the wrong type with VALIDATION, writing nothing',
    async run(context) {
      const repository = await withKeep(context);
      const before = await snapshot(repository);
      const notADocument = [
        ...NOT_AN_OBJECT,
        ['undefined', () => undefined],
        ['an array', () => [{ id: 'a' }]],
      ] as const;
      for (const [label, make] of notADocument) {
        await expectRefused(`insert(${label})`, () => r(repository).insert?.(make()));
        await expectRefused(`replace(${label})`, () => r(repository).replace?.(make()));
        await expectRefused(`upsert(${label})`, () => r(repository).upsert?.(make()));
        await expectRefused(`update('keep', ${label})`, () => r(repository).update?.('keep', make()));
        await expectRefused(`updateMany({}, ${label})`, () => r(repository).updateMany?.({}, make()));
        await expectRefused(`insertMany([${label}])`, () => r(repository).insertMany?.([make()]));
        await expectRefused(`upsertMany([${label}])`, () => r(repository).upsertMany?.([make()]));
      }
      for (const [label, make] of NOT_AN_ARRAY) {
        await expectRefused(`insertMany(${label})`, () => r(repository).insertMany?.(make()));
        await expectRefused(`upsertMany(${label})`, () => r(repository).upsertMany?.(make()));
      }
      await expectRefused(`update('keep', { $unset: 'n' })`, () => r(repository).update?.('keep', { $unset: 'n' }));
      await expectRefused(`update('keep', { $inc: ['n'] })`, () => r(repository).update?.('keep', { $inc: ['n'] }));
      await expectRefused(`update('keep', { $set: 5 })`, () => r(repository).update?.('keep', { $set: 5 }));
      await expectUnchanged(repository, before);
    },
  },
  {
    name: 'every method, connect and health refuse options that are not an object, or a signal that is not an AbortSignal, with VALIDATION, writing nothing',
    async run(context) {
      const repository = await withKeep(context);
      const before = await snapshot(repository);
      for (const [method, call] of WITH_OPTIONS) {
        for (const [label, make] of BAD_OPTIONS) {
          await expectRefused(`${method}(…, ${label})`, () => call(repository, make()));
        }
      }
      for (const method of ['replace', 'upsert', 'update', 'delete'] as const) {
        const call = WITH_OPTIONS.find(([name]) => name === method)?.[1] as AnyCall;
        for (const expectedVersion of ['1', null, 1.5, 0, Number.NaN]) {
          await expectRefused(`${method}(…, { expectedVersion: ${String(expectedVersion)} })`, () =>
            call(repository, { expectedVersion }),
          );
        }
      }
      const backend = context.backend as unknown as Record<string, (...args: unknown[]) => unknown>;
      for (const [label, make] of BAD_OPTIONS) {
        await expectRefused(`backend.connect(${label})`, () => backend.connect?.(make()));
        await expectRefused(`backend.health(${label})`, () => backend.health?.(make()));
      }
      await expectRefused('iterate({}, { batchSize: "10" })', () =>
        drain(repository.iterate({}, invalid({ batchSize: '10' }))),
      );
      await expectUnchanged(repository, before);
    },
  },
  {
    name: 'backend.transaction refuses a callback that is not a function, and bad options, with VALIDATION, writing nothing',
    requires: (capabilities) => capabilities.repository.transactions !== 'none',
    async run(context) {
      const repository = await withKeep(context);
      const before = await snapshot(repository);
      const transaction = context.backend.transaction.bind(context.backend) as (...args: unknown[]) => unknown;
      for (const [label, make] of [
        ...NOT_AN_OBJECT,
        ['undefined', () => undefined],
        ['an object', () => ({})],
      ] as const) {
        if (label === 'a function') continue;
        await expectRefused(`transaction(${label})`, () => transaction(make()));
      }
      const work = async (tx: { repository(name: string): Repository<LooseDocument> }) => {
        await tx.repository(repository.name).insert({ id: 'written', n: 9 });
      };
      for (const [label, make] of BAD_OPTIONS) {
        await expectRefused(`transaction(work, ${label})`, () => transaction(work, make()));
      }
      await expectUnchanged(repository, before);
    },
  },
  {
    name: 'backend.repository and tx.repository refuse a name that is not a string and options of the wrong shape with VALIDATION',
    async run(context) {
      const badOptions: readonly unknown[] = [
        null,
        5,
        'indexes',
        [],
        { indexes: 5 },
        { indexes: [5] },
        { indexes: { field: 'n', type: 'number' } },
        { indexes: [{ field: 5, type: 'number' }] },
        { schema: 5 },
        { schema: {} },
        { schema: { '~standard': { validate: 'yes' } } },
      ];
      for (const [, make] of NOT_A_STRING) {
        await expectRepositoryRefused(context.backend, invalid(make()), 'VALIDATION');
      }
      for (const options of badOptions) {
        await expectRepositoryRefused(
          context.backend,
          context.collectionName(),
          'VALIDATION',
          invalid<RepositoryOptions<LooseDocument>>(options),
        );
      }
      if (context.capabilities.repository.transactions === 'none') return;
      await context.backend
        .transaction(async (tx) => {
          for (const [, make] of NOT_A_STRING) {
            await expectBerthError(async () => tx.repository(invalid(make())).get('a'), 'VALIDATION');
          }
          for (const options of badOptions) {
            await expectBerthError(
              async () =>
                tx.repository(context.collectionName(), invalid<RepositoryOptions<LooseDocument>>(options)).get('a'),
              'VALIDATION',
            );
          }
          throw new Error('roll back');
        })
        .catch((error: unknown) => {
          if ((error as Error).message !== 'roll back') throw error;
        });
    },
  },
]);

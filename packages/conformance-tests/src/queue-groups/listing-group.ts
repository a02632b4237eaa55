import type { DocumentValue, ListJobsOptions, QueueBackend } from '@berth/core';
import { MAX_JOBS_EXAMINED } from '@berth/core/adapter';
import { expect } from 'vitest';
import { expectBerthError, invalid } from '../groups/assertions.js';
import { type ConformanceGroup, defineQueueGroup, type QueueConformanceContext } from '../harness.js';
import { ALL_STATES, jobInState, jobsById, listAll, listingOrder, repeated } from './admin-fixtures.js';
import { dequeueNow, hasQueue, jobOf } from './queue-assertions.js';

interface Item {
  kind: string;
  n: number;
  [key: string]: DocumentValue;
}

/** Values shaped like SQL, JSON-path, LIKE and regex injections: each must match only itself. */
const INJECTION_VALUES: readonly string[] = [
  "' OR '1'='1",
  '"; DROP TABLE _berth_jobs; --',
  '%',
  '_',
  '.*',
  '$.kind',
  '\\',
  '{"$gt":""}',
];

function base64Url(text: string): string {
  return btoa(String.fromCharCode(...new TextEncoder().encode(text)))
    .replaceAll('+', '-')
    .replaceAll('/', '_')
    .replaceAll('=', '');
}

/** Cursors built by hand from a real one: its listing's tag kept, the position made nonsense. */
function forgedCursors(cursor: string): string[] {
  const real = JSON.parse(
    new TextDecoder().decode(
      Uint8Array.from(atob(cursor.replaceAll('-', '+').replaceAll('_', '/')), (c) => c.charCodeAt(0)),
    ),
  );
  return [
    { ...real, v: ['1970-01-01'] },
    { ...real, v: [null] },
    { ...real, v: [] },
    { ...real, v: [0, 0] },
    { ...real, i: 42 },
    { ...real, q: 'another listing' },
    { v: real.v, i: real.i },
  ].map((forged) => base64Url(JSON.stringify(forged)));
}

/**
 * `listJobs`: filtering by state, both orders, limits, and cursors that neither skip nor repeat jobs while the
 * queue changes.
 *
 * ### Examples
 * ```ts
 * import type { QueueBackend } from '@berth/core';
 * import { type ConformanceOptions, queueListingGroup, registerGroup } from '@berth/conformance-tests';
 *
 * declare const options: ConformanceOptions<QueueBackend>; // what your adapter passes to queueConformance
 * registerGroup(queueListingGroup, options);
 * ```
 */
export const queueListingGroup: ConformanceGroup<QueueBackend, QueueConformanceContext> = defineQueueGroup(
  'queue-listing',
  [
    {
      name: 'listJobs with a state lists exactly the jobs in that state, for every state; without one, every job',
      requires: hasQueue,
      async run(context) {
        const queue = context.queue<Item>();
        const byState = new Map<string, string[]>();
        for (const state of ALL_STATES) {
          const ids = [];
          for (let n = 0; n < 3; n++) ids.push(await jobInState(queue, state, { kind: state, n }));
          byState.set(state, ids);
        }
        const delayed = (await queue.enqueue({ kind: 'waiting', n: 9 }, { delayMs: 60_000 })).id;
        byState.get('waiting')?.push(delayed);
        for (const state of ALL_STATES) {
          const { jobs } = await listAll(queue, { state, limit: 2 });
          expect(jobs.map((job) => job.id).sort(), state).toStrictEqual([...(byState.get(state) ?? [])].sort());
          for (const job of jobs) expect(job.state, job.id).toBe(state);
        }
        const { jobs } = await listAll(queue, { limit: 4 });
        expect(jobs.map((job) => job.id).sort()).toStrictEqual([...byState.values()].flat().sort());
        const other = context.backend.queue<Item>(context.queueName('other'));
        await other.enqueue({ kind: 'other', n: 0 });
        expect((await queue.listJobs({ limit: 1_000 })).jobs).toHaveLength(16);
      },
    },
    {
      name: 'newest lists by createdAt then id descending, oldest ascending; ties in createdAt are broken by id in code-unit order',
      requires: hasQueue,
      async run(context) {
        const queue = context.queue<Item>();
        const ids: string[] = [];
        // One enqueueMany stamps many jobs in the same millisecond: the ties the id must break.
        for (let round = 0; round < 3; round++) {
          const batch = await queue.enqueueMany(
            Array.from({ length: 15 }, (_, n) => ({ payload: { kind: 'batch', n: round * 100 + n } })),
          );
          ids.push(...batch.map((result) => result.id));
          ids.push((await queue.enqueue({ kind: 'single', n: round })).id);
        }
        const jobs = await jobsById(queue, ids);
        for (const order of ['newest', 'oldest'] as const) {
          for (const limit of [1, 7, 48, 1_000]) {
            const listed = await listAll(queue, { order, limit });
            expect(
              listed.jobs.map((job) => job.id),
              `${order}, limit ${limit}`,
            ).toStrictEqual(listingOrder(jobs, order));
          }
        }
        expect((await queue.listJobs({ limit: 1_000 })).jobs.map((job) => job.id)).toStrictEqual(
          listingOrder(jobs, 'newest'),
        );
        const ties = jobs.filter((job) => jobs.some((other) => other !== job && +other.createdAt === +job.createdAt));
        expect(ties.length, 'no two jobs shared a createdAt, so the tie-break was not exercised').toBeGreaterThan(0);
      },
    },
    {
      name: 'pages neither skip nor repeat jobs while jobs are added and change state between pages',
      requires: hasQueue,
      async run(context) {
        const queue = context.queue<Item>();
        const original = (
          await queue.enqueueMany(Array.from({ length: 24 }, (_, n) => ({ payload: { kind: 'first', n } })))
        ).map((result) => result.id);
        for (const order of ['newest', 'oldest'] as const) {
          // Every state: a job that changes state keeps its place, so each original job appears exactly once.
          const added: string[] = [];
          const everything = await listAll(queue, { order, limit: 5 }, 100, async (page) => {
            added.push((await queue.enqueue({ kind: 'added', n: page })).id);
            const lease = await queue.dequeue();
            if (lease !== null && page % 2 === 0) await queue.complete(lease);
            const { jobs } = await queue.listJobs({ state: 'waiting', order: 'oldest', limit: 1 });
            if (jobs[0] !== undefined) await queue.cancel(jobs[0].id);
          });
          const listed = everything.jobs.map((job) => job.id);
          expect(repeated(listed), `${order}: jobs listed twice`).toStrictEqual([]);
          for (const id of original) expect(listed, `${order}: job ${id} was skipped`).toContain(id);
          // Oldest first, jobs added during the walk come after the cursor and are listed too.
          if (order === 'oldest') for (const id of added) expect(listed, `added job ${id} was skipped`).toContain(id);
        }

        // One state: jobs that stay in it throughout appear exactly once, jobs listed are in it.
        const stayers = new Set((await listAll(queue, { state: 'waiting' })).jobs.map((job) => job.id));
        const left = new Set<string>();
        const waiting = await listAll(queue, { state: 'waiting', order: 'oldest', limit: 3 }, 100, async () => {
          const lease = await queue.dequeue();
          if (lease !== null) left.add(lease.job.id);
          await queue.enqueue({ kind: 'late', n: 0 });
        });
        const listed = waiting.jobs.map((job) => job.id);
        expect(repeated(listed)).toStrictEqual([]);
        for (const job of waiting.jobs) expect(job.state).toBe('waiting');
        for (const id of stayers) if (!left.has(id)) expect(listed, `waiting job ${id} was skipped`).toContain(id);
      },
    },
    {
      name: 'limit defaults to 50 and takes integers from 1 to 1000; anything else is VALIDATION',
      requires: hasQueue,
      async run(context) {
        const queue = context.queue<Item>();
        await queue.enqueueMany(Array.from({ length: 1_003 }, (_, n) => ({ payload: { kind: 'x', n } })));
        const first = await queue.listJobs();
        expect(first.jobs).toHaveLength(50);
        expect(first.cursor).toBeTypeOf('string');
        expect((await queue.listJobs({ limit: 1 })).jobs).toHaveLength(1);
        const full = await queue.listJobs({ limit: 1_000 });
        expect(full.jobs).toHaveLength(1_000);
        expect(full.cursor).toBeTypeOf('string');
        expect((await queue.listJobs({ limit: 1_000, cursor: full.cursor })).jobs).toHaveLength(3);
        for (const limit of [0, -1, 1_001, 1.5, Number.NaN, Number.POSITIVE_INFINITY, 2 ** 53, '10', {}]) {
          await expectBerthError(() => queue.listJobs(invalid<ListJobsOptions>({ limit })), 'VALIDATION', {
            path: 'limit',
          });
        }
      },
    },
    {
      name: 'the cursor is undefined once the listing is complete; an empty queue or state lists nothing and no cursor',
      requires: hasQueue,
      async run(context) {
        const queue = context.queue<Item>();
        expect(await queue.listJobs()).toStrictEqual({ jobs: [], cursor: undefined });
        await queue.enqueueMany(Array.from({ length: 5 }, (_, n) => ({ payload: { kind: 'x', n } })));
        expect(await queue.listJobs({ state: 'dead' })).toStrictEqual({ jobs: [], cursor: undefined });
        const short = await queue.listJobs({ limit: 6 });
        expect(short.jobs).toHaveLength(5);
        expect(short.cursor).toBeUndefined();
        const first = await queue.listJobs({ limit: 3 });
        expect(first.cursor).toBeTypeOf('string');
        const last = await queue.listJobs({ limit: 3, cursor: first.cursor });
        expect(last.jobs).toHaveLength(2);
        expect(last.cursor).toBeUndefined();
        // A full last page may carry a cursor (the adapter did not look ahead); the page after it is then empty and ends.
        const exact = await queue.listJobs({ limit: 5 });
        expect(exact.jobs).toHaveLength(5);
        if (exact.cursor !== undefined) {
          expect(await queue.listJobs({ limit: 5, cursor: exact.cursor })).toStrictEqual({
            jobs: [],
            cursor: undefined,
          });
        }
      },
    },
    {
      name: 'a malformed cursor, or a cursor from another listing (state, order, filter or queue), is VALIDATION',
      requires: hasQueue,
      async run(context) {
        const queue = context.queue<Item>();
        const other = context.backend.queue<Item>(context.queueName('other'));
        for (const target of [queue, other]) {
          await target.enqueueMany(Array.from({ length: 6 }, (_, n) => ({ payload: { kind: 'x', n } })));
        }
        const base: ListJobsOptions = { state: 'waiting', order: 'oldest', limit: 2, payload: { kind: 'x' } };
        const cursor = (await queue.listJobs(base)).cursor as string;
        expect(cursor).toBeTypeOf('string');
        const garbage = ['', 'x', '0', 'null', '{}', '%00', "' OR 1=1 --", cursor.repeat(2), ...forgedCursors(cursor)];
        for (const bad of [...garbage, 42, {}, null, ['a']]) {
          await expectBerthError(
            () => queue.listJobs(invalid<ListJobsOptions>({ ...base, cursor: bad })),
            'VALIDATION',
          );
        }
        for (const changed of [
          { state: 'dead' },
          { state: undefined },
          { order: 'newest' },
          { payload: { kind: 'y' } },
          { payload: undefined },
        ] as const) {
          await expectBerthError(() => queue.listJobs({ ...base, ...changed, cursor }), 'VALIDATION');
        }
        await expectBerthError(() => other.listJobs({ ...base, cursor }), 'VALIDATION');
        const bulk = await queue.cancelJobs({ limit: 1, payload: { kind: 'nothing' } });
        if (bulk.cursor !== undefined) {
          await expectBerthError(() => queue.listJobs({ ...base, cursor: bulk.cursor }), 'VALIDATION');
        }
        // The limit may change between pages.
        expect((await queue.listJobs({ ...base, limit: 10, cursor })).jobs).toHaveLength(4);
      },
    },
    {
      name: 'state and order must be one of the listed words, options an object: anything else is VALIDATION',
      requires: hasQueue,
      async run(context) {
        const queue = context.queue<Item>();
        for (const state of ['running', 'WAITING', '', 'waiting ', "waiting' OR '1'='1", 0, false]) {
          await expectBerthError(() => queue.listJobs(invalid<ListJobsOptions>({ state })), 'VALIDATION', {
            path: 'state',
          });
        }
        for (const order of ['asc', 'desc', 'NEWEST', 1, false]) {
          await expectBerthError(() => queue.listJobs(invalid<ListJobsOptions>({ order })), 'VALIDATION', {
            path: 'order',
          });
        }
        for (const options of ['waiting', 5, [], null]) {
          await expectBerthError(() => queue.listJobs(invalid<ListJobsOptions>(options)), 'VALIDATION');
        }
      },
    },
    {
      name: 'a payload filter lists only matching jobs, in order, across pages',
      requires: hasQueue,
      async run(context) {
        const queue = context.queue<Item>();
        const results = await queue.enqueueMany(
          Array.from({ length: 40 }, (_, n) => ({
            payload: { kind: n % 3 === 0 ? 'a' : 'b', n, tags: [`t${n % 4}`] },
          })),
        );
        const jobs = await jobsById(
          queue,
          results.map((result) => result.id),
        );
        const cases: readonly [ListJobsOptions['payload'], (item: Item) => boolean][] = [
          [{ kind: 'a' }, (item) => item.kind === 'a'],
          [{ n: { $gte: 30 } }, (item) => item.n >= 30],
          [{ $or: [{ kind: 'a' }, { n: { $lt: 3 } }] }, (item) => item.kind === 'a' || item.n < 3],
          [{ kind: 'c' }, () => false],
          [{ missing: { $exists: true } }, () => false],
        ];
        for (const [payload, matches] of cases) {
          for (const order of ['newest', 'oldest'] as const) {
            const listed = await listAll(queue, { payload, order, limit: 3 });
            const expected = listingOrder(
              jobs.filter((job) => matches(job.payload)),
              order,
            );
            expect(
              listed.jobs.map((job) => job.id),
              JSON.stringify(payload),
            ).toStrictEqual(expected);
          }
        }
      },
    },
    {
      name: 'a filtered listing that stops at MAX_JOBS_EXAMINED goes on after the last job it examined, losing no match',
      requires: hasQueue,
      async run(context) {
        const queue = context.queue<Item>();
        const { id: oldest } = await queue.enqueue({ kind: 'needle', n: -1 });
        await queue.enqueueMany(
          Array.from({ length: MAX_JOBS_EXAMINED + 50 }, (_, n) => ({ payload: { kind: 'hay', n } })),
        );
        const { id: newest } = await queue.enqueue({ kind: 'needle', n: -2 });
        const first = await queue.listJobs({ payload: { kind: 'needle' }, limit: 5 });
        // The newest needle comes first; the oldest lies past the examine bound, so a cursor must lead to it.
        expect(first.jobs[0]?.id).toBe(newest);
        if (first.jobs.length === 1)
          expect(first.cursor, 'the listing stopped early without a cursor').toBeTypeOf('string');
        const all = await listAll(queue, { payload: { kind: 'needle' }, limit: 5 });
        expect(all.jobs.map((job) => job.id)).toStrictEqual([newest, oldest]);
        const oldestFirst = await listAll(queue, { payload: { kind: 'needle' }, order: 'oldest', limit: 1 });
        expect(oldestFirst.jobs.map((job) => job.id)).toStrictEqual([oldest, newest]);
      },
    },
    {
      name: 'payload filters through __proto__ are VALIDATION; injection-shaped values and prototype member names match literally',
      requires: hasQueue,
      async run(context) {
        const queue = context.queue<Record<string, DocumentValue>>();
        const ids = new Map<string, string>();
        for (const value of INJECTION_VALUES)
          ids.set(value, (await queue.enqueue({ v: value, constructor: value })).id);
        const plain = (await queue.enqueue({ v: 'plain', constructor: 'plain' })).id;
        for (const value of INJECTION_VALUES) {
          const { jobs } = await queue.listJobs({ payload: { v: value }, limit: 1_000 });
          expect(
            jobs.map((job) => job.id),
            JSON.stringify(value),
          ).toStrictEqual([ids.get(value)]);
          const byMember = await queue.listJobs({ payload: { constructor: value }, limit: 1_000 });
          expect(byMember.jobs.map((job) => job.id)).toStrictEqual([ids.get(value)]);
        }
        expect((await queue.listJobs({ payload: { toString: { $exists: true } } })).jobs).toStrictEqual([]);
        expect((await queue.listJobs({ payload: { v: 'plain' } })).jobs.map((job) => job.id)).toStrictEqual([plain]);
        for (const path of ['__proto__', 'v.__proto__', '__proto__.polluted', 'constructor.__proto__']) {
          await expectBerthError(() => queue.listJobs({ payload: { [path]: 1 } }), 'VALIDATION');
        }
        await expectBerthError(() => queue.listJobs({ payload: JSON.parse('{"__proto__": {"x": 1}}') }), 'VALIDATION');
        for (const bad of [{ v: { $where: 'true' } }, { $expr: {} }, { v: { $regex: '.*' } }, 'kind', 5, [], null]) {
          await expectBerthError(() => queue.listJobs(invalid<ListJobsOptions>({ payload: bad })), 'VALIDATION');
        }
        expect(({} as Record<string, unknown>).polluted).toBeUndefined();
      },
    },
    {
      name: 'listed jobs are whole: payload, attempts, errors, result, progress and timeoutMs as get shows them',
      requires: hasQueue,
      async run(context) {
        const queue = context.queue<Item>();
        const { id: failing } = await queue.enqueue(
          { kind: 'failing', n: 1 },
          { maxAttempts: 3, backoff: { type: 'fixed', delayMs: 0 }, timeoutMs: 5_000 },
        );
        let lease = await dequeueNow(queue);
        await queue.progress(lease, { step: 1, of: 3 });
        await queue.fail(lease, new Error('first try failed'));
        lease = await dequeueNow(queue);
        await queue.progress(lease, { step: 2, of: 3 });
        await queue.complete(lease, { sent: ['a', 'b'], at: new Date(0) });
        const { id: dead } = await queue.enqueue({ kind: 'dead', n: 2 }, { priority: 5 });
        await queue.fail(await dequeueNow(queue), new TypeError('bad input'), { retry: false });
        const { id: active } = await queue.enqueue({ kind: 'active', n: 3 }, { dedupeKey: 'only-one' });
        const activeLease = await dequeueNow(queue);
        await queue.progress(activeLease, [1, 'two', null]);
        const { id: waiting } = await queue.enqueue({ kind: 'waiting', n: 4 }, { delayMs: 60_000 });

        const completed = await jobOf(queue, failing);
        expect(completed.state).toBe('completed');
        expect(completed.attempts).toBe(2);
        expect(completed.errors.map((error) => error.message)).toStrictEqual(['first try failed']);
        expect(completed.result).toStrictEqual({ sent: ['a', 'b'], at: new Date(0) });
        expect(completed.progress).toStrictEqual({ step: 2, of: 3 });
        expect(completed.timeoutMs).toBe(5_000);
        const { jobs } = await queue.listJobs({ order: 'oldest' });
        expect(jobs).toStrictEqual(await jobsById(queue, [failing, dead, active, waiting]));
        for (const state of ALL_STATES) {
          for (const job of (await queue.listJobs({ state })).jobs)
            expect(job).toStrictEqual(await jobOf(queue, job.id));
        }
        await queue.complete(activeLease);
      },
    },
  ],
);

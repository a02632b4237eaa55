import type { DocumentValue, EnqueueItem, EnqueueOptions, JobQueue, QueueBackend } from '@berth/core';
import { expect } from 'vitest';
import { expectBerthError, invalid } from '../groups/assertions.js';
import { type ConformanceGroup, defineQueueGroup, type QueueConformanceContext } from '../harness.js';
import {
  dequeueNow,
  expectQueueRefused,
  expectStampedBetween,
  hasQueue,
  jobOf,
  jobStats,
  NO_JOBS,
} from './queue-assertions.js';

class Point {
  constructor(
    readonly x: number,
    readonly y: number,
  ) {}
}

/** Payloads of every value type, each of which must come back equal. */
const roundTrips: readonly { readonly what: string; readonly payload: DocumentValue }[] = [
  { what: 'null', payload: null },
  { what: 'true', payload: true },
  { what: 'false', payload: false },
  { what: 'zero', payload: 0 },
  { what: 'a negative fraction', payload: -12.375 },
  { what: 'the largest safe integer', payload: Number.MAX_SAFE_INTEGER },
  { what: 'a tiny float', payload: 5e-324 },
  { what: 'an empty string', payload: '' },
  { what: 'a string with quotes, wildcards and emoji', payload: `it's "50%" _off_ \\ 🚢 über 漢字` },
  { what: 'a Date', payload: new Date('2026-03-04T05:06:07.089Z') },
  { what: 'an empty array', payload: [] },
  { what: 'an empty object', payload: {} },
  {
    what: 'a nested document',
    payload: {
      to: 'ada@example.com',
      tags: ['a', 'b', 'a'],
      when: new Date('1999-12-31T23:59:59.999Z'),
      nested: { deep: { list: [1, 'two', null, false, { three: [3] }, new Date(0)] } },
      count: 3,
      none: null,
    },
  },
];

/** Payloads that are not document values, with the path the VALIDATION error must name. */
function invalidPayloads(): { readonly what: string; readonly payload: unknown; readonly path?: string }[] {
  const circular: Record<string, unknown> = { name: 'loop' };
  circular.self = circular;
  return [
    { what: 'a BigInt', payload: { n: 10n }, path: 'payload.n' },
    { what: 'NaN', payload: { score: Number.NaN }, path: 'payload.score' },
    { what: 'Infinity', payload: { list: [1, Number.POSITIVE_INFINITY] }, path: 'payload.list.1' },
    { what: 'a function', payload: { callback: () => 1 }, path: 'payload.callback' },
    { what: 'a Map', payload: { index: new Map([['a', 1]]) }, path: 'payload.index' },
    { what: 'a class instance', payload: { at: new Point(1, 2) }, path: 'payload.at' },
    { what: 'an invalid Date', payload: { when: new Date(Number.NaN) }, path: 'payload.when' },
    { what: 'a circular reference', payload: circular },
    { what: 'undefined in an array', payload: { list: [1, undefined] }, path: 'payload.list.1' },
    { what: 'a key starting with $', payload: { $where: 1 }, path: 'payload.$where' },
    { what: 'a lone surrogate', payload: { text: 'a\uD800b' }, path: 'payload.text' },
    { what: 'a top-level BigInt', payload: 1n, path: 'payload' },
    { what: 'undefined', payload: undefined, path: 'payload' },
  ];
}

/** Enqueue options that break a rule, each a VALIDATION error. */
const invalidOptions: readonly { readonly what: string; readonly options: unknown }[] = [
  { what: 'runAt together with delayMs', options: { runAt: new Date(Date.now() + 1_000), delayMs: 1_000 } },
  { what: 'an invalid runAt Date', options: { runAt: new Date(Number.NaN) } },
  { what: 'a runAt that is not a Date', options: { runAt: '2030-01-01T00:00:00Z' } },
  { what: 'a negative delayMs', options: { delayMs: -1 } },
  { what: 'a fractional delayMs', options: { delayMs: 1.5 } },
  { what: 'a NaN delayMs', options: { delayMs: Number.NaN } },
  { what: 'a fractional priority', options: { priority: 1.5 } },
  { what: 'a string priority', options: { priority: '1' } },
  { what: 'maxAttempts 0', options: { maxAttempts: 0 } },
  { what: 'a negative maxAttempts', options: { maxAttempts: -3 } },
  { what: 'a fractional maxAttempts', options: { maxAttempts: 2.5 } },
  { what: 'leaseMs 0', options: { leaseMs: 0 } },
  { what: 'a negative leaseMs', options: { leaseMs: -100 } },
  { what: 'an unknown backoff type', options: { backoff: { type: 'linear', delayMs: 10 } } },
  { what: 'a backoff that is not an object', options: { backoff: 'exponential' } },
  { what: 'a negative backoff delay', options: { backoff: { type: 'fixed', delayMs: -5 } } },
  { what: 'a backoff without a delay', options: { backoff: { type: 'fixed' } } },
  { what: 'a negative maxDelayMs', options: { backoff: { type: 'exponential', delayMs: 10, maxDelayMs: -1 } } },
  { what: 'an unknown jitter', options: { backoff: { type: 'exponential', delayMs: 10, jitter: 'lots' } } },
  { what: 'an empty dedupeKey', options: { dedupeKey: '' } },
  { what: 'a dedupeKey of 257 characters', options: { dedupeKey: 'k'.repeat(257) } },
  { what: 'a dedupeKey that is not a string', options: { dedupeKey: 42 } },
  { what: 'a dedupeKey with U+0000', options: { dedupeKey: 'a\u0000b' } },
];

const badQueueNames: readonly unknown[] = [
  '',
  '1jobs',
  '_jobs',
  'mail-jobs',
  'mail jobs',
  'mail.jobs',
  "jobs'; DROP TABLE jobs; --",
  'j'.repeat(64),
  'jöbs',
  42,
];

async function expectNothingEnqueued(queue: JobQueue<unknown>): Promise<void> {
  expect(await queue.stats()).toStrictEqual(NO_JOBS);
  expect(await queue.dequeue()).toBeNull();
}

/**
 * `enqueue` and `enqueueMany`: ids, defaults, the options kept on the job, delays and payload round-trips.
 *
 * ### Examples
 * ```ts
 * import type { QueueBackend } from '@berth/core';
 * import { type ConformanceOptions, queueEnqueueGroup, registerGroup } from '@berth/conformance-tests';
 *
 * declare const options: ConformanceOptions<QueueBackend>; // what your adapter passes to queueConformance
 * registerGroup(queueEnqueueGroup, options);
 * ```
 */
export const queueEnqueueGroup: ConformanceGroup<QueueBackend, QueueConformanceContext> = defineQueueGroup(
  'queue-enqueue',
  [
    {
      name: 'enqueue returns a distinct string id per job, not deduplicated',
      requires: hasQueue,
      async run(context) {
        const queue = context.queue<{ n: number }>();
        const results = [];
        for (let n = 0; n < 5; n++) results.push(await queue.enqueue({ n }));
        for (const result of results) {
          expect(typeof result.id).toBe('string');
          expect(result.id.length).toBeGreaterThan(0);
          expect(result.deduplicated).toBe(false);
        }
        expect(new Set(results.map((result) => result.id)).size).toBe(5);
        expect(await queue.stats()).toStrictEqual(jobStats({ waiting: 5 }));
      },
    },
    {
      name: 'a new job is waiting with no attempts, due now, with the defaults priority 0, maxAttempts 3 and leaseMs 30000',
      requires: hasQueue,
      async run(context) {
        const queue = context.queue<{ to: string }>();
        const before = Date.now();
        const { id } = await queue.enqueue({ to: 'ada@example.com' });
        const after = Date.now();
        const job = await jobOf(queue, id);
        expect(job).toMatchObject({
          id,
          queue: queue.name,
          payload: { to: 'ada@example.com' },
          state: 'waiting',
          priority: 0,
          attempts: 0,
          maxAttempts: 3,
          leaseMs: 30_000,
          errors: [],
        });
        expect(job.dedupeKey).toBeUndefined();
        expect(job.result).toBeUndefined();
        expect(job.finishedAt).toBeUndefined();
        expect(job.leaseExpiresAt).toBeUndefined();
        expectStampedBetween(job.runAt, before, after, 'runAt');
        expectStampedBetween(job.createdAt, before, after, 'createdAt');
        expectStampedBetween(job.updatedAt, before, after, 'updatedAt');
      },
    },
    {
      name: 'enqueue options are kept on the job',
      requires: hasQueue,
      async run(context) {
        const queue = context.queue<string>();
        const runAt = new Date(Date.now() + 3_600_000);
        const { id } = await queue.enqueue('report', {
          runAt,
          priority: -7,
          maxAttempts: 9,
          leaseMs: 1_234,
          dedupeKey: 'monthly report: 2026/11 🚢',
          backoff: { type: 'fixed', delayMs: 10 },
        });
        const job = await jobOf(queue, id);
        expect(job).toMatchObject({
          payload: 'report',
          state: 'waiting',
          priority: -7,
          maxAttempts: 9,
          leaseMs: 1_234,
          dedupeKey: 'monthly report: 2026/11 🚢',
        });
        expect(job.runAt).toStrictEqual(runAt);
      },
    },
    {
      name: 'delayMs makes the job due that many milliseconds after the enqueue',
      requires: hasQueue,
      async run(context) {
        const queue = context.queue<string>();
        const before = Date.now();
        const { id } = await queue.enqueue('later', { delayMs: 60_000 });
        const after = Date.now();
        const job = await jobOf(queue, id);
        expectStampedBetween(job.runAt, before + 60_000, after + 60_000, 'runAt');
        expect(job.state).toBe('waiting');
      },
    },
    {
      name: 'payloads of every value type come back equal through get and dequeue, Dates as Dates',
      requires: hasQueue,
      async run(context) {
        const queue = context.queue<DocumentValue>();
        const ids: string[] = [];
        for (const { payload } of roundTrips) ids.push((await queue.enqueue(payload)).id);
        for (const [index, { what, payload }] of roundTrips.entries()) {
          const job = await jobOf(queue, ids[index] ?? '');
          expect(job.payload, what).toStrictEqual(payload);
        }
        const delivered = new Map<string, DocumentValue>();
        for (;;) {
          const lease = await queue.dequeue();
          if (lease === null) break;
          delivered.set(lease.job.id, lease.job.payload);
        }
        for (const [index, { what, payload }] of roundTrips.entries()) {
          expect(delivered.get(ids[index] ?? ''), what).toStrictEqual(payload);
        }
        const nested = delivered.get(ids[roundTrips.length - 1] ?? '') as { when: unknown };
        expect(nested.when).toBeInstanceOf(Date);
      },
    },
    {
      name: 'undefined properties are dropped and -0 is stored as 0',
      requires: hasQueue,
      async run(context) {
        const queue = context.queue<Record<string, unknown>>();
        const { id } = await queue.enqueue({ kept: 1, dropped: undefined, zero: -0 });
        const job = await jobOf(queue, id);
        expect(job.payload).toStrictEqual({ kept: 1, zero: 0 });
        expect(Object.keys(job.payload)).toStrictEqual(['kept', 'zero']);
        expect(Object.is(job.payload.zero, 0)).toBe(true);
      },
    },
    {
      name: 'payloads are copied in and out: mutating the input or a returned job never changes the stored job',
      requires: hasQueue,
      async run(context) {
        const queue = context.queue<{ list: number[]; when: Date; inner: { n: number } }>();
        const when = new Date('2026-01-01T00:00:00.000Z');
        const input = { list: [1, 2], when, inner: { n: 1 } };
        const { id } = await queue.enqueue(input);
        input.list.push(3);
        input.inner.n = 99;
        when.setTime(0);
        const expected = { list: [1, 2], when: new Date('2026-01-01T00:00:00.000Z'), inner: { n: 1 } };
        const first = await jobOf(queue, id);
        expect(first.payload).toStrictEqual(expected);
        first.payload.list.push(4);
        first.payload.inner.n = 42;
        first.payload.when.setTime(1);
        expect((await jobOf(queue, id)).payload).toStrictEqual(expected);
        const lease = await dequeueNow(queue);
        expect(lease.job.payload).toStrictEqual(expected);
        lease.job.payload.list.length = 0;
        lease.job.payload.when.setTime(2);
        expect((await jobOf(queue, id)).payload).toStrictEqual(expected);
      },
    },
    {
      name: 'payloads that are not document values are VALIDATION errors naming the path, and nothing is enqueued',
      requires: hasQueue,
      async run(context) {
        const queue = context.queue<unknown>();
        for (const { what, payload, path } of invalidPayloads()) {
          const error = await expectBerthError(
            () => queue.enqueue(payload),
            'VALIDATION',
            path === undefined ? {} : { path },
          ).catch((failure: unknown) => {
            throw new Error(`${what}: ${String(failure)}`);
          });
          expect(error.code, what).toBe('VALIDATION');
        }
        await expectNothingEnqueued(queue);
      },
    },
    {
      name: 'invalid enqueue options are VALIDATION errors, and nothing is enqueued',
      requires: hasQueue,
      async run(context) {
        const queue = context.queue<string>();
        for (const { what, options } of invalidOptions) {
          await expectBerthError(() => queue.enqueue(what, invalid<EnqueueOptions>(options)), 'VALIDATION').catch(
            (failure: unknown) => {
              throw new Error(`${what}: ${String(failure)}`);
            },
          );
        }
        await expectNothingEnqueued(queue);
      },
    },
    {
      name: 'queue names that break the collection-name rule are VALIDATION errors',
      requires: hasQueue,
      async run(context) {
        for (const name of badQueueNames) {
          await expectQueueRefused(context.backend, name, 'VALIDATION').catch((failure: unknown) => {
            throw new Error(`queue name ${JSON.stringify(name)}: ${String(failure)}`);
          });
        }
        // The longest allowed name works.
        const longest = context.backend.queue<string>(`Q${'a'.repeat(62)}`);
        expect(longest.name).toBe(`Q${'a'.repeat(62)}`);
        await longest.purge({ finishedBefore: new Date(Date.now() + 60_000) });
      },
    },
    {
      name: 'queues are independent: a job is only seen through the queue it was enqueued on',
      requires: hasQueue,
      async run(context) {
        const mail = context.backend.queue<string>(context.queueName('mail'));
        const sms = context.backend.queue<string>(context.queueName('sms'));
        const { id } = await mail.enqueue('hello', { dedupeKey: 'shared-key' });
        expect(await sms.dequeue()).toBeNull();
        expect(await sms.dequeueMany(10)).toStrictEqual([]);
        expect(await sms.get(id)).toBeNull();
        expect(await sms.cancel(id)).toBe(false);
        expect(await sms.stats()).toStrictEqual(NO_JOBS);
        expect(await mail.stats()).toStrictEqual(jobStats({ waiting: 1 }));
        const lease = await dequeueNow(mail);
        expect(lease.job.id).toBe(id);
        expect(lease.job.queue).toBe(mail.name);
      },
    },
    {
      name: 'the same queue name gives the same queue, however often it is asked for',
      requires: hasQueue,
      async run(context) {
        const name = context.queueName('q');
        const { id } = await context.backend.queue<string>(name).enqueue('once');
        const again = context.backend.queue<string>(name);
        expect(again.name).toBe(name);
        expect((await jobOf(again, id)).payload).toBe('once');
        expect((await dequeueNow(again)).job.id).toBe(id);
      },
    },
    {
      name: 'enqueueMany returns one result per item in order, and applies each item its options',
      requires: hasQueue,
      async run(context) {
        const queue = context.queue<{ n: number }>();
        const items: EnqueueItem<{ n: number }>[] = [
          { payload: { n: 1 } },
          { payload: { n: 2 }, priority: 5, maxAttempts: 1 },
          { payload: { n: 3 }, delayMs: 60_000 },
        ];
        const results = await queue.enqueueMany(items);
        expect(results).toHaveLength(3);
        expect(results.map((result) => result.deduplicated)).toStrictEqual([false, false, false]);
        expect(new Set(results.map((result) => result.id)).size).toBe(3);
        const jobs = await Promise.all(results.map((result) => jobOf(queue, result.id)));
        expect(jobs.map((job) => job.payload)).toStrictEqual([{ n: 1 }, { n: 2 }, { n: 3 }]);
        expect(jobs.map((job) => [job.priority, job.maxAttempts])).toStrictEqual([
          [0, 3],
          [5, 1],
          [0, 3],
        ]);
        expect(await queue.stats()).toStrictEqual(jobStats({ waiting: 3 }));
        expect(await queue.enqueueMany([])).toStrictEqual([]);
      },
    },
    {
      name: 'enqueueMany is all or nothing: one invalid payload or option rejects the call and enqueues nothing',
      requires: hasQueue,
      async run(context) {
        const queue = context.queue<unknown>();
        await expectBerthError(
          () => queue.enqueueMany([{ payload: { n: 1 } }, { payload: { n: 10n } }, { payload: { n: 3 } }]),
          'VALIDATION',
        );
        await expectBerthError(
          () =>
            queue.enqueueMany([
              { payload: { n: 1 }, dedupeKey: 'first' },
              { payload: { n: 2 }, maxAttempts: 0 },
            ]),
          'VALIDATION',
        );
        await expectNothingEnqueued(queue);
        // The dedupe key of the rejected call was never taken.
        expect((await queue.enqueue({ n: 4 }, { dedupeKey: 'first' })).deduplicated).toBe(false);
      },
    },
  ],
);

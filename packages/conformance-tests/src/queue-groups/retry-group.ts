import type { BackoffPolicy, DocumentValue, Job, JobQueue, QueueBackend } from '@berth/core';
import { expect } from 'vitest';
import { expectBerthError, invalid } from '../groups/assertions.js';
import { type ConformanceGroup, defineQueueGroup, type QueueConformanceContext } from '../harness.js';
import {
  dequeueNow,
  dequeueSoon,
  expectNear,
  expectStampedBetween,
  hasQueue,
  jobOf,
  jobStats,
} from './queue-assertions.js';

class RateLimited extends Error {
  override readonly name = 'RateLimited';
}

/** The longest error message a job keeps (docs/semantics.md, "Jobs"), the truncation note included. */
const MAX_ERROR_MESSAGE = 65_536;

/**
 * How far `runAt - errors[last].at` may exceed the backoff delay. Both are
 * stamped by the engine in one `fail` call, so the gap is the backoff itself
 * plus whatever the engine spends between the two stamps.
 */
const STAMP_SLACK_MS = 20;

/** The delay the engine scheduled: the job's runAt minus the time its last failure was recorded. */
function scheduledDelay(job: Job<unknown>): number {
  const last = job.errors.at(-1);
  if (last === undefined) return expect.unreachable('the job has no recorded error');
  return job.runAt.getTime() - last.at.getTime();
}

/** Leases the job (waiting until it is due), fails it and returns the job as stored afterwards. */
async function failOnce<T>(
  queue: JobQueue<T>,
  id: string,
  error: unknown,
): Promise<{ state: 'waiting' | 'dead'; job: Job<T> }> {
  const { lease } = await dequeueSoon(queue, `job ${id} to be due again`);
  expect(lease.job.id).toBe(id);
  const state = await queue.fail(lease, error);
  return { state, job: await jobOf(queue, id) };
}

/** Fails attempts 1..n of a fresh job with `backoff` and returns the delays the engine scheduled. */
async function scheduledDelays(queue: JobQueue<string>, backoff: BackoffPolicy, attempts: number): Promise<number[]> {
  const { id } = await queue.enqueue('backoff', { backoff, maxAttempts: attempts + 1 });
  const delays: number[] = [];
  for (let attempt = 1; attempt <= attempts; attempt++) {
    const { state, job } = await failOnce(queue, id, new Error(`attempt ${attempt}`));
    expect(state).toBe('waiting');
    expect(job.state).toBe('waiting');
    expect(job.attempts).toBe(attempt);
    expect(job.errors.at(-1)?.attempt).toBe(attempt);
    delays.push(scheduledDelay(job));
  }
  return delays;
}

/**
 * `fail` and backoff: a failed job waits its fixed or exponential delay (capped by `maxDelayMs`), and is dead
 * once its attempts run out.
 *
 * ### Examples
 * ```ts
 * import type { QueueBackend } from '@berth/core';
 * import { type ConformanceOptions, queueRetryGroup, registerGroup } from '@berth/conformance-tests';
 *
 * declare const options: ConformanceOptions<QueueBackend>; // what your adapter passes to queueConformance
 * registerGroup(queueRetryGroup, options);
 * ```
 */
export const queueRetryGroup: ConformanceGroup<QueueBackend, QueueConformanceContext> = defineQueueGroup(
  'queue-retry',
  [
    {
      name: 'fail with attempts left puts the job back to waiting, due after the backoff and not before',
      requires: hasQueue,
      async run(context) {
        const queue = context.queue<string>();
        const delayMs = 60;
        const { id } = await queue.enqueue('flaky', { backoff: { type: 'fixed', delayMs } });
        const lease = await dequeueNow(queue);
        const before = Date.now();
        expect(await queue.fail(lease, new Error('first try failed'))).toBe('waiting');
        const after = Date.now();
        const job = await jobOf(queue, id);
        expect(job.state).toBe('waiting');
        expect(job.attempts).toBe(1);
        expect(job.leaseExpiresAt).toBeUndefined();
        expect(job.finishedAt).toBeUndefined();
        expectStampedBetween(job.errors[0]?.at, before, after, 'the error time');
        expectNear(scheduledDelay(job), delayMs, 1, STAMP_SLACK_MS, 'scheduled delay');
        expect(await queue.dequeue()).toBeNull();
        const again = await dequeueSoon(queue, 'the retried job');
        expect(again.receivedAt - before, 'delivered before the backoff ran out').toBeGreaterThanOrEqual(delayMs - 2);
        expect(again.lease.job.id).toBe(id);
        expect(again.lease.job.attempts).toBe(2);
      },
    },
    {
      name: 'the default backoff is exponential from 1000 ms',
      requires: hasQueue,
      async run(context) {
        const queue = context.queue<string>();
        const { id } = await queue.enqueue('default backoff');
        const lease = await dequeueNow(queue);
        expect(await queue.fail(lease, new Error('nope'))).toBe('waiting');
        expectNear(scheduledDelay(await jobOf(queue, id)), 1_000, 1, STAMP_SLACK_MS, 'default delay');
        expect(await queue.dequeue()).toBeNull();
      },
    },
    {
      name: 'fixed backoff waits the same delay after every attempt',
      requires: hasQueue,
      async run(context) {
        const delays = await scheduledDelays(context.queue<string>(), { type: 'fixed', delayMs: 30 }, 3);
        delays.forEach((delay, index) => {
          expectNear(delay, 30, 1, STAMP_SLACK_MS, `delay after attempt ${index + 1}`);
        });
      },
    },
    {
      name: 'exponential backoff doubles with each attempt: 30, 60, 120 ms',
      requires: hasQueue,
      async run(context) {
        const delays = await scheduledDelays(context.queue<string>(), { type: 'exponential', delayMs: 30 }, 3);
        [30, 60, 120].forEach((expected, index) => {
          expectNear(delays[index] ?? Number.NaN, expected, 1, STAMP_SLACK_MS, `delay after attempt ${index + 1}`);
        });
      },
    },
    {
      name: 'exponential backoff is capped by maxDelayMs: 30, 50, 50 ms',
      requires: hasQueue,
      async run(context) {
        const delays = await scheduledDelays(
          context.queue<string>(),
          { type: 'exponential', delayMs: 30, maxDelayMs: 50 },
          3,
        );
        [30, 50, 50].forEach((expected, index) => {
          expectNear(delays[index] ?? Number.NaN, expected, 1, STAMP_SLACK_MS, `delay after attempt ${index + 1}`);
        });
      },
    },
    {
      name: 'full jitter spreads the delay over [0, d] and equal jitter over [d/2, d]',
      requires: hasQueue,
      async run(context) {
        const samples = { full: [] as number[], equal: [] as number[] };
        for (const jitter of ['full', 'equal'] as const) {
          const queue = context.backend.queue<string>(context.queueName(jitter));
          await queue.enqueueMany(
            Array.from({ length: 12 }, () => ({
              payload: jitter,
              backoff: { type: 'exponential' as const, delayMs: 10_000, jitter },
            })),
          );
          for (const lease of await queue.dequeueMany(12)) {
            expect(await queue.fail(lease, new Error('jittery'))).toBe('waiting');
            samples[jitter].push(scheduledDelay(await jobOf(queue, lease.job.id)));
          }
          expect(samples[jitter]).toHaveLength(12);
        }
        for (const delay of samples.full) expectNear(delay, 5_000, 5_001, 5_000 + STAMP_SLACK_MS, 'full jitter');
        for (const delay of samples.equal) expectNear(delay, 7_500, 2_501, 2_500 + STAMP_SLACK_MS, 'equal jitter');
        // Twelve identical draws from a uniform range would mean there is no jitter at all.
        expect(new Set(samples.full).size).toBeGreaterThan(1);
        expect(new Set(samples.equal).size).toBeGreaterThan(1);
      },
    },
    {
      name: "retryAfterMs overrides the backoff policy's delay",
      requires: hasQueue,
      async run(context) {
        const queue = context.queue<string>();
        const { id } = await queue.enqueue('slow down', { backoff: { type: 'fixed', delayMs: 3_600_000 } });
        const lease = await dequeueNow(queue);
        const before = Date.now();
        expect(await queue.fail(lease, new RateLimited('429'), { retryAfterMs: 50 })).toBe('waiting');
        expectNear(scheduledDelay(await jobOf(queue, id)), 50, 1, STAMP_SLACK_MS, 'retryAfterMs delay');
        const again = await dequeueSoon(queue, 'the job to be due after retryAfterMs');
        expect(again.receivedAt - before).toBeGreaterThanOrEqual(48);
        expect(again.lease.job.id).toBe(id);
      },
    },
    {
      name: "every failed attempt's error is kept with its message, name and attempt, oldest first",
      requires: hasQueue,
      async run(context) {
        const queue = context.queue<string>();
        const { id } = await queue.enqueue('history', { maxAttempts: 5, backoff: { type: 'fixed', delayMs: 0 } });
        await failOnce(queue, id, new RateLimited('too many requests'));
        await failOnce(queue, id, new TypeError('x is not a function'));
        await failOnce(queue, id, 'a plain string');
        const job = await jobOf(queue, id);
        expect(job.errors.map(({ attempt, message, name }) => ({ attempt, message, name }))).toStrictEqual([
          { attempt: 1, message: 'too many requests', name: 'RateLimited' },
          { attempt: 2, message: 'x is not a function', name: 'TypeError' },
          { attempt: 3, message: 'a plain string', name: undefined },
        ]);
        for (const error of job.errors) expect(error.at).toBeInstanceOf(Date);
        const times = job.errors.map((error) => error.at.getTime());
        expect([...times].sort((a, b) => a - b)).toStrictEqual(times);
      },
    },
    {
      name: 'a failed attempt keeps at most 65 536 characters of a 5 MB message and says how many were cut',
      requires: hasQueue,
      async run(context) {
        const queue = context.queue<string>();
        const { id } = await queue.enqueue('noisy', { maxAttempts: 3, backoff: { type: 'fixed', delayMs: 0 } });
        const exact = 'e'.repeat(MAX_ERROR_MESSAGE);
        // Astral characters: the cut must not leave half a surrogate pair.
        const huge = `start ${'😀'.repeat(2.5 * 1024 * 1024)} end`;
        await failOnce(queue, id, new Error(exact));
        const { job } = await failOnce(queue, id, new Error(huge));
        expect(job.errors[0]?.message, 'a message of exactly the cap is kept whole').toBe(exact);
        const stored = job.errors[1]?.message ?? '';
        expect(stored.length).toBeLessThanOrEqual(MAX_ERROR_MESSAGE);
        expect(stored.isWellFormed(), 'the cut message is well-formed UTF-16').toBe(true);
        const note = /… \[truncated: (\d+) more characters\]$/.exec(stored);
        if (note === null) return expect.unreachable(`no truncation note at the end of ${stored.slice(-60)}`);
        const kept = stored.slice(0, note.index);
        expect(huge.startsWith(kept), 'the message keeps its start').toBe(true);
        expect(kept.length + Number(note[1]), 'kept plus cut characters').toBe(huge.length);
        expect(kept.length, 'most of the cap holds the message').toBeGreaterThan(MAX_ERROR_MESSAGE - 100);
      },
    },
    {
      name: 'after maxAttempts failures the job is dead, with every error kept, and never delivered again',
      requires: hasQueue,
      async run(context) {
        const queue = context.queue<string>();
        const { id } = await queue.enqueue('doomed', { maxAttempts: 3, backoff: { type: 'fixed', delayMs: 0 } });
        expect((await failOnce(queue, id, new Error('one'))).state).toBe('waiting');
        expect((await failOnce(queue, id, new Error('two'))).state).toBe('waiting');
        const before = Date.now();
        const { state, job } = await failOnce(queue, id, new Error('three'));
        const after = Date.now();
        expect(state).toBe('dead');
        expect(job.state).toBe('dead');
        expect(job.attempts).toBe(3);
        expect(job.errors.map((error) => error.message)).toStrictEqual(['one', 'two', 'three']);
        expectStampedBetween(job.finishedAt, before, after, 'finishedAt');
        expect(job.leaseExpiresAt).toBeUndefined();
        expect(await queue.dequeue()).toBeNull();
        expect(await queue.stats()).toStrictEqual(jobStats({ dead: 1 }));
      },
    },
    {
      name: 'a job with maxAttempts 1 is dead after its first failure',
      requires: hasQueue,
      async run(context) {
        const queue = context.queue<string>();
        const { id } = await queue.enqueue('one shot', { maxAttempts: 1 });
        expect((await failOnce(queue, id, new Error('gone'))).state).toBe('dead');
        expect(await queue.dequeue()).toBeNull();
      },
    },
    {
      name: 'fail with retry: false makes the job dead at once, whatever attempts are left',
      requires: hasQueue,
      async run(context) {
        const queue = context.queue<string>();
        const { id } = await queue.enqueue('unrecoverable', { maxAttempts: 10 });
        const lease = await dequeueNow(queue);
        expect(await queue.fail(lease, new Error('bad input'), { retry: false })).toBe('dead');
        const job = await jobOf(queue, id);
        expect(job.state).toBe('dead');
        expect(job.attempts).toBe(1);
        expect(job.errors.map((error) => [error.attempt, error.message])).toStrictEqual([[1, 'bad input']]);
        expect(await queue.dequeue()).toBeNull();
      },
    },
    {
      name: 'retry puts a dead job back to waiting, due now, with attempts reset and its errors kept',
      requires: hasQueue,
      async run(context) {
        const queue = context.queue<string>();
        const { id } = await queue.enqueue('revived', { maxAttempts: 2, backoff: { type: 'fixed', delayMs: 0 } });
        await failOnce(queue, id, new Error('first'));
        await failOnce(queue, id, new Error('second'));
        const dead = await jobOf(queue, id);
        expect(dead.state).toBe('dead');
        const before = Date.now();
        expect(await queue.retry(id)).toBe(true);
        const after = Date.now();
        const job = await jobOf(queue, id);
        expect(job.state).toBe('waiting');
        expect(job.attempts).toBe(0);
        expect(job.errors).toStrictEqual(dead.errors);
        expect(job.finishedAt).toBeUndefined();
        expectStampedBetween(job.runAt, before, after, 'runAt after retry');
        expect(await queue.stats()).toStrictEqual(jobStats({ waiting: 1 }));
        const lease = await dequeueNow(queue);
        expect(lease.job.id).toBe(id);
        expect(lease.job.attempts).toBe(1);
        // Fresh attempts: it can fail again before it is dead.
        expect(await queue.fail(lease, new Error('third'))).toBe('waiting');
      },
    },
    {
      name: 'retry puts a cancelled job back to waiting and it is delivered',
      requires: hasQueue,
      async run(context) {
        const queue = context.queue<string>();
        const { id } = await queue.enqueue('changed my mind');
        expect(await queue.cancel(id)).toBe(true);
        expect(await queue.retry(id)).toBe(true);
        expect((await jobOf(queue, id)).state).toBe('waiting');
        expect((await dequeueNow(queue)).job.id).toBe(id);
      },
    },
    {
      name: 'retry of a waiting, active, completed or missing job returns false and changes nothing',
      requires: hasQueue,
      async run(context) {
        const queue = context.queue<string>();
        const { id: completedId } = await queue.enqueue('completed');
        await queue.complete(await dequeueNow(queue), 'ok');
        const { id: activeId } = await queue.enqueue('active');
        await dequeueNow(queue);
        const { id: waitingId } = await queue.enqueue('waiting', { delayMs: 60_000 });
        const before = await Promise.all([completedId, activeId, waitingId].map((id) => jobOf(queue, id)));
        expect(await queue.retry(waitingId)).toBe(false);
        expect(await queue.retry(activeId)).toBe(false);
        expect(await queue.retry(completedId)).toBe(false);
        expect(await queue.retry('missing-job')).toBe(false);
        expect(await Promise.all([completedId, activeId, waitingId].map((id) => jobOf(queue, id)))).toStrictEqual(
          before,
        );
      },
    },
    {
      name: 'complete stores the result, Dates included, and makes the job completed',
      requires: hasQueue,
      async run(context) {
        const queue = context.queue<string>();
        const { id } = await queue.enqueue('compute');
        const lease = await dequeueNow(queue);
        const result = { total: 42, at: new Date('2026-05-06T07:08:09.010Z'), lines: [1, 'two', null, { ok: true }] };
        const before = Date.now();
        await queue.complete(lease, result);
        const after = Date.now();
        result.lines.push('mutated');
        const job = await jobOf(queue, id);
        expect(job.state).toBe('completed');
        expect(job.result).toStrictEqual({
          total: 42,
          at: new Date('2026-05-06T07:08:09.010Z'),
          lines: [1, 'two', null, { ok: true }],
        });
        expect(job.attempts).toBe(1);
        expect(job.leaseExpiresAt).toBeUndefined();
        expectStampedBetween(job.finishedAt, before, after, 'finishedAt');
        expect(await queue.stats()).toStrictEqual(jobStats({ completed: 1 }));
        expect(await queue.dequeue()).toBeNull();
      },
    },
    {
      name: 'complete without a result leaves the result undefined; a scalar result round-trips',
      requires: hasQueue,
      async run(context) {
        const queue = context.queue<string>();
        const { id: none } = await queue.enqueue('none');
        const { id: scalar } = await queue.enqueue('scalar');
        await queue.complete(await dequeueNow(queue));
        await queue.complete(await dequeueNow(queue), 'fine');
        expect((await jobOf(queue, none)).result).toBeUndefined();
        expect((await jobOf(queue, scalar)).result).toBe('fine');
      },
    },
    {
      name: 'complete with a result that is not a document value is VALIDATION and the lease stays valid',
      requires: hasQueue,
      async run(context) {
        const queue = context.queue<string>();
        const { id } = await queue.enqueue('bad result');
        const lease = await dequeueNow(queue);
        const before = await jobOf(queue, id);
        await expectBerthError(() => queue.complete(lease, invalid<DocumentValue>({ n: 10n })), 'VALIDATION');
        await expectBerthError(() => queue.complete(lease, { n: Number.NaN }), 'VALIDATION');
        expect(await jobOf(queue, id)).toStrictEqual(before);
        await queue.complete(lease, { n: 10 });
        expect((await jobOf(queue, id)).result).toStrictEqual({ n: 10 });
      },
    },
  ],
);

import type {
  BerthErrorCode,
  Capabilities,
  DocumentValue,
  Job,
  JobQueue,
  JobStats,
  Lease,
  QueueBackend,
  Worker,
} from '@berth/core';
import { expect } from 'vitest';
import { expectBerthError, sleep } from '../groups/assertions.js';

/** Cases that need a working queue. */
export const hasQueue = (capabilities: Capabilities): boolean => capabilities.queue.level !== 'none';

/**
 * Slack allowed when an engine's timestamp is compared with this process's
 * clock: engines that stamp times themselves (a database server) may run a
 * little apart. Durations measured by one clock need no such slack.
 */
export const CLOCK_TOLERANCE_MS = 2_000;

/**
 * How long a case waits for something that should happen "soon" (a due job
 * to be delivered, a worker to pick a job up). Generous on purpose: the upper
 * bounds are loose so that a loaded machine does not make the suite flaky,
 * while the lower bounds (never before due) are strict.
 */
export const SOON_MS = 3_000;

/** Stats of a queue holding nothing. */
export const NO_JOBS: JobStats = { waiting: 0, active: 0, completed: 0, dead: 0, cancelled: 0 };

/** Stats with the given counts and zero elsewhere. */
export function jobStats(counts: Partial<JobStats>): JobStats {
  return { ...NO_JOBS, ...counts };
}

/** The job, failing the case when it is missing. */
export async function jobOf<T>(queue: JobQueue<T>, id: string): Promise<Job<T>> {
  const job = await queue.get(id);
  if (job === null) return expect.unreachable(`job ${id} is missing`);
  return job;
}

/**
 * Polls `probe` until it returns something other than null, undefined or
 * false, and returns that; fails the case after `timeoutMs`.
 */
export async function waitFor<T>(
  what: string,
  probe: () => Promise<T | null | undefined | false> | T | null | undefined | false,
  timeoutMs: number = SOON_MS,
  intervalMs = 5,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (value !== null && value !== undefined && value !== false) return value;
    if (Date.now() > deadline) return expect.unreachable(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await sleep(intervalMs);
  }
}

/** A lease obtained by polling `dequeue`, with the local time it arrived. */
export interface TimedLease<T> {
  readonly lease: Lease<T>;
  /** `Date.now()` right after `dequeue` returned it. */
  readonly receivedAt: number;
}

/** Dequeues, polling until a job is due; fails the case after `timeoutMs`. */
export async function dequeueSoon<T>(
  queue: JobQueue<T>,
  what = 'a job to be delivered',
  options: { readonly leaseMs?: number } = {},
  timeoutMs: number = SOON_MS,
): Promise<TimedLease<T>> {
  return waitFor(
    what,
    async () => {
      const lease = await queue.dequeue(options);
      return lease === null ? null : { lease, receivedAt: Date.now() };
    },
    timeoutMs,
    2,
  );
}

/** Dequeues once, failing the case when nothing is due. */
export async function dequeueNow<T>(
  queue: JobQueue<T>,
  options: { readonly leaseMs?: number } = {},
): Promise<Lease<T>> {
  const lease = await queue.dequeue(options);
  if (lease === null) return expect.unreachable('expected a due job, but dequeue returned null');
  return lease;
}

/** Asserts `actual` lies in [expected - below, expected + above]. */
export function expectNear(actual: number, expected: number, below: number, above: number, what: string): void {
  expect(actual, `${what}: expected about ${expected} (-${below}/+${above}), got ${actual}`).toBeGreaterThanOrEqual(
    expected - below,
  );
  expect(actual, `${what}: expected about ${expected} (-${below}/+${above}), got ${actual}`).toBeLessThanOrEqual(
    expected + above,
  );
}

/** Asserts an engine timestamp lies within the local window [before, after], with clock slack. */
export function expectStampedBetween(date: Date | undefined, before: number, after: number, what: string): void {
  expect(date, what).toBeInstanceOf(Date);
  const time = date?.getTime() ?? Number.NaN;
  expect(time, `${what} is before the call`).toBeGreaterThanOrEqual(before - CLOCK_TOLERANCE_MS);
  expect(time, `${what} is after the call`).toBeLessThanOrEqual(after + CLOCK_TOLERANCE_MS);
}

/** A lease that is not the current one: same job, another token. */
export function withToken<T>(lease: Lease<T>, token: string): Lease<T> {
  return { ...lease, token };
}

/**
 * Asserts that `backend.queue(name)` is refused with `code`, either at once
 * or on first use: adapters may check lazily.
 */
export async function expectQueueRefused(backend: QueueBackend, name: unknown, code: BerthErrorCode): Promise<void> {
  let queue: JobQueue<DocumentValue>;
  try {
    queue = backend.queue(name as string);
  } catch (error) {
    await expectBerthError(Promise.reject(error), code);
    return;
  }
  await expectBerthError(() => queue.enqueue({ refused: true }), code);
  await expectBerthError(() => queue.dequeue(), code);
  await expectBerthError(() => queue.stats(), code);
}

class StopReason extends Error {}

/** A signal that has already fired, and the reason it fired with. */
export function abortedSignal(): { readonly signal: AbortSignal; readonly reason: Error } {
  const reason = new StopReason('caller gave up');
  const controller = new AbortController();
  controller.abort(reason);
  return { signal: controller.signal, reason };
}

/** Closes every worker, even when one of them fails to close. */
export async function closeAll(workers: readonly Worker[]): Promise<void> {
  const results = await Promise.allSettled(workers.map((worker) => worker.close()));
  for (const result of results) if (result.status === 'rejected') throw result.reason;
}

/** Ids unique to this run, as an engine with global job ids needs. */
let exportedCount = 0;
function exportedId(label: string): string {
  exportedCount += 1;
  return `imported-${label}-${Date.now().toString(36)}-${Math.random().toString(36).slice(2, 8)}-${exportedCount}`;
}

/** A job as another backend's `get()` would give it, in state `state`, for `importJobs`. */
export function exported(changes: Partial<Job<DocumentValue>> & Pick<Job<DocumentValue>, 'state'>): Job<DocumentValue> {
  const finished = changes.state !== 'waiting';
  return {
    id: exportedId(changes.state),
    queue: 'elsewhere',
    payload: { to: 'ada@example.com', n: 1 },
    priority: 0,
    attempts: 0,
    maxAttempts: 3,
    runAt: new Date('2020-01-01T00:00:00.001Z'),
    dedupeKey: undefined,
    leaseMs: 30_000,
    errors: [],
    result: undefined,
    progress: undefined,
    timeoutMs: undefined,
    createdAt: new Date('2019-12-31T23:59:59.999Z'),
    updatedAt: new Date('2020-01-01T00:00:01.234Z'),
    finishedAt: finished ? new Date('2020-01-01T00:00:01.234Z') : undefined,
    leaseExpiresAt: undefined,
    ...changes,
  };
}

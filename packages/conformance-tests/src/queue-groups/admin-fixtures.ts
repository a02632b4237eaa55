import type { DocumentValue, Job, JobQueue, JobState, ListJobsOptions, QueueBackend } from '@berth/core';
import { expect } from 'vitest';
import type { QueueConformanceContext } from '../harness.js';
import { dequeueNow } from './queue-assertions.js';

/** The states a job can be in, in the order the cases create them. */
export const ALL_STATES: readonly JobState[] = ['waiting', 'active', 'completed', 'dead', 'cancelled'];

/**
 * Enqueues `payload` and brings the job to `state` through the public
 * operations only. An `active` job keeps a lease of `leaseMs` (default one
 * minute), so it stays active for the case.
 */
export async function jobInState<T extends DocumentValue>(
  queue: JobQueue<T>,
  state: JobState,
  payload: T,
  leaseMs = 60_000,
): Promise<string> {
  const { id } = await queue.enqueue(payload, {
    ...(state === 'waiting' ? {} : { priority: 1_000 }),
    backoff: { type: 'fixed', delayMs: 60_000 },
  });
  if (state === 'waiting') return id;
  if (state === 'cancelled') {
    expect(await queue.cancel(id)).toBe(true);
    return id;
  }
  const lease = await dequeueNow(queue, { leaseMs });
  expect(lease.job.id, 'the job just enqueued with the highest priority was not delivered first').toBe(id);
  if (state === 'completed') await queue.complete(lease, { done: true });
  if (state === 'dead') await queue.fail(lease, new Error(`${id} failed for good`), { retry: false });
  return id;
}

/** Job ids in listing order: `createdAt`, then id by code unit; `newest` reverses both. */
export function listingOrder(jobs: readonly Job<unknown>[], order: 'newest' | 'oldest'): string[] {
  const sorted = [...jobs].sort((a, b) => {
    const byTime = a.createdAt.getTime() - b.createdAt.getTime();
    if (byTime !== 0) return byTime;
    return a.id < b.id ? -1 : a.id > b.id ? 1 : 0;
  });
  if (order === 'newest') sorted.reverse();
  return sorted.map((job) => job.id);
}

/** Every page of a listing, followed cursor by cursor; fails the case past `maxPages`. */
export async function listAll<T>(
  queue: JobQueue<T>,
  options: Omit<ListJobsOptions, 'cursor'> = {},
  maxPages = 1_000,
  between?: (page: number) => Promise<void>,
): Promise<{ readonly jobs: Job<T>[]; readonly pages: number }> {
  const jobs: Job<T>[] = [];
  let cursor: string | undefined;
  for (let page = 1; page <= maxPages; page++) {
    const result = await queue.listJobs({ ...options, ...(cursor === undefined ? {} : { cursor }) });
    expect(result.jobs.length, `page ${page} holds more than the limit`).toBeLessThanOrEqual(options.limit ?? 50);
    jobs.push(...result.jobs);
    if (result.cursor === undefined) return { jobs, pages: page };
    expect(typeof result.cursor, 'a cursor is a string').toBe('string');
    cursor = result.cursor;
    await between?.(page);
  }
  return expect.unreachable(`the listing did not end within ${maxPages} pages`);
}

/** Every job of the queue, read with `get` (the cases compare listings with it). */
export async function jobsById<T>(queue: JobQueue<T>, ids: readonly string[]): Promise<Job<T>[]> {
  const jobs = await Promise.all(ids.map((id) => queue.get(id)));
  return jobs.map((job, index) => job ?? expect.unreachable(`job ${ids[index]} is missing`));
}

/**
 * Queue objects that all name queue `name`: two from the test's backend and,
 * where the run can open a second backend on the same storage (another
 * process, as far as the engine can tell), one from that backend too.
 */
export async function sameNameQueues<T>(
  context: QueueConformanceContext,
  name: string,
): Promise<{ readonly queues: JobQueue<T>[]; readonly backends: number }> {
  const queues = [context.backend.queue<T>(name), context.backend.queue<T>(name)];
  if (context.openSameStorage === undefined) return { queues, backends: 1 };
  const second: QueueBackend = await context.openSameStorage();
  queues.push(second.queue<T>(name), second.queue<T>(name));
  return { queues, backends: 2 };
}

/** Ids that occur more than once. */
export function repeated(ids: readonly string[]): string[] {
  const seen = new Set<string>();
  const twice = new Set<string>();
  for (const id of ids) {
    if (seen.has(id)) twice.add(id);
    seen.add(id);
  }
  return [...twice];
}

import type { JobState } from '@berth/core';
import {
  comparePositions,
  type JobPosition,
  matchesNode,
  type NormalizedBulkJobs,
  type NormalizedListJobs,
  type NormalizedRetention,
} from '@berth/core/adapter';
import type { MemoryJob, MemoryQueueState } from './memory-queue-state.js';

const STATES: readonly JobState[] = ['waiting', 'active', 'completed', 'dead', 'cancelled'];

/** Every state's jobs in one listing order: a merge of the state indexes, reading one job per job yielded. */
function* allStates(
  state: MemoryQueueState,
  order: 'newest' | 'oldest',
  after: JobPosition | undefined,
): IterableIterator<MemoryJob> {
  const iterators = STATES.map((name) =>
    order === 'oldest' ? state.byState[name].ascending(after) : state.byState[name].descending(after),
  );
  const heads = iterators.map((iterator) => iterator.next().value as MemoryJob | undefined);
  const sign = order === 'oldest' ? 1 : -1;
  for (;;) {
    let best = -1;
    for (let index = 0; index < heads.length; index++) {
      const head = heads[index];
      if (head === undefined) continue;
      if (best < 0 || sign * comparePositions(head, heads[best] as MemoryJob) < 0) best = index;
    }
    if (best < 0) return;
    yield heads[best] as MemoryJob;
    heads[best] = (iterators[best] as IterableIterator<MemoryJob>).next().value as MemoryJob | undefined;
  }
}

function candidates(
  state: MemoryQueueState,
  jobState: JobState | undefined,
  order: 'newest' | 'oldest',
  after: JobPosition | undefined,
): IterableIterator<MemoryJob> {
  if (jobState === undefined) return allStates(state, order, after);
  const index = state.byState[jobState];
  return order === 'oldest' ? index.ascending(after) : index.descending(after);
}

/**
 * One page of `listJobs`, read from the state indexes. The page looks one
 * job ahead, so a page that ends the listing has no cursor; with a payload
 * filter the look-ahead examines jobs until one matches, and a page that
 * reaches `maxExamined` first ends with the cursor of the last job it
 * examined (possibly after an empty page).
 */
export function listMemoryJobs(
  state: MemoryQueueState,
  options: NormalizedListJobs,
): { readonly jobs: MemoryJob[]; readonly cursor: string | undefined } {
  const jobs: MemoryJob[] = [];
  let examined = 0;
  for (const job of candidates(state, options.state, options.order, options.after)) {
    if (options.payload === undefined || matchesNode(job.payload, options.payload)) {
      if (jobs.length === options.limit) {
        return { jobs, cursor: options.cursorAfter(jobs[jobs.length - 1] as MemoryJob) };
      }
      jobs.push(job);
    }
    examined += 1;
    if (options.payload !== undefined && examined >= options.maxExamined) {
      // Stopped at the bound: go on after the last job examined (or returned, when the page is full).
      return {
        jobs,
        cursor: options.cursorAfter(jobs.length === options.limit ? (jobs[jobs.length - 1] as MemoryJob) : job),
      };
    }
  }
  return { jobs, cursor: undefined };
}

/**
 * One step of a bulk operation: examines up to `limit` jobs of the state,
 * oldest first, and applies `change` to those whose payload matches (it
 * says whether it changed the job or skipped it). The examined jobs are
 * collected before any change, since a change moves them out of the index.
 */
export function bulkMemoryJobs(
  state: MemoryQueueState,
  options: NormalizedBulkJobs,
  change: (job: MemoryJob) => boolean,
): { readonly changed: number; readonly skipped: number; readonly cursor: string | undefined } {
  const examined: MemoryJob[] = [];
  let more = false;
  for (const job of state.byState[options.state].ascending(options.after)) {
    if (examined.length === options.limit) {
      more = true;
      break;
    }
    examined.push(job);
  }
  let changed = 0;
  let skipped = 0;
  for (const job of examined) {
    if (job.state !== options.state) continue;
    if (options.payload !== undefined && !matchesNode(job.payload, options.payload)) continue;
    if (change(job)) changed += 1;
    else skipped += 1;
  }
  const last = examined[examined.length - 1];
  return { changed, skipped, cursor: more && last !== undefined ? options.cursorAfter(last) : undefined };
}

/**
 * Applies a retention policy: per finished state, removes the jobs that
 * finished before `now - maxAgeMs`, then the oldest-finished beyond
 * `maxCount`, at most `limit` in all. It reads the finish order from its
 * oldest end and stops at the first job it keeps, so the cost is the jobs
 * it removes.
 */
export function pruneMemoryJobs(
  state: MemoryQueueState,
  retention: NormalizedRetention,
  limit: number,
  now: number,
): number {
  let removed = 0;
  for (const jobState of ['completed', 'cancelled', 'dead'] as const) {
    const rule = retention[jobState];
    if (rule === undefined) continue;
    const cutoff = rule.maxAgeMs === undefined ? Number.NEGATIVE_INFINITY : now - rule.maxAgeMs;
    const maxCount = rule.maxCount ?? Number.POSITIVE_INFINITY;
    for (let job = state.oldestFinished(jobState); job !== undefined && removed < limit; ) {
      if ((job.finishedAt as number) >= cutoff && state.counts[jobState] <= maxCount) break;
      const next = job.finishedAfter;
      state.remove(job);
      removed += 1;
      job = next;
    }
  }
  return removed;
}

/**
 * `purge`: removes the jobs of `states` that finished before `before`,
 * reading each finish order from its oldest end (the cost is the jobs removed).
 */
export function purgeMemoryJobs(state: MemoryQueueState, states: readonly JobState[], before: number): number {
  let removed = 0;
  for (const jobState of ['completed', 'cancelled', 'dead'] as const) {
    if (!states.includes(jobState)) continue;
    for (let job = state.oldestFinished(jobState); job !== undefined && (job.finishedAt as number) < before; ) {
      const next = job.finishedAfter;
      state.remove(job);
      removed += 1;
      job = next;
    }
  }
  return removed;
}

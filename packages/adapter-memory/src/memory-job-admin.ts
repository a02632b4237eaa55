import type { JobState } from '@berth/core';
import {
  type BulkChange,
  bulkStepOfJobs,
  JOB_STATES,
  type JobAccess,
  type JobPosition,
  mergeJobStreams,
  type NormalizedBulkJobs,
  type NormalizedListJobs,
  type NormalizedRetention,
  pageOfJobs,
} from '@berth/core/adapter';
import type { MemoryJob, MemoryQueueState } from './memory-queue-state.js';

/** A memory job is its own position (`createdAt`, `id`). */
const ACCESS: JobAccess<MemoryJob> = { position: (job) => job, payload: (job) => job.payload };

function candidates(
  state: MemoryQueueState,
  jobState: JobState | undefined,
  order: 'newest' | 'oldest',
  after: JobPosition | undefined,
): Iterable<MemoryJob> {
  const stream = (name: JobState): IterableIterator<MemoryJob> =>
    order === 'oldest' ? state.byState[name].ascending(after) : state.byState[name].descending(after);
  if (jobState !== undefined) return stream(jobState);
  // Every state's jobs in one listing order: a merge of the state indexes.
  return mergeJobStreams(JOB_STATES.map(stream), order, ACCESS.position);
}

/** One page of `listJobs`, read from the state indexes (see core's `pageOfJobs`). */
export function listMemoryJobs(
  state: MemoryQueueState,
  options: NormalizedListJobs,
): { readonly jobs: MemoryJob[]; readonly cursor: string | undefined } {
  return pageOfJobs(candidates(state, options.state, options.order, options.after), options, ACCESS);
}

/** One step of a bulk operation over the state index (see core's `bulkStepOfJobs`). */
export function bulkMemoryJobs(
  state: MemoryQueueState,
  options: NormalizedBulkJobs,
  change: (job: MemoryJob) => BulkChange,
): { readonly changed: number; readonly skipped: number; readonly cursor: string | undefined } {
  const step = bulkStepOfJobs(state.byState[options.state].ascending(options.after), options, ACCESS, (job) =>
    // The examined jobs are read before any change; skip one that has left the state since.
    job.state === options.state ? change(job) : 'unchanged',
  );
  return { changed: step.changed.length, skipped: step.skipped, cursor: step.cursor };
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

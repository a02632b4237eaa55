import type { Job, JobQueue, JobState } from '@berth/core';
import { JOB_STATES } from '@berth/core/adapter';

/** One state change `berth queue … tail` saw. `from` is `null` for a job it had not seen before (a new job). */
export interface JobMove {
  readonly at: Date;
  readonly queue: string;
  readonly jobId: string;
  readonly from: JobState | null;
  readonly to: JobState;
  readonly attempts: number;
}

/** Jobs looked at per state and poll: the newest this many of each state. */
const TAIL_WINDOW = 200;

/**
 * Follows a queue's jobs through their states by polling `listJobs`: every
 * engine's `queue.events()` reports only the changes made by its own process
 * (`capabilities.queue.events` is `process`), and `berth` runs in a process
 * of its own. Each poll reads the newest {@link TAIL_WINDOW} jobs of every
 * state and reports those whose state differs from the previous poll; a job
 * that moves through several states between two polls is one line (first
 * seen → now). Ends when `signal` aborts.
 */
export async function* tailQueue(
  queue: JobQueue,
  intervalMs: number,
  signal: AbortSignal,
  ready: () => void,
): AsyncGenerator<JobMove> {
  let known = await snapshot(queue, signal);
  ready();
  while (!signal.aborted) {
    await sleep(intervalMs, signal);
    if (signal.aborted) return;
    const current = await snapshot(queue, signal);
    const moves: JobMove[] = [];
    for (const job of current.values()) {
      const before = known.get(job.id);
      if (before?.state === job.state) continue;
      moves.push({
        at: job.updatedAt,
        queue: queue.name,
        jobId: job.id,
        from: before?.state ?? null,
        to: job.state,
        attempts: job.attempts,
      });
    }
    moves.sort((a, b) => a.at.getTime() - b.at.getTime() || (a.jobId < b.jobId ? -1 : a.jobId > b.jobId ? 1 : 0));
    yield* moves;
    known = current;
  }
}

async function snapshot(queue: JobQueue, signal: AbortSignal): Promise<Map<string, Job<unknown>>> {
  const jobs = new Map<string, Job<unknown>>();
  for (const state of JOB_STATES) {
    const page = await queue.listJobs({ state, limit: TAIL_WINDOW, order: 'newest', signal });
    for (const job of page.jobs) jobs.set(job.id, job);
  }
  return jobs;
}

function sleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    const timer = setTimeout(done, ms);
    function done(): void {
      clearTimeout(timer);
      signal.removeEventListener('abort', done);
      resolve();
    }
    signal.addEventListener('abort', done, { once: true });
  });
}

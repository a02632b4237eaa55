import type { Backend, Job, JobQueue, JobState, ScheduleRecord } from '@berth/core';
import type { CheckpointState } from './checkpoint-state.js';
import { stopIfAborted } from './copy-collection.js';
import type { CopyBackendsOptions, JobsCopied, QueueCopyReport, QueueCounts } from './copy-types.js';
import { MAX_JOBS_PAGE } from './queue-digest.js';

/** Jobs and schedules a target queue already holds (a non-empty target is refused unless resuming). */
export async function queueContents(backend: Backend, name: string, signal: AbortSignal | undefined): Promise<number> {
  const queue = backend.queue(name);
  const stats = await queue.stats({ signal });
  const jobs = Object.values(stats).reduce((sum, count) => sum + count, 0);
  return jobs + (await queue.listSchedules({ signal })).length;
}

/**
 * Copies one queue's waiting and dead jobs (oldest first, a page at a time)
 * and the schedules the target lacks. Importing is idempotent (jobs whose id
 * the target holds are skipped), so a resumed run simply goes through the
 * queue again.
 */
export async function copyQueue(
  name: string,
  options: CopyBackendsOptions & { readonly batchSize: number },
  checkpoint: CheckpointState,
): Promise<QueueCopyReport> {
  const { from, to, batchSize, signal } = options;
  await checkpoint.saveQueue(name, false);
  const source = from.queue(name);
  const target = to.queue(name);
  const waiting = await copyJobs(source, target, 'waiting', Math.min(batchSize, MAX_JOBS_PAGE), signal);
  const dead = await copyJobs(source, target, 'dead', Math.min(batchSize, MAX_JOBS_PAGE), signal);
  const schedules = await copySchedules(source, target, signal);
  await checkpoint.saveQueue(name, true);
  options.onProgress?.({
    type: 'queue-done',
    queue: name,
    imported: waiting.imported + dead.imported,
    skipped: waiting.skipped + dead.skipped,
  });
  return { name, waiting, dead, schedules };
}

async function copyJobs(
  source: JobQueue,
  target: JobQueue,
  state: JobState,
  limit: number,
  signal: AbortSignal | undefined,
): Promise<JobsCopied> {
  let listed = 0;
  let imported = 0;
  let skipped = 0;
  let cursor: string | undefined;
  do {
    stopIfAborted(signal);
    const page = await source.listJobs({ state, order: 'oldest', limit, cursor, signal });
    const result = await target.importJobs(page.jobs as Job[]);
    listed += page.jobs.length;
    imported += result.imported;
    skipped += result.skipped;
    cursor = page.cursor;
  } while (cursor !== undefined);
  return { listed, imported, skipped };
}

async function copySchedules(
  source: JobQueue,
  target: JobQueue,
  signal: AbortSignal | undefined,
): Promise<{ copied: number; existing: number }> {
  let copied = 0;
  let existing = 0;
  for (const schedule of await source.listSchedules({ signal })) {
    if ((await target.getSchedule(schedule.name, { signal })) !== null) {
      existing += 1;
      continue;
    }
    await target.putSchedule(scheduleInput(schedule), { signal });
    copied += 1;
  }
  return { copied, existing };
}

/**
 * The writable part of a schedule: its definition and next tick (`lastRunAt`,
 * times and version are the target's own). `canonicalSchedule` hashes the same fields.
 */
function scheduleInput({ name, spec, payload, jobOptions, missed, overlap, paused, nextRunAt }: ScheduleRecord) {
  return { name, spec, payload, jobOptions, missed, overlap, paused, nextRunAt };
}

/** The counts `--queues` verifies on each side. */
export async function queueCounts(
  backend: Backend,
  name: string,
  signal: AbortSignal | undefined,
): Promise<QueueCounts> {
  const queue = backend.queue(name);
  const stats = await queue.stats({ signal });
  const schedules = (await queue.listSchedules({ signal })).length;
  return { waiting: stats.waiting, dead: stats.dead, schedules };
}

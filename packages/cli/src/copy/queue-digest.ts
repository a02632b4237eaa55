import { createHash } from 'node:crypto';
import type { Job, JobQueue, ScheduleRecord } from '@berth/core';
import { canonicalJson } from './checksum.js';
import { stopIfAborted } from './copy-collection.js';
import type { QueueDigest } from './copy-types.js';

/** The most jobs `listJobs` returns per page. */
export const MAX_JOBS_PAGE = 1_000;

const MODULUS = 1n << 256n;

/**
 * An order-independent checksum of canonical texts: the sum of their SHA-256
 * digests modulo 2^256, in 64 hex digits (all zeros when empty). A text
 * added twice counts twice.
 *
 * Why not one SHA-256 over the listing, as for collections: `listJobs` orders
 * by `createdAt`, then id, and jobs enqueued together share a `createdAt`
 * (one `enqueueMany`, one PostgreSQL transaction), so their order falls to
 * how each engine compares ids, where engines can disagree (UTF-16 code
 * units in JavaScript, UTF-8 bytes under PostgreSQL's `COLLATE "C"` and in
 * Redis sorted sets). A sum does not depend on the order and keeps memory
 * bounded (sorting the digests would hold them all). It is meant to catch
 * what an engine or a copy altered, not a forgery: different sets with equal
 * sums can be built on purpose, not stumbled upon.
 */
export class SetChecksum {
  private sum = 0n;
  private added = 0;

  add(text: string): void {
    const digest = BigInt(`0x${createHash('sha256').update(text).digest('hex')}`);
    this.sum = (this.sum + digest) % MODULUS;
    this.added += 1;
  }

  get count(): number {
    return this.added;
  }

  get hex(): string {
    return this.sum.toString(16).padStart(64, '0');
  }
}

/**
 * The canonical text of a job: exactly the fields `importJobs` promises to
 * keep (docs/semantics.md, "queue.importJobs"), which each engine was checked
 * to return unchanged after a copy. Not `queue` (the target's name is used)
 * nor `leaseExpiresAt` (no lease is copied). The fields are named one by one
 * so that a field added to `Job` later is not hashed before the copy keeps it.
 */
export function canonicalJob(job: Job<unknown>): string {
  const { id, payload, state, priority, attempts, maxAttempts, runAt, dedupeKey, leaseMs, errors } = job;
  const { result, progress, timeoutMs, createdAt, updatedAt, finishedAt } = job;
  return canonicalJson({
    id,
    payload,
    state,
    priority,
    attempts,
    maxAttempts,
    runAt,
    dedupeKey,
    leaseMs,
    errors: errors.map(({ attempt, message, name, at }) => ({ attempt, message, name, at })),
    result,
    progress,
    timeoutMs,
    createdAt,
    updatedAt,
    finishedAt,
  });
}

/**
 * The canonical text of a schedule: what the copy writes (its definition and
 * next tick, see `scheduleInput` in copy-queues.ts). `version`, `createdAt`,
 * `updatedAt`, `lastRunAt` and `lastJobId` are the target's own after a copy
 * (`putSchedule` creates the schedule anew), so they are left out.
 */
export function canonicalSchedule(schedule: ScheduleRecord<unknown>): string {
  const { name, spec, payload, jobOptions, missed, overlap, paused, nextRunAt } = schedule;
  return canonicalJson({ name, spec, payload, jobOptions, missed, overlap, paused, nextRunAt });
}

/**
 * Reads a queue's waiting and dead jobs a page at a time (at most
 * `pageSize`, capped at 1 000) and its schedules, and returns their counts and
 * checksums.
 */
export async function digestQueue(
  queue: JobQueue,
  pageSize: number,
  signal: AbortSignal | undefined,
): Promise<QueueDigest> {
  const jobs = new SetChecksum();
  const counts = { waiting: 0, dead: 0 };
  const limit = Math.min(pageSize, MAX_JOBS_PAGE);
  // The states `berth copy --queues` copies.
  for (const state of ['waiting', 'dead'] as const) {
    let cursor: string | undefined;
    do {
      stopIfAborted(signal);
      const page = await queue.listJobs({ state, order: 'oldest', limit, cursor, signal });
      for (const job of page.jobs) jobs.add(canonicalJob(job));
      counts[state] += page.jobs.length;
      cursor = page.cursor;
    } while (cursor !== undefined);
  }
  const schedules = new SetChecksum();
  for (const schedule of await queue.listSchedules({ signal })) schedules.add(canonicalSchedule(schedule));
  return {
    ...counts,
    schedules: schedules.count,
    jobsChecksum: jobs.hex,
    schedulesChecksum: schedules.hex,
  };
}

/** Both sides of a queue agree on every count and checksum. */
export function sameQueue(source: QueueDigest, target: QueueDigest): boolean {
  return (
    source.waiting === target.waiting &&
    source.dead === target.dead &&
    source.schedules === target.schedules &&
    source.jobsChecksum === target.jobsChecksum &&
    source.schedulesChecksum === target.schedulesChecksum
  );
}

/** One side of a queue in a mismatch line. */
export function describeQueue(digest: QueueDigest): string {
  const { waiting, dead, schedules, jobsChecksum, schedulesChecksum } = digest;
  return (
    `${waiting} waiting, ${dead} dead, jobs checksum ${jobsChecksum}, ` +
    `${schedules} schedules, schedules checksum ${schedulesChecksum}`
  );
}

import { type PreparedImportJob, prepareImportJobs, storedJobError } from '@berth/core/adapter';
import { encodeDocument } from './redis-queue-rows.js';

/** An optional document value (result, progress) as the script's `[present, text]`. */
function optionalValue(value: PreparedImportJob['result']): [string, string] {
  return value === undefined ? ['0', ''] : ['1', encodeDocument(value)];
}

/**
 * The import script's 18 arguments of one job: id, payload, state,
 * priority, runAt, attempts, maxAttempts, leaseMs, dedupe key ('' = none),
 * errors JSON, result and progress (each a presence flag, then the text),
 * timeoutMs ('' = none), createdAt, updatedAt, finishedAt ('' = none).
 */
function jobArguments(job: PreparedImportJob): string[] {
  return [
    job.id,
    encodeDocument(job.payload),
    job.state,
    String(job.priority),
    String(job.runAt.getTime()),
    String(job.attempts),
    String(job.maxAttempts),
    String(job.leaseMs),
    job.dedupeKey ?? '',
    JSON.stringify(job.errors.map(storedJobError)),
    ...optionalValue(job.result),
    ...optionalValue(job.progress),
    job.timeoutMs === undefined ? '' : String(job.timeoutMs),
    String(job.createdAt.getTime()),
    String(job.updatedAt.getTime()),
    job.finishedAt === undefined ? '' : String(job.finishedAt.getTime()),
  ];
}

/**
 * The import script's arguments of every job, all checked by core's
 * `prepareImportJobs` (as enqueue checks a job, plus the fields only a
 * stored job has) before anything is stored. `job.queue` is not read: jobs
 * go to the queue imported into. Years 0 to 9999 keep createdAt within the
 * 15 characters of a listing member (see `listingMember`).
 */
export function importArguments(jobs: unknown, maxPayloadBytes: number): string[] {
  return prepareImportJobs(jobs, maxPayloadBytes).flatMap(jobArguments);
}

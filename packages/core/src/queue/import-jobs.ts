import { isBerthError, ValidationError } from '../errors.js';
import { checkStorableDate } from '../repository/import-entries.js';
import type { DocumentValue } from '../values/document.js';
import { checkId, checkString, copyValue, isPlainObject, MAX_DOCUMENT_BYTES } from '../values/values.js';
import type { Job, JobError, JobState } from './job.js';
import { checkDedupeKey, checkInteger } from './job-field-checks.js';
import { checkDuration, copyPayload, copyResult } from './job-options.js';

/**
 * The states `importJobs` accepts: an `active` job's lease belongs to a
 * worker of the source backend, so it is refused (import it as `waiting`).
 *
 * ### Examples
 * ```ts
 * import { type ImportedJobState, IMPORTABLE_JOB_STATES } from '@berth/core/adapter';
 *
 * const state: ImportedJobState = 'dead';
 * console.log(IMPORTABLE_JOB_STATES.includes(state)); // true
 * ```
 */
export type ImportedJobState = Exclude<JobState, 'active'>;

/**
 * Every state `importJobs` stores (all but `active`).
 *
 * ### Examples
 * ```ts
 * import { IMPORTABLE_JOB_STATES } from '@berth/core/adapter';
 *
 * console.log(IMPORTABLE_JOB_STATES.join(', ')); // waiting, completed, dead, cancelled
 * ```
 */
export const IMPORTABLE_JOB_STATES: readonly ImportedJobState[] = ['waiting', 'completed', 'dead', 'cancelled'];

/**
 * A job of `importJobs` once checked: every stored field, copied (payload,
 * result and progress as canonical values, fresh Dates). `queue` and
 * `leaseExpiresAt` of the given job are dropped: the target queue's name is
 * used, and no imported job is leased.
 *
 * ### Examples
 * ```ts
 * import { type PreparedImportJob, prepareImportJobs } from '@berth/core/adapter';
 *
 * declare const jobs: readonly unknown[];
 * const prepared: PreparedImportJob[] = prepareImportJobs(jobs);
 * for (const job of prepared) console.log(job.id, job.state, job.runAt);
 * ```
 */
export interface PreparedImportJob extends Omit<Job, 'queue' | 'state' | 'finishedAt' | 'leaseExpiresAt'> {
  readonly state: ImportedJobState;
  /** Set exactly for the finished states (`completed`, `dead`, `cancelled`). */
  readonly finishedAt: Date | undefined;
}

function checkText(path: string, value: unknown): string {
  if (typeof value !== 'string') throw new ValidationError(`${path} must be a string`, path);
  checkString(value, path);
  return value;
}

function checkState(value: unknown): ImportedJobState {
  if (value === 'active') {
    throw new ValidationError(
      'an active job cannot be imported (its lease belongs to a worker of the source): import it as waiting',
      'state',
    );
  }
  if (!IMPORTABLE_JOB_STATES.includes(value as ImportedJobState)) {
    throw new ValidationError(
      `state must be one of ${IMPORTABLE_JOB_STATES.join(', ')}, got ${String(value)}`,
      'state',
    );
  }
  return value as ImportedJobState;
}

function checkErrors(value: unknown): JobError[] {
  if (!Array.isArray(value))
    throw new ValidationError('errors must be an array of { attempt, message, name?, at }', 'errors');
  return value.map((error: unknown, index): JobError => {
    const path = `errors.${index}`;
    if (!isPlainObject(error)) throw new ValidationError(`${path} must be { attempt, message, name?, at }`, path);
    const name = error.name === undefined ? undefined : checkText(`${path}.name`, error.name);
    return {
      attempt: checkInteger(`${path}.attempt`, error.attempt, 0, 1_000_000),
      message: checkText(`${path}.message`, error.message),
      ...(name === undefined ? {} : { name }),
      at: checkStorableDate(error.at, `${path}.at`),
    };
  });
}

function prepareJob(job: unknown, maxPayloadBytes: number): PreparedImportJob {
  if (!isPlainObject(job)) throw new ValidationError('a job is an object as queue.get() returns it', '');
  const { id } = job;
  checkId(id);
  const state = checkState(job.state);
  const finished = state !== 'waiting';
  if (!finished && job.finishedAt !== undefined) {
    throw new ValidationError('a waiting job has no finishedAt', 'finishedAt');
  }
  return {
    id,
    payload: copyPayload<DocumentValue>(job.payload, 'payload', maxPayloadBytes),
    state,
    priority: checkInteger('priority', job.priority, -1_000_000, 1_000_000),
    attempts: checkInteger('attempts', job.attempts, 0, 1_000_000),
    maxAttempts: checkInteger('maxAttempts', job.maxAttempts, 1, 1_000_000),
    runAt: checkStorableDate(job.runAt, 'runAt'),
    dedupeKey: checkDedupeKey(job.dedupeKey),
    leaseMs: checkDuration('leaseMs', job.leaseMs, 1),
    errors: checkErrors(job.errors),
    result: copyResult(job.result, maxPayloadBytes),
    progress: job.progress === undefined ? undefined : copyValue(job.progress, 'progress', maxPayloadBytes),
    timeoutMs: job.timeoutMs === undefined ? undefined : checkDuration('timeoutMs', job.timeoutMs, 1),
    createdAt: checkStorableDate(job.createdAt, 'createdAt'),
    updatedAt: checkStorableDate(job.updatedAt, 'updatedAt'),
    finishedAt: finished ? checkStorableDate(job.finishedAt, 'finishedAt') : undefined,
  };
}

/**
 * What every queue adapter does before `importJobs` stores anything: checks
 * that `jobs` is an array of jobs as `queue.get()` returns them and validates
 * each field as enqueue would (payload, result and progress values within
 * `maxPayloadBytes`, priority, attempts, max attempts, lease and timeout
 * ranges, valid Dates, the errors' shape, a dedupe key of 1–256 characters),
 * refuses `active` jobs, a finished job without `finishedAt`, a waiting one
 * with it, and an id given twice. A VALIDATION error names the job's path
 * (`0.attempts`, `2.errors.0.at`).
 *
 * ### Examples
 * ```ts
 * import type { Job } from '@berth/core';
 * import { prepareImportJobs } from '@berth/core/adapter';
 *
 * declare const exported: Job[];
 * const jobs = prepareImportJobs(exported, 64 * 1024);
 * console.log(jobs.filter((job) => job.state === 'dead').length, 'dead jobs to restore');
 * ```
 */
export function prepareImportJobs(jobs: unknown, maxPayloadBytes: number = MAX_DOCUMENT_BYTES): PreparedImportJob[] {
  if (!Array.isArray(jobs)) throw new ValidationError('importJobs takes an array of jobs', '');
  const seen = new Set<string>();
  return jobs.map((job: unknown, index) => {
    let prepared: PreparedImportJob;
    try {
      prepared = prepareJob(job, maxPayloadBytes);
    } catch (error) {
      if (!isBerthError(error, 'VALIDATION')) throw error;
      const path = error.path === '' ? String(index) : `${index}.${error.path}`;
      throw new ValidationError(`job ${index}: ${error.message}`, path, { cause: error });
    }
    if (seen.has(prepared.id)) {
      throw new ValidationError(
        `job ${index}: id ${JSON.stringify(prepared.id)} occurs twice in one importJobs call`,
        `${index}.id`,
      );
    }
    seen.add(prepared.id);
    return prepared;
  });
}

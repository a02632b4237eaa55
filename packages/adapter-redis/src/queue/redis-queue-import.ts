import { type DocumentValue, isBerthError, type JobState, ValidationError } from '@berth/core';
import {
  checkDuration,
  checkId,
  checkString,
  copyPayload,
  isPlainObject,
  normalizeEnqueueOptions,
  storedJobError,
} from '@berth/core/adapter';
import { encodeDocument } from './redis-queue-rows.js';

/** The states a job may be imported in: an active job's lease belongs to a worker of the source. */
const IMPORTED_STATES: ReadonlySet<JobState> = new Set(['waiting', 'completed', 'dead', 'cancelled']);

/** Listing keys hold createdAt in 15 digits (see `listingMember`): up to the year 33658. */
const MAX_CREATED_AT = 10 ** 15;

/** Most attempts a job may have started (maxAttempts' ceiling). */
const MAX_ATTEMPTS = 1_000_000;

function validDate(value: unknown, path: string): number {
  if (!(value instanceof Date) || Number.isNaN(value.getTime())) {
    throw new ValidationError(`${path} must be a valid Date`, path);
  }
  return value.getTime();
}

function checkErrors(value: unknown): string {
  if (!Array.isArray(value)) throw new ValidationError('errors must be an array of { attempt, message, at }', 'errors');
  return JSON.stringify(
    value.map((error: unknown, index) => {
      const path = `errors.${index}`;
      if (!isPlainObject(error)) throw new ValidationError(`${path} must be { attempt, message, name?, at }`, path);
      const { attempt, message, name, at } = error;
      if (typeof attempt !== 'number' || !Number.isSafeInteger(attempt) || attempt < 0 || attempt > MAX_ATTEMPTS) {
        throw new ValidationError(`${path}.attempt must be an integer from 0 to ${MAX_ATTEMPTS}`, `${path}.attempt`);
      }
      if (typeof message !== 'string') throw new ValidationError(`${path}.message must be a string`, `${path}.message`);
      checkString(message, `${path}.message`);
      if (name !== undefined) {
        if (typeof name !== 'string') throw new ValidationError(`${path}.name must be a string`, `${path}.name`);
        checkString(name, `${path}.name`);
      }
      validDate(at, `${path}.at`);
      return storedJobError({ attempt, message, name: name as string | undefined, at: at as Date });
    }),
  );
}

/** An optional document value (result, progress) as `[present, text]`. */
function optionalValue(value: unknown, path: string, maxBytes: number): [string, string] {
  if (value === undefined) return ['0', ''];
  return ['1', encodeDocument(copyPayload<DocumentValue>(value, path, maxBytes))];
}

/**
 * The import script's 18 arguments of one job: id, payload, state, priority,
 * runAt, attempts, maxAttempts, leaseMs, dedupe key ('' = none), errors
 * JSON, result and progress (each a presence flag then the text), timeoutMs
 * ('' = none), createdAt, updatedAt, finishedAt ('' = none). Checked as
 * enqueue checks a job (its own rules for the options), plus the fields
 * only a stored job has; a VALIDATION error's path names the field.
 */
function jobArguments(job: unknown, maxPayloadBytes: number): string[] {
  if (!isPlainObject(job)) throw new ValidationError('a job is an object as listJobs returns it', '');
  const state = job.state as JobState;
  if (state === 'active') {
    throw new ValidationError(
      'an active job cannot be imported (its lease is held elsewhere): import it as waiting',
      'state',
    );
  }
  if (!IMPORTED_STATES.has(state)) {
    throw new ValidationError('state must be waiting, completed, dead or cancelled', 'state');
  }
  checkId(job.id);
  const payload = copyPayload<DocumentValue>(job.payload, 'payload', maxPayloadBytes);
  validDate(job.runAt, 'runAt');
  // Enqueue's own checks of the options a job keeps (ranges, dedupe key, runAt).
  const options = normalizeEnqueueOptions(
    {
      runAt: job.runAt as Date,
      priority: job.priority as number,
      maxAttempts: job.maxAttempts as number,
      leaseMs: job.leaseMs as number,
      dedupeKey: (job.dedupeKey ?? undefined) as string | undefined,
      timeoutMs: (job.timeoutMs ?? undefined) as number | undefined,
    },
    0,
  );
  const attempts = checkDuration('attempts', job.attempts);
  if (attempts > MAX_ATTEMPTS) throw new ValidationError(`attempts must be at most ${MAX_ATTEMPTS}`, 'attempts');
  const createdAt = validDate(job.createdAt, 'createdAt');
  if (createdAt >= MAX_CREATED_AT) {
    throw new ValidationError(
      'createdAt must be before the year 33658 (Redis listing keys hold 15 digits)',
      'createdAt',
    );
  }
  const updatedAt = validDate(job.updatedAt, 'updatedAt');
  const finished = state !== 'waiting';
  const finishedAt =
    job.finishedAt === undefined ? (finished ? updatedAt : undefined) : validDate(job.finishedAt, 'finishedAt');
  return [
    job.id,
    encodeDocument(payload),
    state,
    String(options.priority),
    String(options.runAt.getTime()),
    String(attempts),
    String(options.maxAttempts),
    String(options.leaseMs),
    options.dedupeKey ?? '',
    checkErrors(job.errors),
    ...optionalValue(job.result, 'result', maxPayloadBytes),
    ...optionalValue(job.progress, 'progress', maxPayloadBytes),
    options.timeoutMs === undefined ? '' : String(options.timeoutMs),
    String(createdAt),
    String(updatedAt),
    finished && finishedAt !== undefined ? String(finishedAt) : '',
  ];
}

/**
 * The import script's arguments of every job, all checked before anything
 * is stored; an error names the job (`0.attempts`). `job.queue` is not read:
 * jobs go to the queue imported into.
 */
export function importArguments(jobs: readonly unknown[], maxPayloadBytes: number): string[] {
  const args: string[] = [];
  jobs.forEach((job, index) => {
    try {
      args.push(...jobArguments(job, maxPayloadBytes));
    } catch (error) {
      if (!isBerthError(error, 'VALIDATION')) throw error;
      const path = error.path === '' ? String(index) : `${index}.${error.path}`;
      throw new ValidationError(`job ${index}: ${error.message}`, path, { cause: error });
    }
  });
  return args;
}

import { ValidationError } from '../errors.js';
import { decodeCursor, encodeCursor, queryFingerprint } from '../query/cursor.js';
import { type FilterNode, matchesNode, parseFilter } from '../query/filter.js';
import { isPlainObject } from '../values/values.js';
import { FINISHED_JOB_STATES, type JobState } from './job.js';
import type {
  BulkJobsOptions,
  JobOrder,
  ListJobsOptions,
  PruneOptions,
  RetentionPolicy,
  RetryJobsOptions,
} from './job-admin.js';
import { checkDuration } from './job-options.js';
import type { PurgeOptions } from './job-queue.js';

/**
 * Every job state, in the order a job can pass them.
 *
 * ### Examples
 * ```ts
 * import type { JobStats } from '@berth/core';
 * import { JOB_STATES } from '@berth/core/adapter';
 *
 * const empty = Object.fromEntries(JOB_STATES.map((state) => [state, 0])) as JobStats;
 * ```
 */
export const JOB_STATES: readonly JobState[] = ['waiting', 'active', 'completed', 'dead', 'cancelled'];

/**
 * Most jobs one `listJobs` page examines when it filters payloads (the page then ends early with a cursor).
 *
 * ### Examples
 * ```ts
 * import { MAX_JOBS_EXAMINED, normalizeListJobs } from '@berth/core/adapter';
 *
 * const list = normalizeListJobs('mails', { payload: { to: 'ada@example.com' } });
 * console.log(list.maxExamined === MAX_JOBS_EXAMINED); // true
 * ```
 */
export const MAX_JOBS_EXAMINED = 10_000;

/**
 * Where a listing or a bulk step stands: after the job created at
 * `createdAt` (ms) with id `id`, in the listing order.
 *
 * ### Examples
 * ```ts
 * import { comparePositions, type JobPosition } from '@berth/core/adapter';
 *
 * const a: JobPosition = { createdAt: 1_000, id: 'j1' };
 * const b: JobPosition = { createdAt: 1_000, id: 'j2' };
 * comparePositions(a, b); // negative: same time, then by id
 * ```
 */
export interface JobPosition {
  readonly createdAt: number;
  readonly id: string;
}

/**
 * `listJobs` options, checked, with defaults applied.
 *
 * ### Examples
 * ```ts
 * import { type NormalizedListJobs, normalizeListJobs } from '@berth/core/adapter';
 *
 * const list: NormalizedListJobs = normalizeListJobs('mails', { state: 'dead', limit: 20 });
 * console.log(list.order, list.limit); // 'newest' 20
 * ```
 */
export interface NormalizedListJobs {
  readonly state: JobState | undefined;
  readonly order: JobOrder;
  readonly limit: number;
  /** Continue strictly after this job in `order`. */
  readonly after: JobPosition | undefined;
  /** The payload filter, parsed; `undefined` for none. */
  readonly payload: FilterNode | undefined;
  /** Give up (returning a cursor) after examining this many jobs. */
  readonly maxExamined: number;
  /** Encodes the cursor after `position` for this listing. */
  cursorAfter(position: JobPosition): string;
}

/**
 * Bulk options (`retryJobs`, `cancelJobs`), checked, with defaults applied. Bulk steps walk oldest first.
 *
 * ### Examples
 * ```ts
 * import { type NormalizedBulkJobs, normalizeRetryJobs } from '@berth/core/adapter';
 *
 * const bulk: NormalizedBulkJobs = normalizeRetryJobs('mails', { state: 'cancelled', limit: 100 });
 * console.log(bulk.state, bulk.limit); // 'cancelled' 100
 * ```
 */
export interface NormalizedBulkJobs {
  /** The state whose jobs are examined. */
  readonly state: JobState;
  /** Most jobs examined in this step. */
  readonly limit: number;
  readonly after: JobPosition | undefined;
  readonly payload: FilterNode | undefined;
  cursorAfter(position: JobPosition): string;
}

function checkInteger(name: string, value: unknown, min: number, max: number): number {
  if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < min || value > max) {
    throw new ValidationError(`${name} must be an integer from ${min} to ${max}, got ${String(value)}`, name);
  }
  return value;
}

function checkOptionsObject(options: unknown, what: string): Record<string, unknown> {
  if (options === undefined) return {};
  if (!isPlainObject(options)) throw new ValidationError(`${what} options must be an object`, '');
  return options;
}

function checkState(value: unknown, allowed: readonly JobState[], name = 'state'): JobState {
  if (typeof value !== 'string' || !allowed.includes(value as JobState)) {
    throw new ValidationError(
      `${name} must be one of ${allowed.map((state) => JSON.stringify(state)).join(', ')}, got ${JSON.stringify(value)}`,
      name,
    );
  }
  return value as JobState;
}

function fingerprintOf(kind: string, queue: string, state: unknown, order: string, payload: unknown): string {
  return queryFingerprint({ kind, queue, state: state ?? null, order, payload: payload ?? null }, []);
}

function positionOf(cursor: unknown, fingerprint: string): JobPosition {
  const position = decodeCursor(cursor, fingerprint, 1);
  const createdAt = position.values[0];
  if (typeof createdAt !== 'number' || !Number.isFinite(createdAt)) {
    throw new ValidationError('cursor is not valid: pass the cursor of a previous call unchanged', 'cursor');
  }
  return { createdAt, id: position.id };
}

function parsePayloadFilter(payload: unknown): FilterNode | undefined {
  if (payload === undefined) return undefined;
  try {
    return parseFilter(payload);
  } catch (error) {
    if (!(error instanceof ValidationError)) throw error;
    throw new ValidationError(`payload filter: ${error.message}`, `payload.${error.path}`.replace(/\.$/, ''), {
      cause: error,
    });
  }
}

/**
 * Checks `listJobs` options of queue `queue` and applies the defaults.
 *
 * ### Examples
 * ```ts
 * import { normalizeListJobs } from '@berth/core/adapter';
 *
 * const list = normalizeListJobs('mails', undefined); // every state, newest first, default page size
 * ```
 */
export function normalizeListJobs(queue: string, options: ListJobsOptions | undefined): NormalizedListJobs {
  const raw = checkOptionsObject(options, 'listJobs');
  const state = raw.state === undefined ? undefined : checkState(raw.state, JOB_STATES);
  const order = raw.order ?? 'newest';
  if (order !== 'newest' && order !== 'oldest') {
    throw new ValidationError(`order must be "newest" or "oldest", got ${JSON.stringify(order)}`, 'order');
  }
  const limit = checkInteger('limit', raw.limit ?? 50, 1, 1_000);
  const payload = parsePayloadFilter(raw.payload);
  const fingerprint = fingerprintOf('list', queue, state, order, raw.payload);
  return {
    state,
    order,
    limit,
    after: raw.cursor === undefined ? undefined : positionOf(raw.cursor, fingerprint),
    payload,
    maxExamined: payload === undefined ? limit : MAX_JOBS_EXAMINED,
    cursorAfter: (position) => encodeCursor(fingerprint, { values: [position.createdAt], id: position.id }),
  };
}

function normalizeBulk(kind: string, queue: string, state: JobState, raw: Record<string, unknown>): NormalizedBulkJobs {
  const limit = checkInteger('limit', raw.limit ?? 1_000, 1, 10_000);
  const payload = parsePayloadFilter(raw.payload);
  const fingerprint = fingerprintOf(kind, queue, state, 'oldest', raw.payload);
  return {
    state,
    limit,
    after: raw.cursor === undefined ? undefined : positionOf(raw.cursor, fingerprint),
    payload,
    cursorAfter: (position) => encodeCursor(fingerprint, { values: [position.createdAt], id: position.id }),
  };
}

/**
 * Checks `retryJobs` options of queue `queue`.
 *
 * ### Examples
 * ```ts
 * import { normalizeRetryJobs } from '@berth/core/adapter';
 *
 * const bulk = normalizeRetryJobs('mails', undefined); // dead jobs, oldest first
 * ```
 */
export function normalizeRetryJobs(queue: string, options: RetryJobsOptions | undefined): NormalizedBulkJobs {
  const raw = checkOptionsObject(options, 'retryJobs');
  const state = checkState(raw.state ?? 'dead', ['dead', 'cancelled']);
  return normalizeBulk('retry', queue, state, raw);
}

/**
 * Checks `cancelJobs` options of queue `queue`.
 *
 * ### Examples
 * ```ts
 * import { normalizeCancelJobs } from '@berth/core/adapter';
 *
 * const bulk = normalizeCancelJobs('mails', { payload: { tenant: 't1' } }); // waiting jobs of tenant t1
 * ```
 */
export function normalizeCancelJobs(queue: string, options: BulkJobsOptions | undefined): NormalizedBulkJobs {
  const raw = checkOptionsObject(options, 'cancelJobs');
  return normalizeBulk('cancel', queue, 'waiting', raw);
}

/**
 * Whether job position `a` comes before `b` in enqueue order (createdAt, then id by code unit).
 *
 * ### Examples
 * ```ts
 * import { comparePositions } from '@berth/core/adapter';
 *
 * const jobs = [{ createdAt: 2, id: 'b' }, { createdAt: 1, id: 'a' }].sort(comparePositions); // enqueue order
 * ```
 */
export function comparePositions(a: JobPosition, b: JobPosition): number {
  if (a.createdAt !== b.createdAt) return a.createdAt < b.createdAt ? -1 : 1;
  return a.id < b.id ? -1 : a.id > b.id ? 1 : 0;
}

/**
 * A finished state's retention, checked: `undefined` keeps its jobs forever.
 *
 * ### Examples
 * ```ts
 * import { type NormalizedRetentionRule, normalizeRetention } from '@berth/core/adapter';
 *
 * const completed: NormalizedRetentionRule | undefined = normalizeRetention({ completed: { maxCount: 50 } }).completed;
 * ```
 */
export interface NormalizedRetentionRule {
  readonly maxAgeMs: number | undefined;
  readonly maxCount: number | undefined;
}

/**
 * A retention policy, checked, one entry per finished state.
 *
 * ### Examples
 * ```ts
 * import { type NormalizedRetention, normalizeRetention } from '@berth/core/adapter';
 *
 * const retention: NormalizedRetention = normalizeRetention({ dead: null }); // dead jobs kept forever
 * ```
 */
export type NormalizedRetention = {
  readonly [S in 'completed' | 'cancelled' | 'dead']: NormalizedRetentionRule | undefined;
};

/**
 * The retention a queue has unless told otherwise: completed and cancelled
 * jobs for one day and at most 10 000 of each; dead jobs for 30 days, so
 * there is time to look at them and retry them.
 *
 * ### Examples
 * ```ts
 * import { DEFAULT_RETENTION } from '@berth/core/adapter';
 *
 * console.log(DEFAULT_RETENTION.dead?.maxAgeMs); // 30 days in milliseconds
 * ```
 */
export const DEFAULT_RETENTION: NormalizedRetention = {
  completed: { maxAgeMs: 86_400_000, maxCount: 10_000 },
  cancelled: { maxAgeMs: 86_400_000, maxCount: 10_000 },
  dead: { maxAgeMs: 30 * 86_400_000, maxCount: undefined },
};

function normalizeRule(state: string, rule: unknown, fallback: NormalizedRetentionRule | undefined) {
  if (rule === undefined) return fallback;
  if (rule === null) return undefined;
  if (!isPlainObject(rule)) {
    throw new ValidationError(`retention.${state} must be { maxAgeMs?, maxCount? } or null`, `retention.${state}`);
  }
  for (const key of Object.keys(rule)) {
    if (key !== 'maxAgeMs' && key !== 'maxCount') {
      throw new ValidationError(
        `retention.${state} takes maxAgeMs and maxCount, not ${JSON.stringify(key)}`,
        `retention.${state}.${key}`,
      );
    }
  }
  return {
    maxAgeMs: rule.maxAgeMs === undefined ? undefined : checkDuration(`retention.${state}.maxAgeMs`, rule.maxAgeMs),
    maxCount:
      rule.maxCount === undefined
        ? undefined
        : checkInteger(`retention.${state}.maxCount`, rule.maxCount, 0, Number.MAX_SAFE_INTEGER),
  };
}

/**
 * Checks a retention policy; states left out keep `base` (default: `DEFAULT_RETENTION`).
 *
 * ### Examples
 * ```ts
 * import { normalizeRetention } from '@berth/core/adapter';
 *
 * const queueRetention = normalizeRetention({ completed: { maxAgeMs: 3_600_000 } }); // others keep the defaults
 * ```
 */
export function normalizeRetention(
  policy: RetentionPolicy | undefined,
  base: NormalizedRetention = DEFAULT_RETENTION,
): NormalizedRetention {
  if (policy === undefined) return base;
  if (!isPlainObject(policy)) throw new ValidationError('retention must be an object', 'retention');
  for (const key of Object.keys(policy)) {
    if (!FINISHED_JOB_STATES.includes(key as JobState)) {
      throw new ValidationError(
        `retention takes completed, cancelled and dead, not ${JSON.stringify(key)}`,
        `retention.${key}`,
      );
    }
  }
  return {
    completed: normalizeRule('completed', policy.completed, base.completed),
    cancelled: normalizeRule('cancelled', policy.cancelled, base.cancelled),
    dead: normalizeRule('dead', policy.dead, base.dead),
  };
}

/**
 * `prune` options, checked: the policy to apply (the queue's own when none is given) and the bound.
 *
 * ### Examples
 * ```ts
 * import { normalizePrune, normalizeRetention } from '@berth/core/adapter';
 *
 * const { retention, limit } = normalizePrune({ limit: 500 }, normalizeRetention(undefined));
 * ```
 */
export function normalizePrune(
  options: PruneOptions | undefined,
  queueRetention: NormalizedRetention,
): { readonly retention: NormalizedRetention; readonly limit: number } {
  const raw = checkOptionsObject(options, 'prune');
  return {
    retention:
      raw.retention === undefined
        ? queueRetention
        : normalizeRetention(raw.retention as RetentionPolicy, queueRetention),
    limit: checkInteger('limit', raw.limit ?? 1_000, 1, 10_000),
  };
}

/**
 * How a listing or bulk step reads a candidate job: its position and its payload.
 *
 * ### Examples
 * ```ts
 * import type { JobAccess } from '@berth/core/adapter';
 *
 * interface Row { id: string; created: number; payload: unknown }
 *
 * const access: JobAccess<Row> = {
 *   position: (row) => ({ createdAt: row.created, id: row.id }),
 *   payload: (row) => row.payload,
 * };
 * ```
 */
export interface JobAccess<J> {
  position(job: J): JobPosition;
  payload(job: J): unknown;
}

/**
 * Streams of jobs each already in `order` (one per state) merged into one
 * stream in that order, pulling one job from a stream per job yielded.
 *
 * ### Examples
 * ```ts
 * import { mergeJobStreams } from '@berth/core/adapter';
 *
 * const waiting = [{ createdAt: 3, id: 'c' }, { createdAt: 1, id: 'a' }];
 * const dead = [{ createdAt: 2, id: 'b' }];
 * const newestFirst = [...mergeJobStreams([waiting.values(), dead.values()], 'newest', (job) => job)]; // c, b, a
 * ```
 */
export function* mergeJobStreams<J>(
  streams: readonly Iterator<J>[],
  order: JobOrder,
  position: (job: J) => JobPosition,
): Generator<J> {
  const heads = streams.map((stream) => stream.next());
  const sign = order === 'oldest' ? 1 : -1;
  for (;;) {
    let best = -1;
    for (let index = 0; index < heads.length; index++) {
      const head = heads[index] as IteratorResult<J>;
      if (head.done) continue;
      const current = heads[best];
      if (current === undefined || sign * comparePositions(position(head.value), position(current.value as J)) < 0) {
        best = index;
      }
    }
    if (best < 0) return;
    const head = heads[best] as IteratorYieldResult<J>;
    heads[best] = (streams[best] as Iterator<J>).next();
    yield head.value;
  }
}

/**
 * One page of `listJobs` from `candidates` in the listing's order (after its
 * cursor). It looks one match ahead, so a page that ends the listing has no
 * cursor; with a payload filter it stops before examining more than
 * `maxExamined` jobs and then goes on, next page, after the last one examined.
 *
 * ### Examples
 * ```ts
 * import { normalizeListJobs, pageOfJobs } from '@berth/core/adapter';
 *
 * const jobs = [{ createdAt: 1, id: 'a', payload: { to: 'x' } }, { createdAt: 2, id: 'b', payload: { to: 'y' } }];
 * const list = normalizeListJobs('mails', { order: 'oldest', limit: 1 });
 * const page = pageOfJobs(jobs, list, { position: (job) => job, payload: (job) => job.payload });
 * // page.jobs: [a], page.cursor: where the next page starts
 * ```
 */
export function pageOfJobs<J>(
  candidates: Iterable<J>,
  list: NormalizedListJobs,
  access: JobAccess<J>,
): { readonly jobs: J[]; readonly cursor: string | undefined } {
  const jobs: J[] = [];
  let examined = 0;
  let last: J | undefined;
  for (const job of candidates) {
    if (last !== undefined && examined === list.maxExamined) {
      return { jobs, cursor: list.cursorAfter(access.position(last)) };
    }
    examined += 1;
    last = job;
    if (list.payload !== undefined && !matchesNode(access.payload(job), list.payload)) continue;
    if (jobs.length === list.limit) return { jobs, cursor: list.cursorAfter(access.position(jobs.at(-1) as J)) };
    jobs.push(job);
  }
  return { jobs, cursor: undefined };
}

/**
 * What `change` did to one job of a bulk step.
 *
 * ### Examples
 * ```ts
 * import type { BulkChange } from '@berth/core/adapter';
 *
 * // Retrying a job another worker already took: skipped, counted, not an error.
 * const retry = (job: { state: string }): BulkChange => (job.state === 'dead' ? 'changed' : 'skipped');
 * ```
 */
export type BulkChange = 'changed' | 'skipped' | 'unchanged';

/**
 * One bulk step from `candidates` (the state's jobs, oldest first, after the
 * cursor): takes at most `limit` of them before changing any (a change moves
 * a job out of the state being walked), applies `change` to those whose
 * payload matches, and returns a cursor after the last one examined when
 * more may remain.
 *
 * ### Examples
 * ```ts
 * import { bulkStepOfJobs, normalizeRetryJobs } from '@berth/core/adapter';
 *
 * const dead = [{ createdAt: 1, id: 'a', payload: {} }, { createdAt: 2, id: 'b', payload: {} }];
 * const step = bulkStepOfJobs(dead, normalizeRetryJobs('mails', { limit: 10 }), { position: (j) => j, payload: (j) => j.payload }, () => 'changed');
 * console.log(step.changed.length, step.cursor); // 2 undefined
 * ```
 */
export function bulkStepOfJobs<J>(
  candidates: Iterable<J>,
  bulk: NormalizedBulkJobs,
  access: JobAccess<J>,
  change: (job: J) => BulkChange,
): { readonly changed: J[]; readonly skipped: number; readonly cursor: string | undefined } {
  const examined: J[] = [];
  let more = false;
  for (const job of candidates) {
    if (examined.length === bulk.limit) {
      more = true;
      break;
    }
    examined.push(job);
  }
  const changed: J[] = [];
  let skipped = 0;
  for (const job of examined) {
    if (bulk.payload !== undefined && !matchesNode(access.payload(job), bulk.payload)) continue;
    const outcome = change(job);
    if (outcome === 'changed') changed.push(job);
    else if (outcome === 'skipped') skipped += 1;
  }
  const last = examined.at(-1);
  return { changed, skipped, cursor: more && last !== undefined ? bulk.cursorAfter(access.position(last)) : undefined };
}

/**
 * `purge` options, checked: the time bound and the finished states to purge (each once).
 *
 * ### Examples
 * ```ts
 * import { normalizePurge } from '@berth/core/adapter';
 *
 * const { before, states } = normalizePurge({ finishedBefore: new Date('2026-01-01') }); // every finished state
 * ```
 */
export function normalizePurge(options: PurgeOptions | undefined): {
  readonly before: Date;
  readonly states: readonly JobState[];
} {
  const before = options?.finishedBefore;
  if (!(before instanceof Date) || Number.isNaN(before.getTime())) {
    throw new ValidationError('purge needs finishedBefore: a valid Date', 'finishedBefore');
  }
  const states = (options as PurgeOptions).states ?? FINISHED_JOB_STATES;
  if (!Array.isArray(states)) throw new ValidationError('states must be an array of finished states', 'states');
  for (const state of states) {
    if (!FINISHED_JOB_STATES.includes(state)) {
      throw new ValidationError(
        `purge removes finished jobs only (${FINISHED_JOB_STATES.join(', ')}), not ${JSON.stringify(state)}`,
        'states',
      );
    }
  }
  return { before, states: [...new Set(states)] };
}

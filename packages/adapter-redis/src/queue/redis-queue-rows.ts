import { ConflictError, type DocumentValue, type Job, type JobState, type Lease } from '@berth/core';
import { jobErrorOf, parseDocument, type StoredJobError, stringifyDocument } from '@berth/core/adapter';

/** A job's hash as a script returns it (HGETALL: field, value, field, value, ...). */
export type JobHash = Readonly<Record<string, string | undefined>>;

/** The key base of a queue: its hash tag keeps every key of the queue in one cluster slot. */
export function queueKeyBase(keyPrefix: string, queue: string): string {
  return `${keyPrefix}{q:${queue}}:`;
}

/** The channel a queue's scripts publish wake-ups on (the due delay in ms). */
export function wakeChannel(base: string): string {
  return `${base}w`;
}

/** The channel a queue's scripts announce each entry of its event log on (see `publish()` in the Lua library). */
export function eventChannel(base: string): string {
  return `${base}e`;
}

/** The stream of a queue's job events, trimmed to the last `EVENT_LOG_MS`. */
export function eventLogKey(base: string): string {
  return `${base}ev`;
}

export function hashOf(flat: unknown): JobHash {
  const list = flat as readonly string[];
  const hash: Record<string, string> = {};
  for (let index = 0; index + 1 < list.length; index += 2) hash[list[index] as string] = list[index + 1] as string;
  return hash;
}

export const encodeDocument: (value: unknown) => string = stringifyDocument;

export function decodeDocument<T>(text: string): T {
  return (text.includes('"$date"') ? parseDocument<T>(text) : JSON.parse(text)) as T;
}

/** A time field: absent or empty (a lease expiry written before the lease ended kept it) is none. */
function time(value: string | undefined): Date | undefined {
  return value === undefined || value === '' ? undefined : new Date(Number(value));
}

export function toJob<T>(hash: JobHash, queue: string): Job<T> {
  return {
    id: hash.id as string,
    queue,
    payload: decodeDocument<T>(hash.pl as string),
    state: hash.state as JobState,
    priority: Number(hash.pri),
    attempts: Number(hash.att),
    maxAttempts: Number(hash.max),
    runAt: new Date(Number(hash.runAt)),
    dedupeKey: hash.dk,
    leaseMs: Number(hash.lease),
    errors: (JSON.parse(hash.err ?? '[]') as StoredJobError[]).map(jobErrorOf),
    result: hash.res === undefined ? undefined : decodeDocument<DocumentValue>(hash.res),
    progress: hash.prog === undefined ? undefined : decodeDocument<DocumentValue>(hash.prog),
    timeoutMs: hash.tmo === undefined ? undefined : Number(hash.tmo),
    createdAt: new Date(Number(hash.cat)),
    updatedAt: new Date(Number(hash.uat)),
    finishedAt: time(hash.fat),
    // A settlement leaves the ended lease's expiry and token in place (two fields fewer to write per job): they
    // mean something only while the job is active.
    leaseExpiresAt: hash.state === 'active' ? time(hash.exp) : undefined,
  };
}

export function toLease<T>(hash: JobHash, queue: string): Lease<T> {
  return { job: toJob<T>(hash, queue), token: hash.tok as string, expiresAt: new Date(Number(hash.exp)) };
}

/**
 * The fields of a job's hash a claim reads (HMGET, by position): what
 * `toJob` shows of a lease but the claim does not write itself, and none of
 * the fields only the scripts use (due-order member, sequence, backoff).
 * `att` is read to be counted up. A waiting job has no `fat`.
 */
export const CLAIM_READ_FIELDS = [
  'id',
  'pl',
  'pri',
  'att',
  'max',
  'runAt',
  'dk',
  'lease',
  'err',
  'res',
  'prog',
  'tmo',
  'cat',
] as const;

/** The fields of a lease a claim writes, after {@link CLAIM_READ_FIELDS} in what it returns per job. */
const CLAIM_WRITTEN_FIELDS = ['state', 'uat', 'exp', 'tok'] as const;

/** The fields of a lease in the order a claim returns their values. */
const LEASE_FIELDS: readonly string[] = [...CLAIM_READ_FIELDS, ...CLAIM_WRITTEN_FIELDS];

/** A lease from a claim's values of {@link LEASE_FIELDS}; a null value is an absent field. */
export function claimedLease<T>(values: unknown, queue: string): Lease<T> {
  const list = values as readonly (string | null)[];
  const hash: Record<string, string> = {};
  for (let index = 0; index < LEASE_FIELDS.length; index += 1) {
    const value = list[index];
    if (value !== null && value !== undefined) hash[LEASE_FIELDS[index] as string] = value;
  }
  return toLease<T>(hash, queue);
}

/** Where a job stands in listings: `createdAt` (15 digits) then its id, so the lexicographic order is the listing order. */
export function listingMember(createdAt: number, id: string): string {
  return String(Math.max(0, Math.trunc(createdAt))).padStart(15, '0') + id;
}

/** Why a script found a lease invalid, in words. */
function reason(why: string): string {
  if (why === 'missing') return 'the job no longer exists';
  if (why.startsWith('state:')) return `the job is ${why.slice(6)}`;
  if (why === 'token') return 'the job was leased again with another token';
  return 'the lease expired';
}

/** The CONFLICT of a lease operation refused by a script. */
export function leaseConflict(queue: string, operation: string, id: string, why: string): ConflictError {
  return new ConflictError(`${operation} on job ${JSON.stringify(id)} of queue ${queue}: ${reason(why)}`, {
    collection: queue,
    id,
    retryable: false,
  });
}

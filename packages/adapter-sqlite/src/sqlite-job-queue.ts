import {
  type BerthError,
  type BulkJobsOptions,
  type BulkJobsResult,
  ConflictError,
  type DequeueOptions,
  type DocumentValue,
  type EnqueueItem,
  type EnqueueOptions,
  type EnqueueResult,
  type FailOptions,
  generateId,
  type IdleWorker,
  type ImportJobsResult,
  type Job,
  type JobError,
  type JobEventListener,
  type JobEventType,
  type JobHandler,
  type JobPage,
  type JobQueue,
  type JobState,
  type JobStats,
  type Lease,
  type LeaseRef,
  type ListJobsOptions,
  type PruneOptions,
  type PurgeOptions,
  type QueueEvent,
  type QueueEventsOptions,
  type RetryJobsOptions,
  type ScheduleFireResult,
  type ScheduleInput,
  type ScheduleRecord,
  type ScheduleTick,
  type SettleAndClaimResult,
  type Settlement,
  type SettlementOutcome,
  type SignalOptions,
  type SubscribeOptions,
  startWorker,
  ValidationError,
  type Worker,
  type WorkerOptions,
} from '@berth/core';
import {
  type BulkChange,
  backoffDelay,
  bulkStepOfJobs,
  type CheckedCompletion,
  type CheckedFailure,
  type CheckedSettlement as CoreCheckedSettlement,
  checkCompletion,
  checkDequeueCount,
  checkDuration,
  checkFailure,
  checkLeaseRef,
  checkScheduleInput,
  checkScheduleName,
  checkScheduleTick,
  checkSettlement,
  copyProgress,
  DEFAULT_RETENTION,
  decodeBackoff,
  encodeBackoff,
  FINISHED_JOB_STATES,
  JOB_STATES,
  type NormalizedBulkJobs,
  type NormalizedEnqueue,
  type NormalizedRetention,
  normalizeCancelJobs,
  normalizeListJobs,
  normalizePrune,
  normalizePurge,
  normalizeRetryJobs,
  type PreparedEnqueue,
  type PreparedImportJob,
  pageOfJobs,
  prepareEnqueueItems,
  prepareImportJobs,
  refused,
  scheduledJob,
  throwIfAborted,
} from '@berth/core/adapter';
import type { SqliteConnection } from './sqlite-connection.js';
import { encodeDocument } from './sqlite-json.js';
import { ADMIN_SQL, ROW_ACCESS, walkJobs } from './sqlite-queue-admin.js';
import { allRaw, type SqliteQueueHub } from './sqlite-queue-hub.js';
import {
  claimSql,
  deliveryOrder,
  type ExpiredRow,
  encodeError,
  invalidLease,
  type JobRow,
  type LeaseRow,
  parseToken,
  purgeSql,
  QUEUE_SQL,
  rowOf,
  toJob,
  toLease,
} from './sqlite-queue-rows.js';
import { SCHEDULE_SQL, type ScheduleRow, scheduleParameters, toSchedule } from './sqlite-queue-schedules.js';

/** The parameters of `QUEUE_SQL.importRow` for one checked job. */
function importParameters(queue: string, job: PreparedImportJob): unknown[] {
  const json = (value: DocumentValue | undefined) => (value === undefined ? null : encodeDocument(value));
  return [
    job.id,
    queue,
    job.state,
    job.priority,
    job.runAt.getTime(),
    job.attempts,
    job.maxAttempts,
    job.leaseMs,
    job.dedupeKey ?? null,
    encodeDocument(job.payload),
    `[${job.errors.map(encodeError).join(',')}]`,
    json(job.result),
    job.createdAt.getTime(),
    job.updatedAt.getTime(),
    job.finishedAt?.getTime() ?? null,
    json(job.progress),
    job.timeoutMs ?? null,
  ];
}

/** An open transaction that `tx.queue(name)` enqueues into. */
interface SqliteQueueTransaction {
  /** Throws once the transaction has ended. */
  assertOpen(): void;
  /** Runs `effect` once the transaction committed (never when it rolls back). */
  afterCommit(effect: () => void): void;
  /** A job was written on `queue`, due at `runAt`: workers are told once the transaction commits. */
  enqueued(queue: string, runAt: number): void;
}

/** What a queue needs from its backend. */
export interface SqliteJobQueueContext {
  readonly hub: SqliteQueueHub;
  /** Largest payload or result, as bytes of JSON. */
  readonly maxPayloadBytes: number;
  /** The queue's retention (checked); `DEFAULT_RETENTION` when not given. */
  readonly retention?: NormalizedRetention | undefined;
  /** Set for the queues of a transaction scope: enqueue writes into that transaction. */
  readonly transaction?: SqliteQueueTransaction | undefined;
}

interface PreparedJob {
  readonly payload: string;
  readonly options: NormalizedEnqueue;
}

type FailRow = LeaseRow & Pick<JobRow, 'attempts' | 'max_attempts' | 'backoff'>;

/** A completion or failure checked before the transaction; a completion's result is encoded then, outside the lock. */
type CheckedSettlement = (CheckedCompletion & { readonly text: string | null }) | CheckedFailure;

/** Adds the encoded result to a checked completion. */
function encoded(checked: CoreCheckedSettlement): CheckedSettlement {
  if (checked.outcome === 'fail') return checked;
  return { ...checked, text: checked.result === undefined ? null : encodeDocument(checked.result) };
}

/** What a settlement did: the job's new state, the attempt, and for a failure its error (and retry time). */
type Settled = { readonly id: string; readonly attempt: number; readonly now: number } & (
  | { readonly state: 'completed' }
  | { readonly state: 'dead'; readonly error: JobError }
  | { readonly state: 'waiting'; readonly error: JobError; readonly runAt: number }
);

/** What one claim transaction did. */
interface Claimed {
  readonly now: number;
  readonly expired: readonly ExpiredRow[];
  readonly rows: JobRow[];
}

const NOTHING_CLAIMED: Claimed = { now: 0, expired: [], rows: [] };

/** What an enqueue wrote: its results, and what a hand-off to an idle worker already did. */
interface Enqueued {
  readonly results: EnqueueResult[];
  /** The `enqueued` events are emitted. */
  readonly emitted: boolean;
  /** Every new job due at `now` is leased to an idle worker: nothing to wake for them. */
  readonly handedOff: boolean;
  /** The time the transaction decided what is due with (and what the wake-ups count from). */
  readonly now: number;
}

interface SettledAndClaimed {
  readonly applied: readonly (Settled | BerthError)[];
  readonly claimed: Claimed;
}

/**
 * A job queue in the `_berth_jobs` table of a SQLite file.
 *
 * A dequeue is one `UPDATE … RETURNING` in an IMMEDIATE transaction: SQLite
 * has a single writer, so a claim sees every commit before it and no other
 * connection (in this process or another on the same file) can take the same
 * job. Leases are fenced by a token per claim (the row and its lease count);
 * complete, fail, extendLease and release check token, state and expiry in
 * the UPDATE itself. Lease operations issued together share a transaction,
 * and one still queued when a worker claims commits with the claim. Stats
 * come from a counter table that each write transaction updates once per
 * queue and state it changed. Idle workers of this backend
 * are woken in process; workers in other processes poll.
 *
 * ### Examples
 * ```ts
 * import { SqliteBackend } from '@berth/adapter-sqlite';
 *
 * await using backend = new SqliteBackend({ filename: './data/app.db' });
 * const mails = backend.queue<{ to: string }>('mails');
 * await mails.enqueue({ to: 'ada@example.com' }, { dedupeKey: 'welcome:ada' });
 * const worker = mails.work(async (job) => {
 *   console.log('mail to', job.payload.to);
 * }, { concurrency: 10 });
 * await worker.close();
 * ```
 */
export class SqliteJobQueue<T = DocumentValue> implements JobQueue<T> {
  constructor(
    readonly name: string,
    private readonly context: SqliteJobQueueContext,
  ) {}

  private get hub(): SqliteQueueHub {
    return this.context.hub;
  }

  /** Throws CONNECTION once the backend is closed. */
  private assertOpen(): void {
    void this.hub.connection;
  }

  private conflict(connection: SqliteConnection, operation: string, id: string, token: string, now: number): never {
    // Diagnosed by id: the token may name another row, or none.
    const row = connection.get<LeaseRow>(QUEUE_SQL.leaseOf, [id, this.name]);
    const why = invalidLease(row, token, now) ?? 'the lease is no longer valid';
    throw new ConflictError(`${operation} on job ${JSON.stringify(id)} of queue ${this.name}: ${why}`, {
      collection: this.name,
      id,
      retryable: false,
    });
  }

  private anyExpired(connection: SqliteConnection, now: number): boolean {
    return connection.get(QUEUE_SQL.anyExpired, [this.name, now]) !== undefined;
  }

  /** Settles expired leases when there are any, so reads never show a job active past its lease. */
  private settleExpired(connection: SqliteConnection): void {
    const now = Date.now();
    if (!this.anyExpired(connection, now)) return;
    const expired = this.hub.immediate(connection, () => this.settleLeases(connection, now));
    this.emitExpired(expired, now);
  }

  /** Settles the expired leases inside the current write transaction; returns the jobs it settled. */
  private settleLeases(connection: SqliteConnection, now: number): ExpiredRow[] {
    const rows = connection.all<ExpiredRow>(QUEUE_SQL.settle, [{ queue: this.name, now }]);
    for (const row of rows) {
      this.hub.moved(this.name, 'active', row.state);
      this.publish('expired', row.id, now, row.attempts);
      if (row.state === 'dead') {
        // What JobEventHub.emitExpired emits locally.
        const error = { attempt: row.attempts, message: 'lease expired', name: 'LEASE_EXPIRED', at: new Date(now) };
        this.publish('dead', row.id, now, row.attempts, encodeError(error));
      }
    }
    return rows;
  }

  /**
   * Writes an event (see `eventText`) with the open write transaction, for
   * the subscribers of other backends on the file; local subscribers get it
   * after the commit.
   */
  private publish(type: JobEventType, jobId: string, at: number, ...rest: (number | string)[]): void {
    this.hub.publish(this.name, type, jobId, at, ...rest);
  }

  /** `expired` for each settled lease, and `dead` when it was the job's last attempt. */
  private emitExpired(rows: readonly ExpiredRow[], now: number): void {
    if (rows.length === 0) return;
    const leases = rows.map((row) => ({ id: row.id, attempt: row.attempts, dead: row.state === 'dead' }));
    this.hub.events(this.name).emitExpired(leases, new Date(now));
  }

  /** `started` for each leased job. */
  private emitStarted(rows: readonly JobRow[]): void {
    const events = this.hub.events(this.name);
    if (!events.wants('started')) return;
    for (const row of rows) {
      events.emit({
        type: 'started',
        queue: this.name,
        jobId: row.id,
        at: new Date(row.updated_at),
        attempt: row.attempts,
      });
    }
  }

  /**
   * Answers a read from what is committed while another caller's
   * transaction holds the connection, unless a lease has expired (settling
   * it is a write, which has to wait).
   */
  private readCommitted<R>(
    read: (reader: SqliteConnection) => R,
  ): (reader: SqliteConnection) => { value: R } | undefined {
    return (reader) => (this.anyExpired(reader, Date.now()) ? undefined : { value: read(reader) });
  }

  private anyDue(connection: SqliteConnection, now: number): boolean {
    return connection.get(QUEUE_SQL.anyDue, [this.name, now]) !== undefined;
  }

  /** Inserts the jobs (or finds the live job holding each dedupe key) inside the current write transaction. */
  private insertAll(connection: SqliteConnection, jobs: readonly PreparedJob[], now: number): EnqueueResult[] {
    let inserted = 0;
    const results = jobs.map(({ payload, options }): EnqueueResult => {
      if (options.dedupeKey !== undefined) {
        const holder = connection.get<{ id: string }>(QUEUE_SQL.holder, [this.name, options.dedupeKey]);
        if (holder !== undefined) return { id: holder.id, deduplicated: true };
      }
      const id = generateId();
      connection.run(QUEUE_SQL.insert, [
        id,
        this.name,
        options.priority,
        options.runAt.getTime(),
        options.maxAttempts,
        options.leaseMs,
        encodeBackoff(options.backoff),
        options.dedupeKey ?? null,
        payload,
        now,
        now,
        options.timeoutMs ?? null,
      ]);
      inserted += 1;
      this.publish('enqueued', id, now, options.runAt.getTime());
      return { id, deduplicated: false };
    });
    this.hub.moved(this.name, undefined, 'waiting', inserted);
    return results;
  }

  async enqueue(payload: T, options?: EnqueueOptions & SignalOptions): Promise<EnqueueResult> {
    const [result] = await this.enqueueMany([{ ...options, payload }], options);
    return result as EnqueueResult;
  }

  async enqueueMany(items: readonly EnqueueItem<T>[], options?: SignalOptions): Promise<EnqueueResult[]> {
    throwIfAborted(options?.signal, `${this.name}.enqueue`);
    const connection = this.hub.connection;
    const prepared = prepareEnqueueItems(items, Date.now(), this.context.maxPayloadBytes).map(
      (job): PreparedJob => ({ payload: encodeDocument(job.payload), options: job.options }),
    );
    if (prepared.length === 0) return [];
    const transaction = this.context.transaction;
    if (transaction !== undefined) {
      transaction.assertOpen();
      // Inside transaction(): the INSERTs join it (as a savepoint) and commit or roll back with it.
      const now = Date.now();
      const results = this.hub.immediate(connection, () => this.insertAll(connection, prepared, now));
      this.announce(prepared, results, (runAt) => transaction.enqueued(this.name, runAt));
      transaction.afterCommit(() => this.emitEnqueued(prepared, results, now));
      return results;
    }
    const notifier = this.hub.notifier(this.name);
    const { results, emitted, handedOff, now } = await this.hub.exclusive((free): Enqueued => {
      this.hub.flush(free);
      const idle = notifier.idleWorker();
      if (idle !== undefined) return this.handOff(free, prepared, idle);
      let now = 0;
      const results = this.hub.immediate(free, () => {
        now = Date.now();
        return this.insertAll(free, prepared, now);
      });
      return { results, emitted: false, handedOff: false, now };
    });
    // Jobs due now that an idle worker already holds need no wake-up; later ones still do.
    this.announce(prepared, results, (runAt) => notifier.dueAt(runAt), handedOff, now);
    if (!emitted) this.emitEnqueued(prepared, results, now);
    return results;
  }

  /**
   * Enqueues and, in the same IMMEDIATE transaction, leases due jobs for a
   * worker of this process that waits idle, so its handler starts without a
   * second transaction or a wake-up. The lease is the claim a fetch makes
   * (expired leases settled first, then delivery order), so the worker gets
   * the queue's next jobs: the new ones only when no older job is ready.
   * After the commit: `enqueued`, then `started`, then the worker takes the jobs.
   */
  private handOff(connection: SqliteConnection, prepared: readonly PreparedJob[], worker: IdleWorker): Enqueued {
    let claimed = NOTHING_CLAIMED;
    const due: string[] = [];
    let now = 0;
    const results = this.hub.immediate(connection, () => {
      now = Date.now();
      const inserted = this.insertAll(connection, prepared, now);
      inserted.forEach((result, index) => {
        if (!result.deduplicated && (prepared[index]?.options.runAt.getTime() ?? now) <= now) due.push(result.id);
      });
      if (due.length > 0) {
        claimed = this.claim(connection, now, Math.min(due.length, worker.capacity), worker.leaseMs ?? null);
      }
      return inserted;
    });
    this.emitEnqueued(prepared, results, now);
    const leases = this.leasesOf(claimed);
    if (leases.length > 0) worker.take(leases);
    // An older ready job may have been leased instead of a new one: then the new one still needs its wake-up.
    const leased = new Set(leases.map((lease) => lease.job.id));
    return { results, emitted: true, handedOff: due.every((id) => leased.has(id)), now };
  }

  /** `enqueued` for each new job (a deduplicated enqueue stored nothing). */
  private emitEnqueued(prepared: readonly PreparedJob[], results: readonly EnqueueResult[], now: number): void {
    const events = this.hub.events(this.name);
    if (!events.wants('enqueued')) return;
    const at = new Date(now);
    results.forEach((result, index) => {
      const runAt = prepared[index]?.options.runAt;
      if (result.deduplicated || runAt === undefined) return;
      events.emit({ type: 'enqueued', queue: this.name, jobId: result.id, at, runAt: new Date(runAt.getTime()) });
    });
  }

  /**
   * Tells `wake` when each new job falls due (once for all the jobs due at
   * `now`, unless `dueNowTaken`). `now` is the time the write decided what
   * was due with: a job due only a moment later is announced at its `runAt`
   * (at once, if that has passed), never taken for handed over.
   */
  private announce(
    prepared: readonly PreparedJob[],
    results: readonly EnqueueResult[],
    wake: (runAt: number) => void,
    dueNowTaken = false,
    now: number = Date.now(),
  ) {
    let dueNow = false;
    results.forEach((result, index) => {
      const runAt = prepared[index]?.options.runAt.getTime() ?? now;
      if (result.deduplicated) return;
      if (runAt <= now) dueNow = true;
      else wake(runAt);
    });
    if (dueNow && !dueNowTaken) wake(now);
  }

  async dequeue(options?: DequeueOptions): Promise<Lease<T> | null> {
    const [lease] = await this.dequeueMany(1, options);
    return lease ?? null;
  }

  async dequeueMany(count: number, options?: DequeueOptions): Promise<Lease<T>[]> {
    throwIfAborted(options?.signal, `${this.name}.dequeue`);
    this.assertOpen();
    checkDequeueCount(count);
    const leaseMs = options?.leaseMs === undefined ? null : checkDuration('leaseMs', options.leaseMs, 1);
    const claimed = await this.hub.exclusive(
      (connection): Claimed => {
        const expired = this.anyExpired(connection, Date.now());
        // Nothing to claim (and no queued release that could make a job due):
        // answer from a read, without taking the write lock.
        if (!expired && !this.hub.hasQueued && !this.anyDue(connection, Date.now())) return NOTHING_CLAIMED;
        // Lease operations still queued (the jobs a worker just finished) commit with this claim.
        return this.hub.write(connection, (now) => this.claim(connection, now, count, leaseMs));
      },
      // While a transaction holds the connection: when nothing committed is due, nothing can be claimed.
      (reader) => {
        const now = Date.now();
        return this.anyExpired(reader, now) || this.anyDue(reader, now) ? undefined : { value: NOTHING_CLAIMED };
      },
    );
    return this.leasesOf(claimed);
  }

  /** Settles expired leases and leases up to `count` due jobs, inside the current write transaction. */
  private claim(connection: SqliteConnection, now: number, count: number, leaseMs: number | null): Claimed {
    // Checked inside the write lock: another process may have settled them, or leases run out since.
    const expired = this.anyExpired(connection, now) ? this.settleLeases(connection, now) : [];
    const rows =
      count === 0 ? [] : allRaw(connection, claimSql(count), [{ queue: this.name, now, leaseMs }]).map(rowOf);
    this.hub.moved(this.name, 'waiting', 'active', rows.length);
    for (const row of rows) this.publish('started', row.id, row.updated_at, row.attempts);
    return { now, expired, rows };
  }

  /** After the claim committed: its events, the lease timer, and the leases in delivery order. */
  private leasesOf({ now, expired, rows }: Claimed): Lease<T>[] {
    this.emitExpired(expired, now);
    if (rows.length === 0) return [];
    rows.sort(deliveryOrder);
    this.emitStarted(rows);
    let firstExpiry = Number.POSITIVE_INFINITY;
    const leases = rows.map((row) => {
      firstExpiry = Math.min(firstExpiry, row.lease_expires_at as number);
      return toLease<T>(row);
    });
    this.hub.notifier(this.name).leaseEndsAt(firstExpiry);
    return leases;
  }

  async complete(lease: LeaseRef, result?: DocumentValue, options?: SignalOptions): Promise<void> {
    throwIfAborted(options?.signal, `${this.name}.complete`);
    this.assertOpen();
    const checked = this.checkComplete(lease, result);
    const settled = await this.hub.submit((connection, now) => this.applySettlement(connection, checked, now));
    this.afterSettled([settled]);
  }

  async fail(lease: LeaseRef, error: unknown, options?: FailOptions): Promise<'waiting' | 'dead'> {
    throwIfAborted(options?.signal, `${this.name}.fail`);
    this.assertOpen();
    const checked = this.checkFail(lease, error, options?.retry, options?.retryAfterMs);
    const settled = await this.hub.submit((connection, now) => this.applySettlement(connection, checked, now));
    this.afterSettled([settled]);
    return settled.state === 'dead' ? 'dead' : 'waiting';
  }

  /** Checks a completion before any write: the lease reference and the result (VALIDATION). */
  private checkComplete(lease: LeaseRef, result: unknown): CheckedSettlement {
    return encoded(checkCompletion(lease, result, this.context.maxPayloadBytes));
  }

  /** Checks a failure before any write, and reads the error now (the attempt and time are filled in later). */
  private checkFail(lease: LeaseRef, error: unknown, retry: unknown, retryAfterMs: unknown): CheckedSettlement {
    return checkFailure(lease, error, retry, retryAfterMs);
  }

  /**
   * Applies a completion or failure inside the current write transaction:
   * the engine checks the lease in the statement itself; a stale one is a CONFLICT.
   */
  private applySettlement(connection: SqliteConnection, checked: CheckedSettlement, now: number): Settled {
    const { id, token } = checked;
    const ref = parseToken(token);
    if (checked.outcome === 'complete') {
      // The attempt is read back for the `completed` event: other backends may listen.
      const parameters = [checked.text, now, now, ref.seq, id, this.name, ref.leases, now];
      const row = connection.get<{ attempts: number }>(QUEUE_SQL.complete, parameters);
      if (row === undefined) this.conflict(connection, 'complete', id, token, now);
      this.hub.moved(this.name, 'active', 'completed');
      this.publish('completed', id, now, row.attempts);
      return { id, state: 'completed', attempt: row.attempts, now };
    }
    const row = connection.get<FailRow>(QUEUE_SQL.failOf, [ref.seq, id, this.name]);
    if (row === undefined || invalidLease(row, token, now) !== undefined) {
      return this.conflict(connection, 'fail', id, token, now);
    }
    const error = { ...checked.error, attempt: row.attempts, at: new Date(now) };
    const jobError = encodeError(error);
    if (checked.noRetry || row.attempts >= row.max_attempts) {
      connection.run(QUEUE_SQL.bury, [{ seq: row.seq, error: jobError, now }]);
      this.hub.moved(this.name, 'active', 'dead');
      this.publish('dead', id, now, row.attempts, jobError);
      return { id, state: 'dead', attempt: row.attempts, now, error };
    }
    const policy = decodeBackoff(row.backoff);
    const runAt = now + (checked.retryAfterMs ?? backoffDelay(policy, row.attempts));
    connection.run(QUEUE_SQL.retryLater, [{ seq: row.seq, error: jobError, now, runAt }]);
    this.hub.moved(this.name, 'active', 'waiting');
    this.publish('failed', id, now, row.attempts, jobError, runAt);
    return { id, state: 'waiting', attempt: row.attempts, now, error, runAt };
  }

  /** After settlements committed: wake workers for retries, and emit their events. */
  private afterSettled(settled: readonly Settled[]): void {
    const events = this.hub.events(this.name);
    for (const item of settled) {
      if (item.state === 'waiting') this.hub.notifier(this.name).dueAt(item.runAt);
      if (!events.wants(item.state === 'waiting' ? 'failed' : item.state)) continue;
      const base = { queue: this.name, jobId: item.id, at: new Date(item.now), attempt: item.attempt };
      if (item.state === 'completed') events.emit({ type: 'completed', ...base });
      else if (item.state === 'dead') events.emit({ type: 'dead', ...base, error: item.error });
      else events.emit({ type: 'failed', ...base, error: item.error, retryAt: new Date(item.runAt) });
    }
  }

  async extendLease(lease: LeaseRef, leaseMs?: number, options?: SignalOptions): Promise<Lease<T>> {
    throwIfAborted(options?.signal, `${this.name}.extendLease`);
    this.assertOpen();
    const { id, token } = checkLeaseRef(lease);
    const ref = parseToken(token);
    const duration = leaseMs === undefined ? null : checkDuration('leaseMs', leaseMs, 1);
    const row = await this.hub.submit((connection, now) => {
      const extended = connection.get<JobRow>(QUEUE_SQL.extend, [
        { ...ref, id, queue: this.name, now, leaseMs: duration },
      ]);
      return extended ?? this.conflict(connection, 'extendLease', id, token, now);
    });
    return toLease<T>(row);
  }

  async release(lease: LeaseRef, options?: SignalOptions): Promise<void> {
    throwIfAborted(options?.signal, `${this.name}.release`);
    this.assertOpen();
    const { id, token } = checkLeaseRef(lease);
    const ref = parseToken(token);
    const at = await this.hub.submit((connection, now) => {
      const released = connection.get(QUEUE_SQL.release, [{ ...ref, id, queue: this.name, now }]);
      if (released === undefined) this.conflict(connection, 'release', id, token, now);
      this.hub.moved(this.name, 'active', 'waiting');
      this.publish('released', id, now);
      return now;
    });
    // The job keeps its runAt (and its place in line), so it is due now.
    this.hub.notifier(this.name).notify();
    this.emitSimple('released', [id], at);
  }

  /** An event that names only the job (`released`, `cancelled`, `retried`), for each of `ids`. */
  private emitSimple(type: 'released' | 'cancelled' | 'retried', ids: readonly string[], now: number): void {
    this.hub.events(this.name).emitEach(type, ids, new Date(now));
  }

  async get(id: string, options?: SignalOptions): Promise<Job<T> | null> {
    throwIfAborted(options?.signal, `${this.name}.get`);
    this.assertOpen();
    if (typeof id !== 'string') return null;
    const read = (connection: SqliteConnection) => connection.get<JobRow>(QUEUE_SQL.byId, [id, this.name]);
    const row = await this.hub.exclusive((connection) => {
      this.hub.flush(connection);
      this.settleExpired(connection);
      return read(connection);
    }, this.readCommitted(read));
    return row === undefined ? null : toJob<T>(row);
  }

  async cancel(id: string, options?: SignalOptions): Promise<boolean> {
    throwIfAborted(options?.signal, `${this.name}.cancel`);
    this.assertOpen();
    if (typeof id !== 'string') return false;
    const now = await this.hub.exclusive((connection) => {
      this.hub.flush(connection);
      const now = Date.now();
      return this.hub.immediate(connection, () => {
        const row = connection.get<Pick<JobRow, 'seq' | 'state'>>(QUEUE_SQL.cancelOf, [id, this.name]);
        if (row === undefined) return undefined;
        connection.run(QUEUE_SQL.cancel, [{ seq: row.seq, now }]);
        this.hub.moved(this.name, row.state, 'cancelled');
        this.publish('cancelled', id, now);
        return now;
      });
    });
    if (now !== undefined) this.emitSimple('cancelled', [id], now);
    return now !== undefined;
  }

  async retry(id: string, options?: SignalOptions): Promise<boolean> {
    throwIfAborted(options?.signal, `${this.name}.retry`);
    this.assertOpen();
    if (typeof id !== 'string') return false;
    const retried = await this.hub.exclusive((connection) => {
      this.hub.flush(connection);
      return this.hub.immediate(connection, () => {
        const row = connection.get<Pick<JobRow, 'seq' | 'state' | 'dedupe_key'>>(QUEUE_SQL.retryOf, [id, this.name]);
        if (row === undefined || (row.state !== 'dead' && row.state !== 'cancelled')) return undefined;
        if (row.dedupe_key !== null) {
          const holder = connection.get<{ id: string }>(QUEUE_SQL.holder, [this.name, row.dedupe_key]);
          if (holder !== undefined) {
            throw new ConflictError(
              `queue ${this.name}: job ${JSON.stringify(holder.id)} holds dedupe key ${JSON.stringify(row.dedupe_key)}; retry ${JSON.stringify(id)} once it finishes`,
              { collection: this.name, id, retryable: true },
            );
          }
        }
        const now = Date.now();
        connection.run(QUEUE_SQL.revive, [{ seq: row.seq, now }]);
        this.hub.moved(this.name, row.state, 'waiting');
        this.publish('retried', id, now);
        return now;
      });
    });
    if (retried !== undefined) {
      this.hub.notifier(this.name).notify();
      this.emitSimple('retried', [id], retried);
    }
    return retried !== undefined;
  }

  /**
   * Inserts the jobs as given in one IMMEDIATE transaction, skipping those
   * whose id the file already holds (ids are unique across queues here) and
   * waiting ones whose dedupe key a live job of the queue holds; the counts
   * move with them, and idle workers are woken for the waiting ones as for
   * an enqueue. Each imported waiting job emits `enqueued` (with its own
   * `runAt`) after the commit and writes it to the event log, as an enqueue
   * does; finished and skipped jobs emit nothing.
   */
  async importJobs(jobs: readonly Job<T>[], options?: SignalOptions): Promise<ImportJobsResult> {
    throwIfAborted(options?.signal, `${this.name}.importJobs`);
    this.assertOpen();
    const prepared = prepareImportJobs(jobs, this.context.maxPayloadBytes);
    if (prepared.length === 0) return { imported: 0, skipped: 0 };
    // Encoded before taking the lock, like enqueue's payloads.
    const rows = prepared.map((job) => ({ job, parameters: importParameters(this.name, job) }));
    let now = 0;
    const imported = await this.hub.exclusive((connection) => {
      this.hub.flush(connection);
      return this.hub.immediate(connection, () => {
        now = Date.now();
        const stored: PreparedImportJob[] = [];
        for (const { job, parameters } of rows) {
          if (connection.get(QUEUE_SQL.idTaken, [job.id]) !== undefined) continue;
          if (
            job.state === 'waiting' &&
            job.dedupeKey !== undefined &&
            connection.get(QUEUE_SQL.holder, [this.name, job.dedupeKey]) !== undefined
          ) {
            continue;
          }
          connection.run(QUEUE_SQL.importRow, parameters);
          this.hub.moved(this.name, undefined, job.state);
          if (job.state === 'waiting') this.publish('enqueued', job.id, now, job.runAt.getTime());
          stored.push(job);
        }
        return stored;
      });
    });
    this.emitImported(imported, now);
    this.wakeFor(imported);
    return { imported: imported.length, skipped: prepared.length - imported.length };
  }

  /** `enqueued` for each imported waiting job, at the time of the import. */
  private emitImported(jobs: readonly PreparedImportJob[], now: number): void {
    const events = this.hub.events(this.name);
    if (!events.wants('enqueued')) return;
    const at = new Date(now);
    for (const job of jobs) {
      if (job.state !== 'waiting') continue;
      events.emit({ type: 'enqueued', queue: this.name, jobId: job.id, at, runAt: new Date(job.runAt.getTime()) });
    }
  }

  /** Tells idle workers of this backend about imported waiting jobs: now for those due, at their time for the others. */
  private wakeFor(jobs: readonly PreparedImportJob[]): void {
    const notifier = this.hub.notifier(this.name);
    const now = Date.now();
    let dueNow = false;
    for (const job of jobs) {
      if (job.state !== 'waiting') continue;
      if (job.runAt.getTime() <= now) dueNow = true;
      else notifier.dueAt(job.runAt.getTime());
    }
    if (dueNow) notifier.dueAt(now);
  }

  async stats(options?: SignalOptions): Promise<JobStats> {
    throwIfAborted(options?.signal, `${this.name}.stats`);
    this.assertOpen();
    const read = (connection: SqliteConnection) =>
      connection.all<{ state: JobState; count: number }>(QUEUE_SQL.stats, [this.name]);
    const rows = await this.hub.exclusive((connection) => {
      this.hub.flush(connection);
      this.settleExpired(connection);
      return read(connection);
    }, this.readCommitted(read));
    const stats = { waiting: 0, active: 0, completed: 0, dead: 0, cancelled: 0 };
    for (const row of rows) stats[row.state] = row.count;
    return stats;
  }

  async purge(options: PurgeOptions): Promise<number> {
    throwIfAborted(options?.signal, `${this.name}.purge`);
    this.assertOpen();
    const { before, states } = normalizePurge(options);
    if (states.length === 0) return 0;
    return this.hub.exclusive((connection) => {
      this.hub.flush(connection);
      const params = { queue: this.name, before: before.getTime() };
      return this.hub.immediate(connection, () => {
        let removed = 0;
        for (const state of states) {
          const { changes } = connection.run(purgeSql(state), [params]);
          this.hub.moved(this.name, state, undefined, changes);
          removed += changes;
        }
        return removed;
      });
    });
  }

  async putSchedule(schedule: ScheduleInput<T>, options?: SignalOptions): Promise<ScheduleRecord<T>> {
    throwIfAborted(options?.signal, `${this.name}.putSchedule`);
    this.assertOpen();
    const input = checkScheduleInput<T>(schedule, this.context.maxPayloadBytes);
    const row = await this.hub.exclusive((connection) => {
      this.hub.flush(connection);
      const parameters = scheduleParameters(this.name, input, Date.now());
      return connection.immediate(() => connection.get<ScheduleRow>(SCHEDULE_SQL.put, [parameters]) as ScheduleRow);
    });
    return toSchedule<T>(row);
  }

  async getSchedule(name: string, options?: SignalOptions): Promise<ScheduleRecord<T> | null> {
    throwIfAborted(options?.signal, `${this.name}.getSchedule`);
    this.assertOpen();
    checkScheduleName(name);
    const read = (connection: SqliteConnection) => connection.get<ScheduleRow>(SCHEDULE_SQL.get, [this.name, name]);
    const row = await this.hub.exclusive(read, (reader) => ({ value: read(reader) }));
    return row === undefined ? null : toSchedule<T>(row);
  }

  async listSchedules(options?: SignalOptions): Promise<ScheduleRecord<T>[]> {
    throwIfAborted(options?.signal, `${this.name}.listSchedules`);
    this.assertOpen();
    const read = (connection: SqliteConnection) => connection.all<ScheduleRow>(SCHEDULE_SQL.list, [this.name]);
    const rows = await this.hub.exclusive(read, (reader) => ({ value: read(reader) }));
    return rows.map((row) => toSchedule<T>(row));
  }

  async removeSchedule(name: string, options?: SignalOptions): Promise<boolean> {
    throwIfAborted(options?.signal, `${this.name}.removeSchedule`);
    this.assertOpen();
    checkScheduleName(name);
    return this.hub.exclusive((connection) => {
      this.hub.flush(connection);
      return connection.immediate(() => connection.run(SCHEDULE_SQL.remove, [this.name, name])).changes > 0;
    });
  }

  /**
   * One IMMEDIATE transaction: the conditional UPDATE that moves the
   * schedule from the tick to the next, then (when it matched and the tick
   * enqueues) the job, through the same insert as `enqueue`. The write lock
   * orders racing schedulers, in this process or others on the file: the
   * first moves `next_run_at`, the others find it moved and change nothing.
   */
  async fireSchedule(name: string, tick: ScheduleTick, options?: SignalOptions): Promise<ScheduleFireResult> {
    throwIfAborted(options?.signal, `${this.name}.fireSchedule`);
    this.assertOpen();
    checkScheduleName(name);
    const checked = checkScheduleTick(tick);
    const fired = await this.hub.exclusive((connection) => {
      this.hub.flush(connection);
      return this.hub.immediate(connection, () => {
        const now = Date.now();
        const row = connection.get<ScheduleRow>(SCHEDULE_SQL.fire, [
          {
            queue: this.name,
            name,
            runAt: checked.runAt.getTime(),
            nextRunAt: checked.nextRunAt === undefined ? null : checked.nextRunAt.getTime(),
            now,
          },
        ]);
        if (row === undefined) return undefined;
        if (!checked.enqueue) return { job: undefined };
        const [item] = prepareEnqueueItems(
          [scheduledJob(toSchedule<T>(row), checked)],
          now,
          this.context.maxPayloadBytes,
        );
        const job: PreparedJob = { payload: encodeDocument(item?.payload), options: (item as PreparedEnqueue).options };
        const [result] = this.insertAll(connection, [job], now) as [EnqueueResult];
        connection.run(SCHEDULE_SQL.lastJob, [result.id, this.name, name]);
        return { job: { prepared: job, result, now } };
      });
    });
    if (fired === undefined) return { fired: false };
    if (fired.job === undefined) return { fired: true };
    const { prepared, result } = fired.job;
    const notifier = this.hub.notifier(this.name);
    this.announce([prepared], [result], (runAt) => notifier.dueAt(runAt));
    this.emitEnqueued([prepared], [result], fired.job.now);
    return { fired: true, job: result };
  }

  subscribe(listener: JobEventListener, options?: SubscribeOptions): () => void {
    return this.hub.events(this.name).subscribe(listener, options);
  }

  events(options?: QueueEventsOptions): AsyncIterableIterator<QueueEvent> {
    return this.hub.events(this.name).events(options);
  }

  async progress(lease: LeaseRef, progress: DocumentValue, options?: SignalOptions): Promise<void> {
    throwIfAborted(options?.signal, `${this.name}.progress`);
    this.assertOpen();
    const { id, token } = checkLeaseRef(lease);
    const value = copyProgress(progress, this.context.maxPayloadBytes);
    const text = encodeDocument(value);
    const ref = parseToken(token);
    const written = await this.hub.submit((connection, now) => {
      const row = connection.get<{ attempts: number }>(QUEUE_SQL.progress, [
        { ...ref, id, queue: this.name, now, progress: text },
      ]);
      if (row === undefined) return this.conflict(connection, 'progress', id, token, now);
      this.publish('progress', id, now, row.attempts, text);
      return { attempt: row.attempts, now };
    });
    const events = this.hub.events(this.name);
    if (events.wants('progress')) {
      const at = new Date(written.now);
      events.emit({ type: 'progress', queue: this.name, jobId: id, at, attempt: written.attempt, progress: value });
    }
  }

  /**
   * Walks the state's index range (every state's, merged, without a state)
   * from the cursor, examining at most `maxExamined` jobs; with a payload
   * filter, each candidate's payload is matched in JavaScript. It looks one
   * match ahead, so a cursor means another page holds jobs, except when the
   * page stopped at the examine bound.
   */
  async listJobs(options?: ListJobsOptions): Promise<JobPage<T>> {
    throwIfAborted(options?.signal, `${this.name}.listJobs`);
    this.assertOpen();
    const list = normalizeListJobs(this.name, options);
    const states = list.state === undefined ? JOB_STATES : [list.state];
    const batch = list.payload === undefined ? list.limit + 1 : Math.min(list.maxExamined + 1, 500);
    const read = (connection: SqliteConnection): { jobs: JobRow[]; cursor: string | undefined } =>
      pageOfJobs(walkJobs(connection, this.name, states, list.order, list.after, batch), list, ROW_ACCESS);
    const page = await this.hub.exclusive((connection) => {
      this.hub.flush(connection);
      this.settleExpired(connection);
      return read(connection);
    }, this.readCommitted(read));
    return { jobs: page.jobs.map((row) => toJob<T>(row)), cursor: page.cursor };
  }

  async retryJobs(options?: RetryJobsOptions): Promise<BulkJobsResult> {
    throwIfAborted(options?.signal, `${this.name}.retryJobs`);
    this.assertOpen();
    const bulk = normalizeRetryJobs(this.name, options);
    const step = await this.bulkStep(bulk, (connection, row, now) => this.revive(connection, row, now));
    if (step.changed.length > 0) {
      this.hub.notifier(this.name).notify();
      this.emitSimple('retried', step.changed, step.now);
    }
    return step.result;
  }

  async cancelJobs(options?: BulkJobsOptions): Promise<BulkJobsResult> {
    throwIfAborted(options?.signal, `${this.name}.cancelJobs`);
    this.assertOpen();
    const bulk = normalizeCancelJobs(this.name, options);
    const step = await this.bulkStep(bulk, (connection, row, now) =>
      this.cancelWaiting(connection, row, now) ? 'changed' : 'unchanged',
    );
    this.emitSimple('cancelled', step.changed, step.now);
    return step.result;
  }

  /**
   * One step of a bulk operation, in one IMMEDIATE transaction: the state's
   * jobs oldest first after the cursor, at most `limit` examined, `change`
   * applied to each whose payload matches. Either the whole step is stored or none of it.
   */
  private async bulkStep(
    bulk: NormalizedBulkJobs,
    change: (connection: SqliteConnection, row: JobRow, now: number) => BulkChange,
  ): Promise<{ readonly result: BulkJobsResult; readonly changed: string[]; readonly now: number }> {
    return this.hub.exclusive((connection) => {
      this.hub.flush(connection);
      return this.hub.immediate(connection, () => {
        const now = Date.now();
        const batch = Math.min(bulk.limit + 1, 1_000);
        const rows = walkJobs(connection, this.name, [bulk.state], 'oldest', bulk.after, batch);
        const step = bulkStepOfJobs(rows, bulk, ROW_ACCESS, (row) => change(connection, row, now));
        const changed = step.changed.map((row) => row.id);
        return { result: { changed: changed.length, skipped: step.skipped, cursor: step.cursor }, changed, now };
      });
    });
  }

  private cancelWaiting(connection: SqliteConnection, row: Pick<JobRow, 'seq' | 'id'>, now: number): boolean {
    if (connection.run(ADMIN_SQL.cancelWaiting, [{ seq: row.seq, now }]).changes === 0) return false;
    this.hub.moved(this.name, 'waiting', 'cancelled');
    this.publish('cancelled', row.id, now);
    return true;
  }

  /** Puts a dead or cancelled job back to waiting, unless a live job holds its dedupe key. */
  private revive(
    connection: SqliteConnection,
    row: Pick<JobRow, 'seq' | 'id' | 'state' | 'dedupe_key'>,
    now: number,
  ): 'changed' | 'skipped' {
    if (row.dedupe_key !== null && connection.get(QUEUE_SQL.holder, [this.name, row.dedupe_key]) !== undefined) {
      return 'skipped';
    }
    connection.run(QUEUE_SQL.revive, [{ seq: row.seq, now }]);
    this.hub.moved(this.name, row.state, 'waiting');
    this.publish('retried', row.id, now);
    return 'changed';
  }

  /**
   * Per finished state, in one IMMEDIATE transaction: the jobs finished
   * before the age bound, then the oldest finished beyond the count bound
   * (the count comes from the counter table). Both are ranges of
   * `_berth_jobs_finished`, so the cost follows what is removed.
   */
  async prune(options?: PruneOptions): Promise<number> {
    throwIfAborted(options?.signal, `${this.name}.prune`);
    this.assertOpen();
    const { retention, limit } = normalizePrune(options, this.context.retention ?? DEFAULT_RETENTION);
    return this.hub.exclusive((connection) => {
      this.hub.flush(connection);
      return this.hub.immediate(connection, () => {
        const now = Date.now();
        let removed = 0;
        for (const state of FINISHED_JOB_STATES as readonly ('completed' | 'dead' | 'cancelled')[]) {
          const rule = retention[state];
          if (rule === undefined) continue;
          const scope = { queue: this.name, state };
          if (rule.maxAgeMs !== undefined && removed < limit) {
            const aged = { ...scope, before: now - rule.maxAgeMs, limit: limit - removed };
            const { changes } = connection.run(ADMIN_SQL.pruneAged, [aged]);
            this.hub.moved(this.name, state, undefined, changes);
            removed += changes;
          }
          if (rule.maxCount !== undefined && removed < limit) {
            const count = connection.get<{ count: number }>(ADMIN_SQL.count, [this.name, state])?.count ?? 0;
            const excess = Math.min(count - rule.maxCount, limit - removed);
            if (excess > 0) {
              const { changes } = connection.run(ADMIN_SQL.pruneOldest, [{ ...scope, limit: excess }]);
              this.hub.moved(this.name, state, undefined, changes);
              removed += changes;
            }
          }
        }
        return removed;
      });
    });
  }

  /**
   * Applies every settlement and leases up to `count` jobs in one IMMEDIATE
   * transaction (with the lease operations still queued). A settlement
   * refused (a stale lease's CONFLICT, a bad result's VALIDATION) is its own
   * outcome; the others still apply. An engine error rolls back all of it.
   */
  async settleAndClaim(
    settlements: readonly Settlement[],
    count: number,
    options?: DequeueOptions,
  ): Promise<SettleAndClaimResult<T>> {
    throwIfAborted(options?.signal, `${this.name}.settleAndClaim`);
    this.assertOpen();
    if (!Array.isArray(settlements)) throw new ValidationError('settlements must be an array', 'settlements');
    if (count !== 0) checkDequeueCount(count);
    const leaseMs = options?.leaseMs === undefined ? null : checkDuration('leaseMs', options.leaseMs, 1);
    const checked = settlements.map((settlement: unknown, index) =>
      refused(() => this.checkSettlement(settlement, index)),
    );
    const toWrite = checked.some((item) => !(item instanceof Error));
    const { applied, claimed } = await this.hub.exclusive((connection): SettledAndClaimed => {
      if (!toWrite && !this.hub.hasQueued) {
        // Every settlement was refused: without anything to claim, nothing is written.
        const now = Date.now();
        if (count === 0 || (!this.anyExpired(connection, now) && !this.anyDue(connection, now))) {
          return { applied: checked.filter((item) => item instanceof Error), claimed: NOTHING_CLAIMED };
        }
      }
      return this.hub.write(connection, (now) => ({
        applied: checked.map((item) =>
          item instanceof Error ? item : refused(() => this.applySettlement(connection, item, now)),
        ),
        claimed: this.claim(connection, now, count, leaseMs),
      }));
    });
    this.afterSettled(applied.filter((item): item is Settled => !(item instanceof Error)));
    const outcomes = applied.map(
      (item): SettlementOutcome => (item instanceof Error ? { error: item } : { state: item.state }),
    );
    return { outcomes, leases: this.leasesOf(claimed) };
  }

  private checkSettlement(settlement: unknown, index: number): CheckedSettlement {
    return encoded(checkSettlement(settlement, index, this.context.maxPayloadBytes));
  }

  work(handler: JobHandler<T>, options?: WorkerOptions): Worker {
    return startWorker<T>(this, handler, options, this.hub.notifier(this.name), this.hub.logger);
  }
}

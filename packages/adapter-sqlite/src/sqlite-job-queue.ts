import {
  type BackoffPolicy,
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
  type Job,
  type JobEventListener,
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
  type SignalOptions,
  type SubscribeOptions,
  startWorker,
  ValidationError,
  type Worker,
  type WorkerOptions,
} from '@berth/core';
import {
  backoffDelay,
  checkDequeueCount,
  checkDuration,
  checkLeaseRef,
  checkScheduleInput,
  checkScheduleName,
  checkScheduleTick,
  copyResult,
  FINISHED_JOB_STATES,
  JOB_DEFAULTS,
  type NormalizedEnqueue,
  type PreparedEnqueue,
  prepareEnqueueItems,
  scheduledJob,
  throwIfAborted,
  toJobError,
} from '@berth/core/adapter';
import type { SqliteConnection } from './sqlite-connection.js';
import { encodeDocument } from './sqlite-json.js';
import { allRaw, type SqliteQueueHub } from './sqlite-queue-hub.js';
import {
  claimSql,
  deliveryOrder,
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

/** An open transaction that `tx.queue(name)` enqueues into. */
export interface SqliteQueueTransaction {
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
  /** Set for the queues of a transaction scope: enqueue writes into that transaction. */
  readonly transaction?: SqliteQueueTransaction | undefined;
}

interface PreparedJob {
  readonly payload: string;
  readonly options: NormalizedEnqueue;
}

type FailRow = LeaseRow & Pick<JobRow, 'attempts' | 'max_attempts' | 'backoff'>;

const DEFAULT_BACKOFF = JSON.stringify(JOB_DEFAULTS.backoff);

/** The default policy is stored as NULL: most jobs use it, and the rows stay small. */
function encodeBackoff(policy: BackoffPolicy): string | null {
  if (policy === JOB_DEFAULTS.backoff) return null;
  const text = JSON.stringify(policy);
  return text === DEFAULT_BACKOFF ? null : text;
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
 * come from a counter table kept by triggers. Idle workers of this backend
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
    connection.immediate(() => connection.run(QUEUE_SQL.settle, [{ queue: this.name, now }]));
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
    return jobs.map(({ payload, options }): EnqueueResult => {
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
      return { id, deduplicated: false };
    });
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
      const results = connection.immediate(() => this.insertAll(connection, prepared, Date.now()));
      this.announce(prepared, results, (runAt) => transaction.enqueued(this.name, runAt));
      transaction.afterCommit(() => this.emitEnqueued(prepared, results));
      return results;
    }
    const results = await this.hub.exclusive((free) => {
      this.hub.flush(free);
      return free.immediate(() => this.insertAll(free, prepared, Date.now()));
    });
    const notifier = this.hub.notifier(this.name);
    this.announce(prepared, results, (runAt) => notifier.dueAt(runAt));
    this.emitEnqueued(prepared, results);
    return results;
  }

  /** `enqueued` for each new job (a deduplicated enqueue stored nothing). */
  private emitEnqueued(prepared: readonly PreparedJob[], results: readonly EnqueueResult[]): void {
    const events = this.hub.events(this.name);
    if (!events.wants('enqueued')) return;
    const at = new Date();
    results.forEach((result, index) => {
      const runAt = prepared[index]?.options.runAt;
      if (result.deduplicated || runAt === undefined) return;
      events.emit({ type: 'enqueued', queue: this.name, jobId: result.id, at, runAt: new Date(runAt.getTime()) });
    });
  }

  /** Tells `wake` when each new job falls due (once for all the jobs due now). */
  private announce(prepared: readonly PreparedJob[], results: readonly EnqueueResult[], wake: (runAt: number) => void) {
    const now = Date.now();
    let dueNow = false;
    results.forEach((result, index) => {
      const runAt = prepared[index]?.options.runAt.getTime() ?? now;
      if (result.deduplicated) return;
      if (runAt <= now) dueNow = true;
      else wake(runAt);
    });
    if (dueNow) wake(now);
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
    const rows = await this.hub.exclusive(
      (connection): JobRow[] => {
        const expired = this.anyExpired(connection, Date.now());
        // Nothing to claim (and no queued release that could make a job due):
        // answer from a read, without taking the write lock.
        if (!expired && !this.hub.hasQueued && !this.anyDue(connection, Date.now())) return [];
        // Lease operations still queued (the jobs a worker just finished) commit with this claim.
        return this.hub.write(connection, (now) => {
          // Checked inside the write lock: another process may have settled them, or leases run out since.
          if (this.anyExpired(connection, now)) connection.run(QUEUE_SQL.settle, [{ queue: this.name, now }]);
          return allRaw(connection, claimSql(count), [{ queue: this.name, now, leaseMs }]).map(rowOf);
        });
      },
      // While a transaction holds the connection: when nothing committed is due, nothing can be claimed.
      (reader) => {
        const now = Date.now();
        return this.anyExpired(reader, now) || this.anyDue(reader, now) ? undefined : { value: [] };
      },
    );
    if (rows.length === 0) return [];
    rows.sort(deliveryOrder);
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
    const { id, token } = checkLeaseRef(lease);
    const ref = parseToken(token);
    const stored = copyResult(result, this.context.maxPayloadBytes);
    const text = stored === undefined ? null : encodeDocument(stored);
    await this.hub.submit((connection, now) => {
      const { changes } = connection.run(QUEUE_SQL.complete, [text, now, now, ref.seq, id, this.name, ref.leases, now]);
      if (changes === 0) this.conflict(connection, 'complete', id, token, now);
    });
  }

  async fail(lease: LeaseRef, error: unknown, options?: FailOptions): Promise<'waiting' | 'dead'> {
    throwIfAborted(options?.signal, `${this.name}.fail`);
    this.assertOpen();
    const { id, token } = checkLeaseRef(lease);
    const ref = parseToken(token);
    const retryAfterMs =
      options?.retryAfterMs === undefined ? undefined : checkDuration('retryAfterMs', options.retryAfterMs);
    const noRetry = options?.retry === false;
    // Read the error now, outside the transaction; the attempt and time are filled in there.
    const base = toJobError(error, 0, new Date());
    const runAt = await this.hub.submit((connection, now): number | undefined => {
      const row = connection.get<FailRow>(QUEUE_SQL.failOf, [ref.seq, id, this.name]);
      if (row === undefined || invalidLease(row, token, now) !== undefined) {
        return this.conflict(connection, 'fail', id, token, now);
      }
      const jobError = encodeError({ ...base, attempt: row.attempts, at: new Date(now) });
      if (noRetry || row.attempts >= row.max_attempts) {
        connection.run(QUEUE_SQL.bury, [{ seq: row.seq, error: jobError, now }]);
        return undefined;
      }
      const policy = row.backoff === null ? JOB_DEFAULTS.backoff : (JSON.parse(row.backoff) as BackoffPolicy);
      const delay = retryAfterMs ?? backoffDelay(policy, row.attempts);
      connection.run(QUEUE_SQL.retryLater, [{ seq: row.seq, error: jobError, now, runAt: now + delay }]);
      return now + delay;
    });
    if (runAt === undefined) return 'dead';
    this.hub.notifier(this.name).dueAt(runAt);
    return 'waiting';
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
    await this.hub.submit((connection, now) => {
      const released = connection.get(QUEUE_SQL.release, [{ ...ref, id, queue: this.name, now }]);
      if (released === undefined) this.conflict(connection, 'release', id, token, now);
    });
    // The job keeps its runAt (and its place in line), so it is due now.
    this.hub.notifier(this.name).notify();
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
    return this.hub.exclusive((connection) => {
      this.hub.flush(connection);
      const now = Date.now();
      return connection.immediate(() => connection.run(QUEUE_SQL.cancel, [{ id, queue: this.name, now }])).changes > 0;
    });
  }

  async retry(id: string, options?: SignalOptions): Promise<boolean> {
    throwIfAborted(options?.signal, `${this.name}.retry`);
    this.assertOpen();
    if (typeof id !== 'string') return false;
    const retried = await this.hub.exclusive((connection) => {
      this.hub.flush(connection);
      return connection.immediate(() => {
        const row = connection.get<Pick<JobRow, 'seq' | 'state' | 'dedupe_key'>>(QUEUE_SQL.retryOf, [id, this.name]);
        if (row === undefined || (row.state !== 'dead' && row.state !== 'cancelled')) return false;
        if (row.dedupe_key !== null) {
          const holder = connection.get<{ id: string }>(QUEUE_SQL.holder, [this.name, row.dedupe_key]);
          if (holder !== undefined) {
            throw new ConflictError(
              `queue ${this.name}: job ${JSON.stringify(holder.id)} holds dedupe key ${JSON.stringify(row.dedupe_key)}; retry ${JSON.stringify(id)} once it finishes`,
              { collection: this.name, id, retryable: true },
            );
          }
        }
        connection.run(QUEUE_SQL.revive, [{ seq: row.seq, now: Date.now() }]);
        return true;
      });
    });
    if (retried) this.hub.notifier(this.name).notify();
    return retried;
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
    const before = options?.finishedBefore;
    if (!(before instanceof Date) || Number.isNaN(before.getTime())) {
      throw new ValidationError('purge needs finishedBefore: a valid Date', 'finishedBefore');
    }
    const states = options.states ?? FINISHED_JOB_STATES;
    if (!Array.isArray(states)) throw new ValidationError('states must be an array of finished states', 'states');
    for (const state of states) {
      if (!FINISHED_JOB_STATES.includes(state)) {
        throw new ValidationError(
          `purge removes finished jobs only (${FINISHED_JOB_STATES.join(', ')}), not ${JSON.stringify(state)}`,
          'states',
        );
      }
    }
    if (states.length === 0) return 0;
    const sql = purgeSql([...new Set(states)].sort());
    return this.hub.exclusive((connection) => {
      this.hub.flush(connection);
      const params = { queue: this.name, before: before.getTime() };
      return connection.immediate(() => connection.run(sql, [params])).changes;
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
      return connection.immediate(() => {
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
        return { job: { prepared: job, result } };
      });
    });
    if (fired === undefined) return { fired: false };
    if (fired.job === undefined) return { fired: true };
    const { prepared, result } = fired.job;
    const notifier = this.hub.notifier(this.name);
    this.announce([prepared], [result], (runAt) => notifier.dueAt(runAt));
    this.emitEnqueued([prepared], [result]);
    return { fired: true, job: result };
  }

  subscribe(listener: JobEventListener, options?: SubscribeOptions): () => void {
    return this.hub.events(this.name).subscribe(listener, options);
  }

  events(options?: QueueEventsOptions): AsyncIterableIterator<QueueEvent> {
    return this.hub.events(this.name).events(options);
  }

  async progress(_lease: LeaseRef, _progress: DocumentValue, _options?: SignalOptions): Promise<void> {
    throw new ValidationError('progress is not implemented yet', '');
  }

  async listJobs(_options?: ListJobsOptions): Promise<JobPage<T>> {
    throw new ValidationError('listJobs is not implemented yet', '');
  }

  async retryJobs(_options?: RetryJobsOptions): Promise<BulkJobsResult> {
    throw new ValidationError('retryJobs is not implemented yet', '');
  }

  async cancelJobs(_options?: BulkJobsOptions): Promise<BulkJobsResult> {
    throw new ValidationError('cancelJobs is not implemented yet', '');
  }

  async prune(_options?: PruneOptions): Promise<number> {
    throw new ValidationError('prune is not implemented yet', '');
  }

  work(handler: JobHandler<T>, options?: WorkerOptions): Worker {
    return startWorker<T>(this, handler, options, this.hub.notifier(this.name));
  }
}

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
  type JobHandler,
  type JobPage,
  type JobQueue,
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
  type TransactionalQueue,
  ValidationError,
  type Worker,
  type WorkerOptions,
} from '@berth/core';
import {
  backoffDelay,
  type CheckedSettlement,
  checkCompletion,
  checkDequeueCount,
  checkDuration,
  checkFailure,
  checkLeaseRef,
  checkSettlement,
  copyProgress,
  decodeBackoff,
  encodeBackoff,
  type HandOffNotifier,
  type JobEventHub,
  type NormalizedRetention,
  normalizePurge,
  type PreparedEnqueue,
  prepareEnqueueItems,
  refused,
  storedJobError,
  throwIfAborted,
} from '@berth/core/adapter';
import type { PgBackendContext, PgTransactionContext } from '../pg-context.js';
import type { PgQueryable } from '../pg-session.js';
import { preparedOn } from '../pg-statements.js';
import { PgQueueAdmin } from './pg-queue-admin.js';
import type { PgEventTag } from './pg-queue-events.js';
import { checkImportedJobs, insertImportedJobs } from './pg-queue-import.js';

import { readyPool, whileOpen } from './pg-queue-open.js';
import { deliveryOrder, encodeDocument, invalidLease, type JobRow, toJob, tokenOf, toLease } from './pg-queue-rows.js';
import { PgQueueSchedules } from './pg-queue-schedules.js';
import type { PgQueueSql } from './pg-queue-sql.js';

/** What the queues of one backend share. */
export interface PgJobQueueContext {
  readonly backend: PgBackendContext;
  readonly sql: PgQueueSql;
  /** The NOTIFY channel of the schema's queues. */
  readonly channel: string;
  readonly events: JobEventHub;
  /** Where statements publish their events for other backends, with this backend's origin. */
  readonly publish: PgEventTag;
  readonly notifier: HandOffNotifier;
  readonly retention: NormalizedRetention;
  /** Largest payload or result, as bytes of JSON. */
  readonly maxPayloadBytes: number;
}

/** A row of the settle-and-claim statement: a claimed job (or none); one row has the statement's summary, the others NULLs. */
type SettleRow = Partial<JobRow> & {
  readonly summary_now: string | null;
  readonly summary_expired?: readonly [string, 'waiting' | 'dead', number][];
  readonly summary_completed?: readonly [string, number][];
  readonly summary_retried?: readonly string[];
  readonly summary_buried?: readonly string[];
};

/** What one settle-and-claim statement did. */
interface Settled {
  readonly now: number;
  readonly expired: readonly [string, 'waiting' | 'dead', number][];
  readonly completed: ReadonlyMap<string, number>;
  /** Failures applied (retried or buried). */
  readonly failed: ReadonlySet<string>;
  readonly rows: JobRow[];
}

/** A failure decided against its row (read while its lease was valid): retried at `runAt`, or dead. */
interface FailDecision {
  readonly id: string;
  readonly token: string;
  readonly attempt: number;
  readonly error: JobError;
  readonly state: 'waiting' | 'dead';
  readonly runAt: number;
}

const NO_IDS: readonly string[] = [];
const NO_LEASES: ReadonlySet<string> = new Set();

/**
 * A lease reference as bound to a statement: an id or token holding U+0000
 * (which PostgreSQL text cannot carry) names no job, so it becomes '' (no
 * job has that id or token) and the operation is a CONFLICT, not an error
 * of the value.
 */
function boundRef<R extends { readonly id: string; readonly token: string }>(ref: R): R {
  if (!ref.id.includes('\u0000') && !ref.token.includes('\u0000')) return ref;
  return { ...ref, id: '', token: '' };
}

/** What one settle-and-claim statement is asked to do. */
interface SettleInput {
  /** Settle expired leases first. */
  readonly reclaim: boolean;
  /** Jobs to claim (0: none). */
  readonly count: number;
  readonly leaseMs: number | null;
  readonly completions?: readonly CheckedSettlement[];
  /** Failures decided against their rows; each applies only while its token is still valid. */
  readonly decisions?: ReadonlyMap<string, FailDecision>;
  /** Every job being settled: the reclaim leaves them alone. */
  readonly settling?: readonly string[];
}

/**
 * A job queue in the `_berth_jobs` tables of a PostgreSQL schema, shared by
 * every process that opens the schema.
 *
 * Claims take ready jobs from a partial index with `FOR UPDATE SKIP LOCKED`,
 * so workers never wait on each other or get the same job. A lease is fenced
 * by its token (the job's lease count): complete, fail, extendLease and
 * release match it in the statement itself. Finished jobs move to
 * `_berth_jobs_done`, so the hot table holds only waiting and active jobs.
 * Commits that make a job due send a NOTIFY, which wakes idle workers of
 * every backend on the schema.
 *
 * ### Examples
 * ```ts
 * import { PostgresBackend } from '@berth/adapter-postgres';
 *
 * await using backend = new PostgresBackend({ connectionString: 'postgres://postgres@127.0.0.1:5432/test' });
 * const mails = backend.queue<{ to: string }>('mails');
 * await mails.enqueue({ to: 'ada@example.com' }, { dedupeKey: 'welcome:ada' });
 * const worker = mails.work(async (job) => {
 *   console.log('mail to', job.payload.to);
 * }, { concurrency: 10 });
 * await worker.close();
 * ```
 */
export class PostgresJobQueue<T = DocumentValue> implements JobQueue<T> {
  private readonly admin: PgQueueAdmin<T>;
  private readonly scheduleStore: PgQueueSchedules<T>;

  constructor(
    readonly name: string,
    private readonly context: PgJobQueueContext,
  ) {
    this.admin = new PgQueueAdmin<T>(name, context, this);
    this.scheduleStore = new PgQueueSchedules<T>(name, context, (queryable, items) =>
      this.insertJobs(queryable, this.prepare(items)),
    );
  }

  private get sql(): PgQueueSql {
    return this.context.sql;
  }

  private pool(): Promise<PgQueryable> {
    return readyPool(this.context.backend);
  }

  // ---- enqueue ------------------------------------------------------------

  async enqueue(payload: T, options?: EnqueueOptions & SignalOptions): Promise<EnqueueResult> {
    const [result] = await this.enqueueMany([{ ...options, payload }], options);
    return result as EnqueueResult;
  }

  async enqueueMany(items: readonly EnqueueItem<T>[], options?: SignalOptions): Promise<EnqueueResult[]> {
    throwIfAborted(options?.signal, `${this.name}.enqueue`);
    const prepared = this.prepare(items);
    if (prepared.length === 0) return [];
    await this.context.backend.ready();
    const session = this.context.backend.session;
    const idle = this.context.notifier.idleWorker();
    if (idle !== undefined && prepared.some((item) => item.delayMs <= 0)) {
      return this.context.notifier.handingOff(() => this.handOff(prepared, idle));
    }
    // With dedupe keys an enqueue may take more than one statement: keep it all or nothing.
    const inserted = prepared.some((item) => item.options.dedupeKey !== undefined)
      ? await whileOpen(this.context.backend, () => session.transaction((client) => this.insertJobs(client, prepared)))
      : await this.insertJobs(await this.pool(), prepared);
    this.afterEnqueue(inserted);
    return inserted.results;
  }

  /**
   * Enqueues and, in the same transaction, leases due jobs for a worker of
   * this process that waits idle, so its handler starts without a wake-up
   * and a second commit. The lease is the claim a fetch makes (expired
   * leases settled first, then delivery order), so the worker gets the
   * queue's next jobs: the new ones only when no older job is ready. After
   * the commit: `enqueued`, then `started`, then the worker takes the jobs.
   */
  private async handOff(prepared: readonly PreparedJob[], worker: IdleWorker): Promise<EnqueueResult[]> {
    const session = this.context.backend.session;
    const { inserted, settled } = await whileOpen(this.context.backend, () =>
      session.transaction(async (client) => {
        const statements = preparedOn(client);
        const inserted = await this.insertJobs(statements, prepared);
        const due = [...inserted.runAts.values()].filter((runAt) => runAt <= inserted.now).length;
        const count = Math.min(worker.capacity, due);
        const leaseMs = worker.leaseMs ?? null;
        const settled =
          count > 0 ? await this.settleThenClaim(statements, { reclaim: true, count, leaseMs }) : undefined;
        return { inserted, settled };
      }),
    );
    // Jobs the worker now holds need no wake-up; the others (older jobs leased instead, delayed ones) still do.
    this.afterEnqueue(inserted, new Set(settled?.rows.map((row) => row.id)));
    if (settled === undefined) return inserted.results;
    const leases = this.leasesOf(settled);
    if (leases.length > 0) worker.take(leases);
    return inserted.results;
  }

  /** Enqueues inside an open transaction: the jobs and their NOTIFY commit (or roll back) with it. */
  transactional(transaction: PgTransactionContext): TransactionalQueue<T> {
    const enqueueMany = async (items: readonly EnqueueItem<T>[], options?: SignalOptions) => {
      throwIfAborted(options?.signal, `${this.name}.enqueue`);
      transaction.assertOpen();
      const prepared = this.prepare(items);
      if (prepared.length === 0) return [];
      const inserted = await this.insertJobs(transaction.client, prepared);
      transaction.afterCommit(() => this.afterEnqueue(inserted));
      return inserted.results;
    };
    return {
      name: this.name,
      enqueueMany,
      enqueue: async (payload: T, options?: EnqueueOptions & SignalOptions) => {
        const [result] = await enqueueMany([{ ...options, payload }], options);
        return result as EnqueueResult;
      },
    };
  }

  private prepare(items: readonly EnqueueItem<T>[]): PreparedJob[] {
    const now = Date.now();
    return prepareEnqueueItems(items, now, this.context.maxPayloadBytes).map((item, index) => ({
      ...item,
      // A job without its own runAt is due by the server's clock (now, or after its delay).
      explicitRunAt: (items[index] as EnqueueItem<T>).runAt !== undefined,
      delayMs: Math.max(0, item.options.runAt.getTime() - now),
    }));
  }

  /**
   * Inserts the jobs in one statement; a job whose dedupe key a live job
   * holds gets that job's id. A holder that finishes between the insert and
   * the look-up frees the key: the job is inserted again.
   */
  private async insertJobs(queryable: PgQueryable, jobs: readonly PreparedJob[]): Promise<Inserted> {
    const results: (EnqueueResult | undefined)[] = jobs.map(() => undefined);
    const runAts = new Map<string, number>();
    const firstOfKey = new Map<string, number>();
    let pending: number[] = [];
    jobs.forEach((job, index) => {
      const key = job.options.dedupeKey;
      if (key !== undefined && firstOfKey.has(key)) return;
      if (key !== undefined) firstOfKey.set(key, index);
      pending.push(index);
    });
    let now = Date.now();
    for (let round = 0; pending.length > 0; round += 1) {
      if (round === 5) {
        throw new ConflictError(`queue ${this.name}: dedupe keys kept changing hands; enqueue again`, {
          collection: this.name,
          retryable: true,
        });
      }
      const batch = pending.map((index) => ({ index, job: jobs[index] as PreparedJob, id: generateId() }));
      const deduplicated = batch.some((item) => item.job.options.dedupeKey !== undefined);
      const rows = await queryable.query<{ id?: string; now: string }>(
        deduplicated ? this.sql.insertDeduplicated : this.sql.insert,
        [
          this.name,
          this.context.channel,
          batch.map((item) => item.id),
          batch.map((item) => item.job.options.priority),
          batch.map((item) => (item.job.explicitRunAt ? item.job.options.runAt.getTime() : null)),
          batch.map((item) => item.job.delayMs),
          batch.map((item) => item.job.options.maxAttempts),
          batch.map((item) => item.job.options.leaseMs),
          batch.map((item) => encodeBackoff(item.job.options.backoff)),
          batch.map((item) => item.job.options.dedupeKey ?? null),
          batch.map((item) => encodeDocument(item.job.payload)),
          batch.map((item) => item.job.options.timeoutMs ?? null),
          this.context.publish.channel,
          this.context.publish.origin,
        ],
      );
      // Without dedupe keys every job went in: one row says the server's time, not one row per job.
      const inserted = deduplicated ? new Set(rows.map((row) => row.id)) : undefined;
      if (rows[0] !== undefined) now = Number(rows[0].now);
      const skipped: typeof batch = [];
      for (const item of batch) {
        if (inserted !== undefined && !inserted.has(item.id)) {
          skipped.push(item);
          continue;
        }
        // What the statement stored: the caller's runAt, or its delay from the server's time.
        runAts.set(item.id, item.job.explicitRunAt ? item.job.options.runAt.getTime() : now + item.job.delayMs);
        results[item.index] = { id: item.id, deduplicated: false };
      }
      pending = [];
      if (skipped.length === 0) break;
      const keys = skipped.map((item) => item.job.options.dedupeKey as string);
      const holders = await queryable.query<{ id: string; dedupe_key: string }>(this.sql.holders, [this.name, keys]);
      const holderOf = new Map(holders.map((row) => [row.dedupe_key, row.id]));
      for (const item of skipped) {
        const holder = holderOf.get(item.job.options.dedupeKey as string);
        if (holder === undefined) pending.push(item.index);
        else results[item.index] = { id: holder, deduplicated: true };
      }
    }
    jobs.forEach((job, index) => {
      if (results[index] !== undefined) return;
      const first = results[firstOfKey.get(job.options.dedupeKey as string) as number] as EnqueueResult;
      results[index] = { id: first.id, deduplicated: true };
    });
    return { results: results as EnqueueResult[], runAts, now };
  }

  /**
   * After the jobs are stored (committed): wake workers (unless a worker
   * already holds the job), emit `enqueued` at the server's time of the
   * insert (the time its published copy carries).
   */
  private afterEnqueue({ results, runAts, now }: Inserted, leased: ReadonlySet<string> = NO_LEASES): void {
    const skew = Date.now() - now;
    const events = this.context.events;
    const at = new Date(now);
    for (const result of results) {
      const runAt = runAts.get(result.id);
      if (result.deduplicated || runAt === undefined) continue;
      if (!leased.has(result.id)) this.context.notifier.dueAt(runAt + skew);
      if (events.wants('enqueued')) {
        events.emit({ type: 'enqueued', queue: this.name, jobId: result.id, at, runAt: new Date(runAt) });
      }
    }
  }

  // ---- claims and settlements ----------------------------------------------

  async dequeue(options?: DequeueOptions): Promise<Lease<T> | null> {
    const [lease] = await this.dequeueMany(1, options);
    return lease ?? null;
  }

  async dequeueMany(count: number, options?: DequeueOptions): Promise<Lease<T>[]> {
    throwIfAborted(options?.signal, `${this.name}.dequeue`);
    checkDequeueCount(count);
    const leaseMs = options?.leaseMs === undefined ? null : checkDuration('leaseMs', options.leaseMs, 1);
    const settled = await this.settleThenClaim(await this.pool(), { reclaim: true, count, leaseMs });
    return this.leasesOf(settled);
  }

  /**
   * Applies every settlement and leases up to `count` jobs. Completions
   * alone take one statement (one round trip). With failures, their rows
   * are read first (attempts and backoff), then everything is settled,
   * then the claim runs, so a job failed with no delay can be claimed by
   * this call. A settlement refused (a stale lease's CONFLICT, a bad
   * result's VALIDATION) is its own outcome; the others still apply.
   */
  async settleAndClaim(
    settlements: readonly Settlement[],
    count: number,
    options?: DequeueOptions,
  ): Promise<SettleAndClaimResult<T>> {
    throwIfAborted(options?.signal, `${this.name}.settleAndClaim`);
    if (!Array.isArray(settlements)) throw new ValidationError('settlements must be an array', 'settlements');
    if (count !== 0) checkDequeueCount(count);
    const leaseMs = options?.leaseMs === undefined ? null : checkDuration('leaseMs', options.leaseMs, 1);
    const checked = settlements.map((settlement: unknown, index) =>
      refused(() => checkSettlement(settlement, index, this.context.maxPayloadBytes)),
    );
    return this.settleChecked(checked, count, leaseMs, true);
  }

  private async settleChecked(
    checked: readonly (CheckedSettlement | BerthError)[],
    count: number,
    leaseMs: number | null,
    reclaim: boolean,
  ): Promise<{ outcomes: SettlementOutcome[]; leases: Lease<T>[] }> {
    const bound = checked.map((item) => (item instanceof Error ? item : boundRef(item)));
    const valid = bound.filter((item): item is CheckedSettlement => !(item instanceof Error));
    const completions = valid.filter((item) => item.outcome === 'complete');
    const failures = valid.filter((item) => item.outcome === 'fail');
    const decisions = new Map<string, FailDecision>();
    const session = await this.pool();
    const input = { reclaim, count, leaseMs, completions, decisions, settling: valid.map((item) => item.id) };
    const settled = await whileOpen(this.context.backend, async () => {
      if (failures.length === 0) return this.settleThenClaim(session, input);
      await this.decideFailures(session, failures, decisions);
      // Settled first, claimed after: a job failed here with no delay is claimable at once.
      const applied = await this.settle(session, { ...input, count: 0 });
      return count === 0 ? applied : this.claimMore(session, applied, count, leaseMs);
    });
    const outcomes: SettlementOutcome[] = [];
    for (const item of bound) {
      if (item instanceof Error) outcomes.push({ error: item });
      else if (item.outcome === 'complete' && settled.completed.has(item.id)) outcomes.push({ state: 'completed' });
      else if (item.outcome === 'fail' && settled.failed.has(item.id)) {
        outcomes.push({ state: (decisions.get(item.id) as FailDecision).state });
      } else outcomes.push({ error: await this.conflict(item.outcome, item.id, item.token) });
    }
    this.afterSettled(settled, decisions);
    return { outcomes, leases: this.leasesOf(settled) };
  }

  /**
   * Reads the failing jobs' rows and decides each failure whose lease is
   * valid: retried after its backoff, or dead. The settle statement applies
   * a decision only while the token is still valid.
   */
  private async decideFailures(
    client: PgQueryable,
    failures: readonly CheckedSettlement[],
    decisions: Map<string, FailDecision>,
  ): Promise<void> {
    type Failing = Pick<
      JobRow,
      'id' | 'seq' | 'state' | 'leases' | 'lease_expires_at' | 'attempts' | 'max_attempts' | 'backoff'
    >;
    const rows = await client.query<Failing & { now: string }>(this.sql.failing, [
      this.name,
      failures.map((item) => item.id),
    ]);
    const byId = new Map(rows.map((row) => [row.id, row]));
    for (const failure of failures) {
      if (failure.outcome !== 'fail' || decisions.has(failure.id)) continue;
      const row = byId.get(failure.id);
      if (row === undefined) continue;
      const now = Number(row.now);
      if (row.state !== 'active' || tokenOf(row) !== failure.token) continue;
      if (Number(row.lease_expires_at) <= now) continue;
      const error: JobError = { ...failure.error, attempt: row.attempts, at: new Date(now) };
      const dead = failure.noRetry || row.attempts >= row.max_attempts;
      const delay = failure.retryAfterMs ?? backoffDelay(decodeBackoff(row.backoff), row.attempts);
      decisions.set(failure.id, {
        id: failure.id,
        token: failure.token,
        attempt: row.attempts,
        error,
        state: dead ? 'dead' : 'waiting',
        runAt: now + delay,
      });
    }
  }

  /** Runs the settle-and-claim statement. */
  private async settle(queryable: PgQueryable, input: SettleInput): Promise<Settled> {
    const completions = input.completions ?? [];
    const decisions = [...(input.decisions?.values() ?? [])];
    const retries = decisions.filter((item) => item.state === 'waiting');
    const burials = decisions.filter((item) => item.state === 'dead');
    const { text, values } = this.sql.settle({
      queue: this.name,
      reclaim: input.reclaim,
      settling: input.settling ?? NO_IDS,
      completions: {
        ids: completions.map((item) => item.id),
        tokens: completions.map((item) => item.token),
        results: completions.map((item) =>
          item.outcome === 'complete' && item.result !== undefined ? encodeDocument(item.result) : null,
        ),
      },
      retries: {
        ids: retries.map((item) => item.id),
        tokens: retries.map((item) => item.token),
        errors: retries.map((item) => JSON.stringify(storedJobError(item.error))),
        runAts: retries.map((item) => item.runAt),
      },
      burials: {
        ids: burials.map((item) => item.id),
        tokens: burials.map((item) => item.token),
        errors: burials.map((item) => JSON.stringify(storedJobError(item.error))),
      },
      count: input.count,
      leaseMs: input.leaseMs,
      eventChannel: this.context.publish.channel,
      origin: this.context.publish.origin,
    });
    const rows = await queryable.query<SettleRow>(text, values);
    // One row carries the summary (see PgQueueSql.settle).
    const first = rows.find((row) => row.summary_now !== null) as SettleRow;
    return {
      now: Number(first.summary_now),
      expired: first.summary_expired ?? [],
      completed: new Map(first.summary_completed ?? []),
      failed: new Set([...(first.summary_retried ?? []), ...(first.summary_buried ?? [])]),
      rows: rows.filter((row) => row.id !== null && row.id !== undefined) as unknown as JobRow[],
    };
  }

  /**
   * One settle-and-claim statement; when it reclaimed expired leases and
   * claimed fewer jobs than asked, one more claim takes the jobs it made due
   * (a statement does not see its own changes).
   */
  private async settleThenClaim(queryable: PgQueryable, input: SettleInput): Promise<Settled> {
    const settled = await this.settle(queryable, input);
    const requeued = settled.expired.some(([, state]) => state === 'waiting');
    if (!requeued || settled.rows.length >= input.count) return settled;
    return this.claimMore(queryable, settled, input.count, input.leaseMs);
  }

  /** Claims up to what `settled` left of `count`, adding the leases to it. */
  private async claimMore(queryable: PgQueryable, settled: Settled, count: number, leaseMs: number | null) {
    const more = await this.settle(queryable, { reclaim: false, count: count - settled.rows.length, leaseMs });
    return { ...settled, rows: [...settled.rows, ...more.rows] };
  }

  /** Leases from a settle statement, in delivery order, with their `expired` and `started` events. */
  private leasesOf(settled: Settled): Lease<T>[] {
    this.emitExpired(settled);
    const rows = settled.rows.sort(deliveryOrder);
    const events = this.context.events;
    if (events.wants('started')) {
      for (const row of rows) {
        events.emit({
          type: 'started',
          queue: this.name,
          jobId: row.id,
          at: new Date(Number(row.updated_at)),
          attempt: row.attempts,
        });
      }
    }
    return rows.map((row) => toLease<T>(row));
  }

  private emitExpired({ expired, now }: Settled): void {
    if (expired.length === 0) return;
    // Jobs due again: a worker somewhere should pick them up.
    if (expired.some(([, state]) => state === 'waiting')) this.context.notifier.notify();
    const leases = expired.map(([id, state, attempt]) => ({ id, attempt, dead: state === 'dead' }));
    this.context.events.emitExpired(leases, new Date(now));
  }

  /** After settlements committed: wake workers for retries, and emit their events. */
  private afterSettled(settled: Settled, decisions: ReadonlyMap<string, FailDecision>): void {
    const events = this.context.events;
    const at = new Date(settled.now);
    const skew = Date.now() - settled.now;
    for (const [jobId, attempt] of settled.completed) {
      if (events.wants('completed')) events.emit({ type: 'completed', queue: this.name, jobId, at, attempt });
    }
    // In the statement's order (retried, then buried), which its published events follow.
    for (const id of settled.failed) {
      const item = decisions.get(id);
      if (item === undefined) continue;
      const base = { queue: this.name, jobId: item.id, at, attempt: item.attempt, error: item.error };
      if (item.state === 'dead') {
        if (events.wants('dead')) events.emit({ type: 'dead', ...base });
        continue;
      }
      this.context.notifier.dueAt(item.runAt + skew);
      if (events.wants('failed')) events.emit({ type: 'failed', ...base, retryAt: new Date(item.runAt) });
    }
  }

  /** The CONFLICT of a lease operation on `id`, saying why the lease is not valid. */
  private async conflict(operation: string, id: string, token: string): Promise<ConflictError> {
    const rows = await (await this.pool()).query<
      Pick<JobRow, 'seq' | 'state' | 'leases' | 'lease_expires_at'> & { now: string }
    >(this.sql.leaseOf, [id, this.name]);
    const row = rows[0];
    const why = invalidLease(row, token, row === undefined ? Date.now() : Number(row.now));
    return new ConflictError(`${operation} on job ${JSON.stringify(id)} of queue ${this.name}: ${why}`, {
      collection: this.name,
      id,
      retryable: false,
    });
  }

  async complete(lease: LeaseRef, result?: DocumentValue, options?: SignalOptions): Promise<void> {
    throwIfAborted(options?.signal, `${this.name}.complete`);
    const checked = checkCompletion(lease, result, this.context.maxPayloadBytes);
    const { outcomes } = await this.settleChecked([checked], 0, null, false);
    const error = outcomes[0]?.error;
    if (error !== undefined) throw error;
  }

  async fail(lease: LeaseRef, error: unknown, options?: FailOptions): Promise<'waiting' | 'dead'> {
    throwIfAborted(options?.signal, `${this.name}.fail`);
    const checked = checkFailure(lease, error, options?.retry, options?.retryAfterMs);
    const { outcomes } = await this.settleChecked([checked], 0, null, false);
    const outcome = outcomes[0] as SettlementOutcome;
    if (outcome.error !== undefined) throw outcome.error;
    return outcome.state === 'dead' ? 'dead' : 'waiting';
  }

  async extendLease(lease: LeaseRef, leaseMs?: number, options?: SignalOptions): Promise<Lease<T>> {
    throwIfAborted(options?.signal, `${this.name}.extendLease`);
    const { id, token } = boundRef(checkLeaseRef(lease));
    const duration = leaseMs === undefined ? null : checkDuration('leaseMs', leaseMs, 1);
    const rows = await (await this.pool()).query<JobRow>(this.sql.extend, [id, this.name, token, duration]);
    const row = rows[0];
    if (row === undefined) throw await this.conflict('extendLease', id, token);
    return toLease<T>(row);
  }

  async release(lease: LeaseRef, options?: SignalOptions): Promise<void> {
    throwIfAborted(options?.signal, `${this.name}.release`);
    const { id, token } = boundRef(checkLeaseRef(lease));
    const { channel, publish } = this.context;
    const rows = await (await this.pool()).query<{ now: string }>(this.sql.release, [
      id,
      this.name,
      token,
      channel,
      publish.channel,
      publish.origin,
    ]);
    const row = rows[0];
    if (row === undefined) throw await this.conflict('release', id, token);
    // The job keeps its runAt (and its place in line), so it is due now.
    this.context.notifier.notify();
    this.emitSimple('released', [id], row.now);
  }

  async progress(lease: LeaseRef, progress: DocumentValue, options?: SignalOptions): Promise<void> {
    throwIfAborted(options?.signal, `${this.name}.progress`);
    const { id, token } = boundRef(checkLeaseRef(lease));
    const value = copyProgress(progress, this.context.maxPayloadBytes);
    const rows = await (await this.pool()).query<{ attempts: number; now: string }>(this.sql.progress, [
      id,
      this.name,
      token,
      encodeDocument(value),
      this.context.publish.channel,
      this.context.publish.origin,
    ]);
    const row = rows[0];
    if (row === undefined) throw await this.conflict('progress', id, token);
    const events = this.context.events;
    if (events.wants('progress')) {
      const at = new Date(Number(row.now));
      events.emit({ type: 'progress', queue: this.name, jobId: id, at, attempt: row.attempts, progress: value });
    }
  }

  /**
   * An event that names only the job (`released`, `cancelled`, `retried`),
   * for each of `ids`, at the server's time of the statement (`now`, epoch
   * ms as pg returns a bigint), as its published copy says.
   */
  emitSimple(type: 'released' | 'cancelled' | 'retried', ids: readonly string[], now: string | undefined): void {
    if (now !== undefined) this.context.events.emitEach(type, ids, new Date(Number(now)));
  }

  /** Settles expired leases (so reads never show a job active past its lease). */
  async reclaimExpired(queryable: PgQueryable): Promise<void> {
    this.emitExpired(await this.settle(queryable, { reclaim: true, count: 0, leaseMs: null }));
  }

  /** Settles expired leases when a probe of the expiry index finds any. */
  async reclaimIfExpired(queryable: PgQueryable): Promise<void> {
    const [row] = await queryable.query<{ expired: boolean }>(this.sql.anyExpired, [this.name]);
    if (row?.expired === true) await this.reclaimExpired(queryable);
  }

  // ---- reads and administration -------------------------------------------

  async get(id: string, options?: SignalOptions): Promise<Job<T> | null> {
    throwIfAborted(options?.signal, `${this.name}.get`);
    if (typeof id !== 'string' || id.includes('\u0000')) return null;
    const pool = await this.pool();
    let [row] = await pool.query<JobRow & { expired: boolean }>(this.sql.byId, [id, this.name]);
    if (row?.expired === true) {
      // Never show a job active past its lease: settle it, then read it again.
      await this.reclaimExpired(pool);
      [row] = await pool.query<JobRow & { expired: boolean }>(this.sql.byId, [id, this.name]);
    }
    return row === undefined ? null : toJob<T>(row);
  }

  async cancel(id: string, options?: SignalOptions): Promise<boolean> {
    throwIfAborted(options?.signal, `${this.name}.cancel`);
    if (typeof id !== 'string' || id.includes('\u0000')) return false;
    const { publish } = this.context;
    const rows = await (await this.pool()).query<{ now: string }>(this.sql.cancel, [
      [id],
      this.name,
      ['waiting', 'active'],
      publish.channel,
      publish.origin,
    ]);
    if (rows.length === 0) return false;
    this.emitSimple('cancelled', [id], rows[0]?.now);
    return true;
  }

  async retry(id: string, options?: SignalOptions): Promise<boolean> {
    throwIfAborted(options?.signal, `${this.name}.retry`);
    if (typeof id !== 'string' || id.includes('\u0000')) return false;
    const pool = await this.pool();
    const { channel, publish } = this.context;
    const rows = await pool.query<{ now: string }>(this.sql.revive, [
      [id],
      this.name,
      channel,
      publish.channel,
      publish.origin,
    ]);
    if (rows.length === 0) {
      const [blocked] = await pool.query<{ state: string; holder: string | null; dedupe_key: string | null }>(
        this.sql.reviveBlocker,
        [id, this.name],
      );
      if (blocked?.holder != null && (blocked.state === 'dead' || blocked.state === 'cancelled')) {
        throw new ConflictError(
          `queue ${this.name}: job ${JSON.stringify(blocked.holder)} holds dedupe key ${JSON.stringify(blocked.dedupe_key)}; retry ${JSON.stringify(id)} once it finishes`,
          { collection: this.name, id, retryable: true },
        );
      }
      return false;
    }
    this.context.notifier.notify();
    this.emitSimple('retried', [id], rows[0]?.now);
    return true;
  }

  /**
   * Counts per state from `_berth_job_counts`, which triggers on both job
   * tables keep current (see the package README), and the active jobs
   * through the expiry index: no scan of the waiting jobs.
   */
  async stats(options?: SignalOptions): Promise<JobStats> {
    throwIfAborted(options?.signal, `${this.name}.stats`);
    const pool = await this.pool();
    await this.reclaimIfExpired(pool);
    const rows = await pool.query<{ state: keyof JobStats | 'live'; count: string }>(this.sql.stats, [this.name]);
    const stats = { waiting: 0, active: 0, completed: 0, dead: 0, cancelled: 0 };
    let live = 0;
    for (const row of rows) {
      if (row.state === 'live') live = Number(row.count);
      else if (row.state in stats) stats[row.state] = Number(row.count);
    }
    // The hot table holds waiting and active jobs: the waiting ones are the rest.
    stats.waiting = live - stats.active;
    return stats;
  }

  async importJobs(jobs: readonly Job<T>[], options?: SignalOptions): Promise<ImportJobsResult> {
    throwIfAborted(options?.signal, `${this.name}.importJobs`);
    const checked = checkImportedJobs(jobs, this.context.maxPayloadBytes);
    if (checked.length === 0) return { imported: 0, skipped: 0 };
    await this.context.backend.ready();
    throwIfAborted(options?.signal, `${this.name}.importJobs`);
    const tables = { jobs: this.sql.jobs, done: this.sql.done, counts: this.sql.counts, sequence: this.sql.sequence };
    const rows = await whileOpen(this.context.backend, () =>
      this.context.backend.session.transaction(
        (client) => insertImportedJobs(client, tables, this.name, this.context.channel, this.context.publish, checked),
        { isolation: 'read committed', context: { collection: this.name } },
      ),
    );
    // Wakes this process's idle workers when the jobs are due, as an enqueue does.
    this.afterEnqueue({
      results: [...rows.waiting.keys()].map((id) => ({ id, deduplicated: false })),
      runAts: rows.waiting,
      now: rows.now,
    });
    return { imported: rows.imported, skipped: checked.length - rows.imported };
  }

  async purge(options: PurgeOptions): Promise<number> {
    throwIfAborted(options?.signal, `${this.name}.purge`);
    const { before, states } = normalizePurge(options);
    if (states.length === 0) return 0;
    const [row] = await (await this.pool()).query<{ count: string }>(this.sql.purge, [
      this.name,
      states,
      before.getTime(),
    ]);
    return Number(row?.count ?? 0);
  }

  listJobs(options?: ListJobsOptions): Promise<JobPage<T>> {
    return this.admin.listJobs(options);
  }

  retryJobs(options?: RetryJobsOptions): Promise<BulkJobsResult> {
    return this.admin.retryJobs(options);
  }

  cancelJobs(options?: BulkJobsOptions): Promise<BulkJobsResult> {
    return this.admin.cancelJobs(options);
  }

  prune(options?: PruneOptions): Promise<number> {
    return this.admin.prune(options);
  }

  // ---- schedules, events, workers -----------------------------------------

  putSchedule(schedule: ScheduleInput<T>, options?: SignalOptions): Promise<ScheduleRecord<T>> {
    return this.scheduleStore.put(schedule, options);
  }

  getSchedule(name: string, options?: SignalOptions): Promise<ScheduleRecord<T> | null> {
    return this.scheduleStore.get(name, options);
  }

  listSchedules(options?: SignalOptions): Promise<ScheduleRecord<T>[]> {
    return this.scheduleStore.list(options);
  }

  removeSchedule(name: string, options?: SignalOptions): Promise<boolean> {
    return this.scheduleStore.remove(name, options);
  }

  async fireSchedule(name: string, tick: ScheduleTick, options?: SignalOptions): Promise<ScheduleFireResult> {
    const fired = await this.scheduleStore.fire(name, tick, options);
    if (fired.inserted !== undefined) this.afterEnqueue(fired.inserted);
    return fired.result;
  }

  subscribe(listener: JobEventListener, options?: SubscribeOptions): () => void {
    return this.context.events.subscribe(listener, options);
  }

  events(options?: QueueEventsOptions): AsyncIterableIterator<QueueEvent> {
    return this.context.events.events(options);
  }

  work(handler: JobHandler<T>, options?: WorkerOptions): Worker {
    return startWorker<T>(this, handler, options, this.context.notifier, this.context.backend.logger);
  }
}

/** A job of `enqueueMany`, checked, and whether its caller fixed its runAt (else the server's clock decides). */
export interface PreparedJob extends PreparedEnqueue {
  readonly explicitRunAt: boolean;
  /** Delay from now (never negative) when `explicitRunAt` is false. */
  readonly delayMs: number;
}

/** What an insert stored: one result per job, the due time (server clock) of each new job, and the server's time. */
export interface Inserted {
  readonly results: EnqueueResult[];
  readonly runAts: ReadonlyMap<string, number>;
  readonly now: number;
}

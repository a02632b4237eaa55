import {
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
  type ImportJobsResult,
  isBerthError,
  type Job,
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
  ValidationError,
  type Worker,
  type WorkerOptions,
} from '@berth/core';
import {
  checkDequeueCount,
  checkDuration,
  checkLeaseRef,
  checkScheduleInput,
  checkScheduleName,
  checkScheduleTick,
  cloneValue,
  copyProgress,
  copyResult,
  DEFAULT_RETENTION,
  MAX_DOCUMENT_BYTES,
  type NormalizedRetention,
  normalizeCancelJobs,
  normalizeListJobs,
  normalizePrune,
  normalizePurge,
  normalizeRetryJobs,
  type PreparedEnqueue,
  prepareEnqueueItems,
  prepareImportJobs,
  scheduledJob,
  startOperation,
  throwIfAborted,
} from '@berth/core/adapter';
import { bulkMemoryJobs, listMemoryJobs, pruneMemoryJobs, purgeMemoryJobs } from './memory-job-admin.js';
import type { MemoryJob, MemoryQueueState, MemorySchedule } from './memory-queue-state.js';
import type { MemorySession } from './memory-session.js';

function toJob<T>(job: MemoryJob): Job<T> {
  return {
    id: job.id,
    queue: job.queue,
    payload: cloneValue(job.payload) as T,
    state: job.state,
    priority: job.priority,
    attempts: job.attempts,
    maxAttempts: job.maxAttempts,
    runAt: new Date(job.runAt),
    dedupeKey: job.dedupeKey,
    leaseMs: job.leaseMs,
    errors: job.errors.map((error) => ({ ...error, at: new Date(error.at.getTime()) })),
    result: cloneValue(job.result),
    progress: cloneValue(job.progress),
    timeoutMs: job.timeoutMs,
    createdAt: new Date(job.createdAt),
    updatedAt: new Date(job.updatedAt),
    finishedAt: job.finishedAt === undefined ? undefined : new Date(job.finishedAt),
    leaseExpiresAt: job.leaseExpiresAt === undefined ? undefined : new Date(job.leaseExpiresAt),
  };
}

function toLease<T>(job: MemoryJob): Lease<T> {
  return { job: toJob<T>(job), token: job.token as string, expiresAt: new Date(job.leaseExpiresAt as number) };
}

function toSchedule<T>(schedule: MemorySchedule): ScheduleRecord<T> {
  return cloneValue(schedule) as ScheduleRecord<unknown> as ScheduleRecord<T>;
}

function checkClaimCount(count: unknown): number {
  if (typeof count !== 'number' || !Number.isSafeInteger(count) || count < 0 || count > 10_000) {
    throw new ValidationError(`count must be an integer from 0 to 10000, got ${String(count)}`, 'count');
  }
  return count;
}

type PreparedJob = PreparedEnqueue;

/**
 * A job queue in process memory: the reference implementation of the
 * JobQueue port. Dequeue, fail and lease expiry work off heaps and counters,
 * listing and bulk steps off an index per state, retention off the finish
 * order, never a scan; workers are woken in-process when a job becomes
 * available. Every queue object of a backend with one name shares one
 * state: its jobs, schedules and events.
 *
 * ### Examples
 * ```ts
 * import { MemoryBackend } from '@berth/adapter-memory';
 *
 * // A MemoryJobQueue comes from the backend, never from its constructor.
 * const backend = new MemoryBackend();
 * const mails = backend.queue<{ to: string }>('mails');
 * await mails.enqueue({ to: 'ada@example.com' });
 * const worker = mails.work(async (job) => console.log('sending to', job.payload.to));
 * ```
 */
export class MemoryJobQueue<T = DocumentValue> implements JobQueue<T> {
  readonly name: string;

  constructor(
    private readonly state: MemoryQueueState,
    private readonly session: MemorySession | undefined = undefined,
    /** Throws when the backend is closed. */
    private readonly assertOpen: () => void = () => undefined,
    private readonly maxPayloadBytes: number = MAX_DOCUMENT_BYTES,
    private readonly retention: NormalizedRetention = DEFAULT_RETENTION,
  ) {
    this.name = state.name;
  }

  private enqueuePrepared(prepared: PreparedJob, now: number): EnqueueResult {
    const holder = this.state.holderOf(prepared.options.dedupeKey);
    if (holder !== undefined) return { id: holder.id, deduplicated: true };
    return { id: this.state.add(generateId(), prepared.payload, prepared.options, now).id, deduplicated: false };
  }

  /** Inside a transaction: decide now, create the jobs when the transaction commits. */
  private enqueueInTransaction(session: MemorySession, prepared: readonly PreparedJob[]): EnqueueResult[] {
    // Dedupe keys this transaction enqueued so far, across every enqueue call it makes on this queue.
    let pending = this.state.pendingKeys.get(session);
    if (pending === undefined) {
      pending = new Map<string, string>();
      this.state.pendingKeys.set(session, pending);
    }
    const created: { id: string; prepared: PreparedJob }[] = [];
    const results = prepared.map((job): EnqueueResult => {
      const key = job.options.dedupeKey;
      const holder = this.state.holderOf(key)?.id ?? (key === undefined ? undefined : pending.get(key));
      if (holder !== undefined) return { id: holder, deduplicated: true };
      const id = generateId();
      if (key !== undefined) pending.set(key, id);
      created.push({ id, prepared: job });
      return { id, deduplicated: false };
    });
    session.addCommitStep({
      check: () => {
        for (const { prepared: job } of created) {
          if (this.state.holderOf(job.options.dedupeKey) !== undefined) {
            throw new ConflictError(
              `queue ${this.name}: a job with dedupe key ${JSON.stringify(job.options.dedupeKey)} was enqueued while this transaction ran; run it again`,
              { collection: this.name },
            );
          }
        }
      },
      apply: () => {
        const now = Date.now();
        for (const { id, prepared: job } of created) this.state.add(id, job.payload, job.options, now);
      },
    });
    return results;
  }

  async enqueue(payload: T, options?: EnqueueOptions & SignalOptions): Promise<EnqueueResult> {
    const [result] = await this.enqueueMany([{ ...options, payload }], options);
    return result as EnqueueResult;
  }

  async enqueueMany(items: readonly EnqueueItem<T>[], options?: SignalOptions): Promise<EnqueueResult[]> {
    throwIfAborted(options?.signal, `${this.name}.enqueue`);
    this.assertOpen();
    const now = Date.now();
    const prepared = prepareEnqueueItems(items, now, this.maxPayloadBytes);
    if (this.session !== undefined) {
      this.session.assertOpen();
      return this.enqueueInTransaction(this.session, prepared);
    }
    return prepared.map((job) => this.enqueuePrepared(job, now));
  }

  async dequeue(options?: DequeueOptions): Promise<Lease<T> | null> {
    const [lease] = await this.dequeueMany(1, options);
    return lease ?? null;
  }

  async dequeueMany(count: number, options?: DequeueOptions): Promise<Lease<T>[]> {
    throwIfAborted(options?.signal, `${this.name}.dequeue`);
    this.assertOpen();
    checkDequeueCount(count);
    const leaseMs = options?.leaseMs === undefined ? undefined : checkDuration('leaseMs', options.leaseMs, 1);
    return this.state.lease(count, leaseMs, Date.now()).map((job) => toLease<T>(job));
  }

  /** `complete` after its checks, synchronously. */
  private completeNow(lease: LeaseRef, result: DocumentValue | undefined, now: number): void {
    const { id, token } = checkLeaseRef(lease);
    const stored = copyResult(result, this.maxPayloadBytes);
    this.state.complete(this.state.leased(id, token, now, 'complete'), stored, now);
  }

  /** `fail` after its checks, synchronously. */
  private failNow(
    lease: LeaseRef,
    error: unknown,
    options: Pick<FailOptions, 'retry' | 'retryAfterMs'> | undefined,
    now: number,
  ): 'waiting' | 'dead' {
    const { id, token } = checkLeaseRef(lease);
    const retryAfterMs =
      options?.retryAfterMs === undefined ? undefined : checkDuration('retryAfterMs', options.retryAfterMs);
    const job = this.state.leased(id, token, now, 'fail');
    return this.state.fail(job, { error, retry: options?.retry, retryAfterMs }, now);
  }

  async complete(lease: LeaseRef, result?: DocumentValue, options?: SignalOptions): Promise<void> {
    throwIfAborted(options?.signal, `${this.name}.complete`);
    this.assertOpen();
    this.completeNow(lease, result, Date.now());
  }

  async fail(lease: LeaseRef, error: unknown, options?: FailOptions): Promise<'waiting' | 'dead'> {
    throwIfAborted(options?.signal, `${this.name}.fail`);
    this.assertOpen();
    return this.failNow(lease, error, options, Date.now());
  }

  async extendLease(lease: LeaseRef, leaseMs?: number, options?: SignalOptions): Promise<Lease<T>> {
    throwIfAborted(options?.signal, `${this.name}.extendLease`);
    this.assertOpen();
    const { id, token } = checkLeaseRef(lease);
    const duration = leaseMs === undefined ? undefined : checkDuration('leaseMs', leaseMs, 1);
    const now = Date.now();
    const job = this.state.leased(id, token, now, 'extendLease');
    this.state.extend(job, duration ?? job.leaseMs, now);
    return toLease<T>(job);
  }

  async release(lease: LeaseRef, options?: SignalOptions): Promise<void> {
    throwIfAborted(options?.signal, `${this.name}.release`);
    this.assertOpen();
    const { id, token } = checkLeaseRef(lease);
    const now = Date.now();
    this.state.release(this.state.leased(id, token, now, 'release'), now);
  }

  async progress(lease: LeaseRef, progress: DocumentValue, options?: SignalOptions): Promise<void> {
    throwIfAborted(options?.signal, `${this.name}.progress`);
    this.assertOpen();
    const { id, token } = checkLeaseRef(lease);
    const stored = copyProgress(progress, this.maxPayloadBytes);
    const now = Date.now();
    this.state.progress(this.state.leased(id, token, now, 'progress'), stored, now);
  }

  /**
   * Applies each settlement as `complete` or `fail` would, then leases up to
   * `count` jobs, in one synchronous step. A settlement refused with a
   * Berth error (a stale lease's CONFLICT, a result's VALIDATION) reports it
   * in its outcome; the others still apply.
   */
  async settleAndClaim(
    settlements: readonly Settlement[],
    count: number,
    options?: DequeueOptions,
  ): Promise<SettleAndClaimResult<T>> {
    throwIfAborted(options?.signal, `${this.name}.settleAndClaim`);
    this.assertOpen();
    if (!Array.isArray(settlements)) {
      throw new ValidationError('settleAndClaim takes an array of settlements', 'settlements');
    }
    const claim = checkClaimCount(count);
    const leaseMs = options?.leaseMs === undefined ? undefined : checkDuration('leaseMs', options.leaseMs, 1);
    const now = Date.now();
    const outcomes = settlements.map((settlement: Settlement): SettlementOutcome => {
      try {
        if (settlement?.outcome === 'complete') {
          this.completeNow(settlement.lease, settlement.result, now);
          return { state: 'completed' };
        }
        if (settlement?.outcome === 'fail')
          return { state: this.failNow(settlement.lease, settlement.error, settlement, now) };
        throw new ValidationError('a settlement is { lease, outcome: "complete" | "fail", ... }', 'outcome');
      } catch (error) {
        if (!isBerthError(error)) throw error;
        return { error };
      }
    });
    const leases = claim === 0 ? [] : this.state.lease(claim, leaseMs, now).map((job) => toLease<T>(job));
    return { outcomes, leases };
  }

  async get(id: string, options?: SignalOptions): Promise<Job<T> | null> {
    throwIfAborted(options?.signal, `${this.name}.get`);
    this.assertOpen();
    const job = typeof id === 'string' ? this.state.jobs.get(id) : undefined;
    if (job === undefined) return null;
    this.state.settle(Date.now());
    return toJob<T>(job);
  }

  async cancel(id: string, options?: SignalOptions): Promise<boolean> {
    throwIfAborted(options?.signal, `${this.name}.cancel`);
    this.assertOpen();
    const job = this.state.jobs.get(id);
    if (job === undefined || (job.state !== 'waiting' && job.state !== 'active')) return false;
    this.state.cancel(job, Date.now());
    return true;
  }

  async retry(id: string, options?: SignalOptions): Promise<boolean> {
    throwIfAborted(options?.signal, `${this.name}.retry`);
    this.assertOpen();
    const job = this.state.jobs.get(id);
    if (job === undefined || (job.state !== 'dead' && job.state !== 'cancelled')) return false;
    const holder = this.state.holderOf(job.dedupeKey);
    if (holder !== undefined) {
      throw new ConflictError(
        `queue ${this.name}: job ${JSON.stringify(holder.id)} holds dedupe key ${JSON.stringify(job.dedupeKey)}; retry ${JSON.stringify(id)} once it finishes`,
        { collection: this.name, id, retryable: true },
      );
    }
    this.state.retry(job, Date.now());
    return true;
  }

  async stats(options?: SignalOptions): Promise<JobStats> {
    throwIfAborted(options?.signal, `${this.name}.stats`);
    this.assertOpen();
    return this.state.stats();
  }

  async purge(options: PurgeOptions): Promise<number> {
    throwIfAborted(options?.signal, `${this.name}.purge`);
    this.assertOpen();
    const { before, states } = normalizePurge(options);
    return purgeMemoryJobs(this.state, states, before.getTime());
  }

  async listJobs(options?: ListJobsOptions): Promise<JobPage<T>> {
    throwIfAborted(options?.signal, `${this.name}.listJobs`);
    this.assertOpen();
    const normalized = normalizeListJobs(this.name, options);
    this.state.settle(Date.now());
    const page = listMemoryJobs(this.state, normalized);
    return { jobs: page.jobs.map((job) => toJob<T>(job)), cursor: page.cursor };
  }

  async retryJobs(options?: RetryJobsOptions): Promise<BulkJobsResult> {
    throwIfAborted(options?.signal, `${this.name}.retryJobs`);
    this.assertOpen();
    const normalized = normalizeRetryJobs(this.name, options);
    const now = Date.now();
    return bulkMemoryJobs(this.state, normalized, (job) => {
      if (this.state.holderOf(job.dedupeKey) !== undefined) return 'skipped';
      this.state.retry(job, now);
      return 'changed';
    });
  }

  async cancelJobs(options?: BulkJobsOptions): Promise<BulkJobsResult> {
    throwIfAborted(options?.signal, `${this.name}.cancelJobs`);
    this.assertOpen();
    const normalized = normalizeCancelJobs(this.name, options);
    const now = Date.now();
    this.state.settle(now);
    return bulkMemoryJobs(this.state, normalized, (job) => {
      this.state.cancel(job, now);
      return 'changed';
    });
  }

  async prune(options?: PruneOptions): Promise<number> {
    throwIfAborted(options?.signal, `${this.name}.prune`);
    this.assertOpen();
    const { retention, limit } = normalizePrune(options, this.retention);
    const now = Date.now();
    this.state.settle(now);
    return pruneMemoryJobs(this.state, retention, limit, now);
  }

  /**
   * Checks every job first, then adds them in one synchronous step (no other
   * call runs in between, so it is all or none): a job whose id the queue
   * holds is skipped, and so is a waiting one whose dedupe key a live job
   * (or an earlier job of this call) holds.
   */
  async importJobs(jobs: readonly Job<T>[], options?: SignalOptions): Promise<ImportJobsResult> {
    startOperation(options, `${this.name}.importJobs`);
    this.assertOpen();
    const prepared = prepareImportJobs(jobs, this.maxPayloadBytes);
    const now = Date.now();
    let imported = 0;
    for (const job of prepared) {
      const taken =
        this.state.jobs.has(job.id) || (job.state === 'waiting' && this.state.holderOf(job.dedupeKey) !== undefined);
      if (taken) continue;
      this.state.addImported(job, now);
      imported += 1;
    }
    return { imported, skipped: prepared.length - imported };
  }

  subscribe(listener: JobEventListener, options?: SubscribeOptions): () => void {
    return this.state.events.subscribe(listener, options);
  }

  events(options?: QueueEventsOptions): AsyncIterableIterator<QueueEvent> {
    return this.state.events.events(options);
  }

  async putSchedule(schedule: ScheduleInput<T>, options?: SignalOptions): Promise<ScheduleRecord<T>> {
    throwIfAborted(options?.signal, `${this.name}.putSchedule`);
    this.assertOpen();
    const input = checkScheduleInput<DocumentValue>(schedule, this.maxPayloadBytes);
    const now = new Date();
    const existing = this.state.schedules.get(input.name);
    const record: MemorySchedule = {
      ...input,
      lastRunAt: existing?.lastRunAt,
      lastJobId: existing?.lastJobId,
      createdAt: existing?.createdAt ?? now,
      updatedAt: now,
      version: (existing?.version ?? 0) + 1,
    };
    this.state.schedules.set(input.name, record);
    return toSchedule<T>(record);
  }

  async getSchedule(name: string, options?: SignalOptions): Promise<ScheduleRecord<T> | null> {
    throwIfAborted(options?.signal, `${this.name}.getSchedule`);
    this.assertOpen();
    const schedule = this.state.schedules.get(checkScheduleName(name));
    return schedule === undefined ? null : toSchedule<T>(schedule);
  }

  async listSchedules(options?: SignalOptions): Promise<ScheduleRecord<T>[]> {
    throwIfAborted(options?.signal, `${this.name}.listSchedules`);
    this.assertOpen();
    return [...this.state.schedules.keys()]
      .sort((a, b) => (a < b ? -1 : a > b ? 1 : 0))
      .map((name) => toSchedule<T>(this.state.schedules.get(name) as MemorySchedule));
  }

  async removeSchedule(name: string, options?: SignalOptions): Promise<boolean> {
    throwIfAborted(options?.signal, `${this.name}.removeSchedule`);
    this.assertOpen();
    return this.state.schedules.delete(checkScheduleName(name));
  }

  /** Check and set in one synchronous step: no other call runs between them, so one caller fires a tick. */
  async fireSchedule(name: string, tick: ScheduleTick, options?: SignalOptions): Promise<ScheduleFireResult> {
    throwIfAborted(options?.signal, `${this.name}.fireSchedule`);
    this.assertOpen();
    const checked = checkScheduleTick(tick);
    const schedule = this.state.schedules.get(checkScheduleName(name));
    if (schedule === undefined || schedule.paused || schedule.nextRunAt?.getTime() !== checked.runAt.getTime()) {
      return { fired: false };
    }
    const now = Date.now();
    const [prepared] = checked.enqueue
      ? prepareEnqueueItems([scheduledJob(schedule, checked)], now, this.maxPayloadBytes)
      : [];
    const job = prepared === undefined ? undefined : this.enqueuePrepared(prepared, now);
    this.state.schedules.set(schedule.name, {
      ...schedule,
      nextRunAt: checked.nextRunAt,
      lastRunAt: checked.runAt,
      lastJobId: job?.id ?? schedule.lastJobId,
      updatedAt: new Date(now),
      version: schedule.version + 1,
    });
    return job === undefined ? { fired: true } : { fired: true, job };
  }

  work(handler: JobHandler<T>, options?: WorkerOptions): Worker {
    return startWorker<T>(this, handler, options, this.state, this.state.logger);
  }
}

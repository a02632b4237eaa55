import {
  ConflictError,
  type DequeueOptions,
  type DocumentValue,
  type EnqueueItem,
  type EnqueueOptions,
  type EnqueueResult,
  type FailOptions,
  generateId,
  type Job,
  type JobHandler,
  type JobQueue,
  type JobStats,
  type Lease,
  type LeaseRef,
  type PurgeOptions,
  type SignalOptions,
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
  cloneValue,
  copyResult,
  FINISHED_JOB_STATES,
  MAX_DOCUMENT_BYTES,
  type PreparedEnqueue,
  prepareEnqueueItems,
  throwIfAborted,
  toJobError,
} from '@berth/core/adapter';
import type { MemoryJob, MemoryQueueState } from './memory-queue-state.js';
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
    createdAt: new Date(job.createdAt),
    updatedAt: new Date(job.updatedAt),
    finishedAt: job.finishedAt === undefined ? undefined : new Date(job.finishedAt),
    leaseExpiresAt: job.leaseExpiresAt === undefined ? undefined : new Date(job.leaseExpiresAt),
  };
}

function toLease<T>(job: MemoryJob): Lease<T> {
  return { job: toJob<T>(job), token: job.token as string, expiresAt: new Date(job.leaseExpiresAt as number) };
}

type PreparedJob = PreparedEnqueue;

/**
 * A job queue in process memory: the reference implementation of the
 * JobQueue port. Dequeue, fail and lease expiry work off heaps and counters,
 * never a scan; workers are woken in-process when a job becomes available.
 */
export class MemoryJobQueue<T = DocumentValue> implements JobQueue<T> {
  readonly name: string;

  constructor(
    private readonly state: MemoryQueueState,
    private readonly session: MemorySession | undefined = undefined,
    /** Throws when the backend is closed. */
    private readonly assertOpen: () => void = () => undefined,
    private readonly maxPayloadBytes: number = MAX_DOCUMENT_BYTES,
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
    const pending = new Map<string, string>();
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

  async complete(lease: LeaseRef, result?: DocumentValue, options?: SignalOptions): Promise<void> {
    throwIfAborted(options?.signal, `${this.name}.complete`);
    this.assertOpen();
    const { id, token } = checkLeaseRef(lease);
    const stored = copyResult(result, this.maxPayloadBytes);
    const now = Date.now();
    const job = this.state.leased(id, token, now, 'complete');
    job.result = stored;
    this.state.setState(job, 'completed', now);
  }

  async fail(lease: LeaseRef, error: unknown, options?: FailOptions): Promise<'waiting' | 'dead'> {
    throwIfAborted(options?.signal, `${this.name}.fail`);
    this.assertOpen();
    const { id, token } = checkLeaseRef(lease);
    const retryAfterMs =
      options?.retryAfterMs === undefined ? undefined : checkDuration('retryAfterMs', options.retryAfterMs);
    const now = Date.now();
    const job = this.state.leased(id, token, now, 'fail');
    job.errors.push(toJobError(error, job.attempts, new Date(now)));
    if (options?.retry === false || job.attempts >= job.maxAttempts) {
      this.state.setState(job, 'dead', now);
      return 'dead';
    }
    job.runAt = now + (retryAfterMs ?? backoffDelay(job.backoff, job.attempts));
    this.state.setState(job, 'waiting', now);
    this.state.schedule(job, now);
    return 'waiting';
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
    const job = this.state.leased(id, token, now, 'release');
    job.attempts -= 1;
    this.state.setState(job, 'waiting', now);
    this.state.schedule(job, now);
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
    this.state.setState(job, 'cancelled', Date.now());
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
    const now = Date.now();
    job.attempts = 0;
    job.runAt = now;
    job.result = undefined;
    this.state.setState(job, 'waiting', now);
    this.state.schedule(job, now);
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
    const before = options?.finishedBefore;
    if (!(before instanceof Date) || Number.isNaN(before.getTime())) {
      throw new ValidationError('purge needs finishedBefore: a valid Date', 'finishedBefore');
    }
    const states = options.states ?? FINISHED_JOB_STATES;
    for (const state of states) {
      if (!FINISHED_JOB_STATES.includes(state)) {
        throw new ValidationError(
          `purge removes finished jobs only (${FINISHED_JOB_STATES.join(', ')}), not ${JSON.stringify(state)}`,
          'states',
        );
      }
    }
    let removed = 0;
    for (const [id, job] of this.state.jobs) {
      if (!states.includes(job.state) || (job.finishedAt ?? Infinity) >= before.getTime()) continue;
      this.state.jobs.delete(id);
      this.state.counts[job.state] -= 1;
      removed++;
    }
    return removed;
  }

  work(handler: JobHandler<T>, options?: WorkerOptions): Worker {
    return startWorker<T>(this, handler, options, this.state);
  }
}

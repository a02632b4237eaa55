import type { BerthLogger } from '@berth/core';
import {
  type BackoffPolicy,
  ConflictError,
  type DocumentValue,
  generateId,
  type JobError,
  type JobState,
  type JobStats,
  type ScheduleRecord,
} from '@berth/core';
import {
  backoffDelay,
  cloneValue,
  JOB_DEFAULTS,
  JobEventHub,
  type NormalizedEnqueue,
  type PreparedImportJob,
  toJobError,
} from '@berth/core/adapter';
import { BinaryHeap } from './binary-heap.js';
import { FinishOrder } from './memory-finish-order.js';
import { JobIndex } from './memory-job-index.js';

/** A job as the memory queue keeps it (times in epoch milliseconds). */
export interface MemoryJob {
  readonly id: string;
  readonly queue: string;
  readonly payload: DocumentValue;
  readonly seq: number;
  readonly maxAttempts: number;
  readonly backoff: BackoffPolicy;
  readonly dedupeKey: string | undefined;
  readonly leaseMs: number;
  readonly createdAt: number;
  priority: number;
  state: JobState;
  attempts: number;
  runAt: number;
  errors: JobError[];
  result: DocumentValue | undefined;
  progress: DocumentValue | undefined;
  readonly timeoutMs: number | undefined;
  updatedAt: number;
  finishedAt: number | undefined;
  leaseExpiresAt: number | undefined;
  token: string | undefined;
  /** Bumped on every change of schedule; heap entries with an older stamp are stale. */
  stamp: number;
  /** Neighbours in the finish order of the job's finished state (see `FinishOrder`). */
  finishedBefore: MemoryJob | undefined;
  finishedAfter: MemoryJob | undefined;
}

type FinishedState = 'completed' | 'dead' | 'cancelled';

function isFinished(state: JobState): state is FinishedState {
  return state === 'completed' || state === 'dead' || state === 'cancelled';
}

/** A schedule as the memory queue keeps it (the record, with its payload as stored). */
export type MemorySchedule = ScheduleRecord<DocumentValue>;

/**
 * A heap entry carries the keys it was ordered by: a job's fields change
 * after it was pushed, and a heap whose keys move under it breaks. Entries
 * whose stamp no longer matches the job's are stale and skipped.
 */
interface HeapEntry {
  readonly job: MemoryJob;
  readonly stamp: number;
  readonly priority: number;
  /** `runAt` for the ready and delayed heaps, `leaseExpiresAt` for the lease heap. */
  readonly time: number;
}

function entry(job: MemoryJob, time: number): HeapEntry {
  return { job, stamp: job.stamp, priority: job.priority, time };
}

function readyOrder(a: HeapEntry, b: HeapEntry): number {
  return b.priority - a.priority || a.time - b.time || a.job.seq - b.job.seq;
}

function timeOrder(a: HeapEntry, b: HeapEntry): number {
  return a.time - b.time;
}

/** How an attempt failed: `retry: false` makes the job dead at once. */
export interface AttemptFailure {
  readonly error: unknown;
  readonly retry?: boolean | undefined;
  readonly retryAfterMs?: number | undefined;
}

/**
 * The state of one memory queue, shared by every queue object of a backend:
 * jobs, counters per state, dedupe keys, three heaps (due jobs by
 * priority/due/FIFO, delayed jobs by due time, leases by expiry) so a
 * dequeue never scans, an index per state in listing order, the finish
 * order per finished state, the schedules and the event hub.
 *
 * Every change of a job's state goes through a method here, which emits the
 * matching event after the change (and builds it only when someone listens).
 */
export class MemoryQueueState {
  readonly jobs: Map<string, MemoryJob> = new Map();
  /** Jobs per state in listing order: listing and bulk steps read only these. */
  readonly byState: Record<JobState, JobIndex<MemoryJob>> = {
    waiting: new JobIndex(),
    active: new JobIndex(),
    completed: new JobIndex(),
    dead: new JobIndex(),
    cancelled: new JobIndex(),
  };
  private readonly finishOrder: Record<FinishedState, FinishOrder<MemoryJob>> = {
    completed: new FinishOrder(),
    dead: new FinishOrder(),
    cancelled: new FinishOrder(),
  };
  readonly events: JobEventHub;
  readonly schedules: Map<string, MemorySchedule> = new Map();
  /** Per open transaction: the dedupe keys it enqueued and their job ids (committed or dropped with it). */
  readonly pendingKeys: WeakMap<object, Map<string, string>> = new WeakMap();
  readonly counts: Record<JobState, number> = { waiting: 0, active: 0, completed: 0, dead: 0, cancelled: 0 };
  /** Dedupe key → id of the waiting or active job holding it. */
  readonly dedupe: Map<string, string> = new Map();
  private readonly ready = new BinaryHeap<HeapEntry>(readyOrder);
  private readonly delayed = new BinaryHeap<HeapEntry>(timeOrder);
  private readonly leases = new BinaryHeap<HeapEntry>(timeOrder);
  private readonly listeners = new Set<() => void>();
  private timer: ReturnType<typeof setTimeout> | undefined;
  private timerAt = Number.POSITIVE_INFINITY;
  private sequence = 0;

  constructor(
    readonly name: string,
    /** The backend's logger, for its workers and event listeners. */
    readonly logger?: BerthLogger | undefined,
  ) {
    this.events = new JobEventHub(name, logger);
  }

  /** Moves a job to a state, keeping counters, indexes and dedupe keys in step. */
  setState(job: MemoryJob, state: JobState, now: number): void {
    const from = job.state;
    if (from !== state) {
      this.counts[from] -= 1;
      this.counts[state] += 1;
      this.byState[from].remove(job);
      this.byState[state].insert(job);
      if (isFinished(from)) this.finishOrder[from].unlink(job);
    }
    job.state = state;
    job.updatedAt = now;
    job.stamp += 1;
    const live = state === 'waiting' || state === 'active';
    if (job.dedupeKey !== undefined) {
      if (live) this.dedupe.set(job.dedupeKey, job.id);
      else if (this.dedupe.get(job.dedupeKey) === job.id) this.dedupe.delete(job.dedupeKey);
    }
    if (state !== 'active') {
      job.token = undefined;
      job.leaseExpiresAt = undefined;
    }
    job.finishedAt = isFinished(state) ? now : undefined;
    if (from !== state && isFinished(state)) this.finishOrder[state].insert(job);
  }

  /** Puts a waiting job in the heap it belongs to. */
  schedule(job: MemoryJob, now: number): void {
    if (job.runAt <= now) this.ready.push(entry(job, job.runAt));
    else this.delayed.push(entry(job, job.runAt));
    this.notify();
  }

  /** The live job holding a dedupe key, if any. */
  holderOf(dedupeKey: string | undefined): MemoryJob | undefined {
    if (dedupeKey === undefined) return undefined;
    const id = this.dedupe.get(dedupeKey);
    return id === undefined ? undefined : this.jobs.get(id);
  }

  /** Adds a new waiting job. */
  add(id: string, payload: DocumentValue, options: NormalizedEnqueue, now: number): MemoryJob {
    this.sequence += 1;
    const job: MemoryJob = {
      id,
      queue: this.name,
      payload,
      seq: this.sequence,
      maxAttempts: options.maxAttempts,
      backoff: options.backoff,
      dedupeKey: options.dedupeKey,
      leaseMs: options.leaseMs,
      createdAt: now,
      priority: options.priority,
      state: 'waiting',
      attempts: 0,
      runAt: options.runAt.getTime(),
      errors: [],
      result: undefined,
      progress: undefined,
      timeoutMs: options.timeoutMs,
      updatedAt: now,
      finishedAt: undefined,
      leaseExpiresAt: undefined,
      token: undefined,
      stamp: 0,
      finishedBefore: undefined,
      finishedAfter: undefined,
    };
    this.jobs.set(id, job);
    this.counts.waiting += 1;
    this.byState.waiting.insert(job);
    if (job.dedupeKey !== undefined) this.dedupe.set(job.dedupeKey, id);
    this.schedule(job, now);
    if (this.events.wants('enqueued')) {
      this.events.emit({
        type: 'enqueued',
        queue: this.name,
        jobId: id,
        at: new Date(now),
        runAt: new Date(job.runAt),
      });
    }
    return job;
  }

  /**
   * Adds an imported job as it was: its state, attempts, times and history.
   * A waiting one goes to the heap its `runAt` puts it in (and holds its
   * dedupe key), a finished one into its state's finish order by
   * `finishedAt`. Imported jobs retry with the default backoff.
   */
  addImported(imported: PreparedImportJob, now: number): MemoryJob {
    this.sequence += 1;
    const job: MemoryJob = {
      id: imported.id,
      queue: this.name,
      payload: imported.payload,
      seq: this.sequence,
      maxAttempts: imported.maxAttempts,
      backoff: JOB_DEFAULTS.backoff,
      dedupeKey: imported.dedupeKey,
      leaseMs: imported.leaseMs,
      createdAt: imported.createdAt.getTime(),
      priority: imported.priority,
      state: imported.state,
      attempts: imported.attempts,
      runAt: imported.runAt.getTime(),
      errors: [...imported.errors],
      result: imported.result,
      progress: imported.progress,
      timeoutMs: imported.timeoutMs,
      updatedAt: imported.updatedAt.getTime(),
      finishedAt: imported.finishedAt?.getTime(),
      leaseExpiresAt: undefined,
      token: undefined,
      stamp: 0,
      finishedBefore: undefined,
      finishedAfter: undefined,
    };
    this.jobs.set(job.id, job);
    this.counts[job.state] += 1;
    this.byState[job.state].insert(job);
    if (isFinished(job.state)) {
      this.finishOrder[job.state].insert(job);
      return job;
    }
    if (job.dedupeKey !== undefined) this.dedupe.set(job.dedupeKey, job.id);
    this.schedule(job, now);
    if (this.events.wants('enqueued')) {
      this.events.emit({
        type: 'enqueued',
        queue: this.name,
        jobId: job.id,
        at: new Date(now),
        runAt: new Date(job.runAt),
      });
    }
    return job;
  }

  /** Removes a finished job for good (purge, prune). */
  remove(job: MemoryJob): void {
    this.jobs.delete(job.id);
    this.counts[job.state] -= 1;
    this.byState[job.state].remove(job);
    if (isFinished(job.state)) this.finishOrder[job.state].unlink(job);
  }

  /** The job of a finished state that finished first, if any. */
  oldestFinished(state: FinishedState): MemoryJob | undefined {
    return this.finishOrder[state].first;
  }

  /** Completes a validly leased job. */
  complete(job: MemoryJob, result: DocumentValue | undefined, now: number): void {
    job.result = result;
    const attempt = job.attempts;
    this.setState(job, 'completed', now);
    if (this.events.wants('completed')) {
      this.events.emit({ type: 'completed', queue: this.name, jobId: job.id, at: new Date(now), attempt });
    }
  }

  /** Fails the attempt of a validly leased job: retried after backoff, or dead. */
  fail(job: MemoryJob, failure: AttemptFailure, now: number): 'waiting' | 'dead' {
    const error = toJobError(failure.error, job.attempts, new Date(now));
    job.errors.push(error);
    if (failure.retry === false || job.attempts >= job.maxAttempts) {
      this.die(job, error, now);
      return 'dead';
    }
    job.runAt = now + (failure.retryAfterMs ?? backoffDelay(job.backoff, job.attempts));
    this.setState(job, 'waiting', now);
    this.schedule(job, now);
    if (this.events.wants('failed')) {
      this.events.emit({
        type: 'failed',
        queue: this.name,
        jobId: job.id,
        at: new Date(now),
        attempt: job.attempts,
        error,
        retryAt: new Date(job.runAt),
      });
    }
    return 'waiting';
  }

  private die(job: MemoryJob, error: JobError, now: number): void {
    this.setState(job, 'dead', now);
    if (this.events.wants('dead')) {
      this.events.emit({
        type: 'dead',
        queue: this.name,
        jobId: job.id,
        at: new Date(now),
        attempt: job.attempts,
        error,
      });
    }
  }

  /** Gives a validly leased job back without counting the attempt. */
  release(job: MemoryJob, now: number): void {
    job.attempts -= 1;
    this.setState(job, 'waiting', now);
    this.schedule(job, now);
    if (this.events.wants('released')) {
      this.events.emit({ type: 'released', queue: this.name, jobId: job.id, at: new Date(now) });
    }
  }

  /** Stores progress on a validly leased job. */
  progress(job: MemoryJob, progress: DocumentValue, now: number): void {
    job.progress = progress;
    job.updatedAt = now;
    if (this.events.wants('progress')) {
      this.events.emit({
        type: 'progress',
        queue: this.name,
        jobId: job.id,
        at: new Date(now),
        attempt: job.attempts,
        progress: cloneValue(progress) as DocumentValue,
      });
    }
  }

  /** Cancels a waiting or active job. */
  cancel(job: MemoryJob, now: number): void {
    this.setState(job, 'cancelled', now);
    if (this.events.wants('cancelled')) {
      this.events.emit({ type: 'cancelled', queue: this.name, jobId: job.id, at: new Date(now) });
    }
  }

  /** Puts a dead or cancelled job whose dedupe key is free back to waiting, with fresh attempts. */
  retry(job: MemoryJob, now: number): void {
    job.attempts = 0;
    job.runAt = now;
    job.result = undefined;
    job.progress = undefined;
    this.setState(job, 'waiting', now);
    this.schedule(job, now);
    if (this.events.wants('retried')) {
      this.events.emit({ type: 'retried', queue: this.name, jobId: job.id, at: new Date(now) });
    }
  }

  /**
   * Due delayed jobs move to the ready heap; expired leases are retried or
   * dead-lettered. Runs before every dequeue, `get` and `stats`, so what they
   * report is current.
   */
  settle(now: number): void {
    for (let head = this.delayed.peek(); head !== undefined && head.time <= now; head = this.delayed.peek()) {
      this.delayed.pop();
      if (head.stamp === head.job.stamp && head.job.state === 'waiting') this.ready.push(head);
    }
    for (let head = this.leases.peek(); head !== undefined && head.time <= now; head = this.leases.peek()) {
      this.leases.pop();
      const job = head.job;
      if (head.stamp !== job.stamp || job.state !== 'active') continue;
      const error: JobError = {
        attempt: job.attempts,
        message: 'lease expired',
        name: 'LEASE_EXPIRED',
        at: new Date(now),
      };
      job.errors.push(error);
      const last = job.attempts >= job.maxAttempts;
      if (!last) {
        this.setState(job, 'waiting', now);
        this.ready.push(entry(job, job.runAt));
      }
      if (this.events.wants('expired')) {
        this.events.emit({
          type: 'expired',
          queue: this.name,
          jobId: job.id,
          at: new Date(now),
          attempt: job.attempts,
        });
      }
      if (last) this.die(job, error, now);
    }
  }

  /**
   * Heap entries of jobs that moved on (completed, failed, released) are
   * only dropped when they reach the top; without this, a busy queue would
   * keep one dead entry per job for a whole lease time. A heap holding more
   * than twice the live entries (plus a margin) is filtered: O(n) once per
   * n/2 stale entries.
   */
  private compact(): void {
    const live = (head: HeapEntry): boolean => head.stamp === head.job.stamp;
    if (this.leases.size > 2 * this.counts.active + 1_024) this.leases.retain(live);
    if (this.ready.size + this.delayed.size > 2 * this.counts.waiting + 1_024) {
      this.ready.retain(live);
      this.delayed.retain(live);
    }
  }

  /** Entries the heaps hold, stale ones included. */
  heapSizes(): { readonly ready: number; readonly delayed: number; readonly leases: number } {
    return { ready: this.ready.size, delayed: this.delayed.size, leases: this.leases.size };
  }

  /** Leases up to `count` due jobs in order. */
  lease(count: number, leaseMs: number | undefined, now: number): MemoryJob[] {
    this.settle(now);
    this.compact();
    const leased: MemoryJob[] = [];
    while (leased.length < count) {
      const head = this.ready.pop();
      if (head === undefined) break;
      const job = head.job;
      if (head.stamp !== job.stamp || job.state !== 'waiting') continue;
      this.setState(job, 'active', now);
      job.attempts += 1;
      job.token = generateId();
      job.leaseExpiresAt = now + (leaseMs ?? job.leaseMs);
      this.leases.push(entry(job, job.leaseExpiresAt));
      leased.push(job);
      if (this.events.wants('started')) {
        this.events.emit({
          type: 'started',
          queue: this.name,
          jobId: job.id,
          at: new Date(now),
          attempt: job.attempts,
        });
      }
    }
    this.armTimer();
    return leased;
  }

  /** The job behind a lease, or CONFLICT when the lease is no longer valid. */
  leased(jobId: string, token: string, now: number, operation: string): MemoryJob {
    const job = this.jobs.get(jobId);
    if (job === undefined || job.state !== 'active' || job.token !== token || (job.leaseExpiresAt ?? 0) <= now) {
      const why =
        job === undefined
          ? 'the job no longer exists'
          : job.state !== 'active'
            ? `the job is ${job.state}`
            : job.token !== token
              ? 'the job was leased again with another token'
              : 'the lease expired';
      throw new ConflictError(`${operation} on job ${JSON.stringify(jobId)} of queue ${this.name}: ${why}`, {
        collection: this.name,
        id: jobId,
        retryable: false,
      });
    }
    return job;
  }

  /** Extends a valid lease. */
  extend(job: MemoryJob, leaseMs: number, now: number): void {
    job.leaseExpiresAt = now + leaseMs;
    job.stamp += 1;
    job.updatedAt = now;
    this.leases.push(entry(job, job.leaseExpiresAt));
    this.armTimer();
  }

  stats(): JobStats {
    this.settle(Date.now());
    return { ...this.counts };
  }

  onJobAvailable(listener: () => void): () => void {
    this.listeners.add(listener);
    this.armTimer();
    return () => {
      this.listeners.delete(listener);
      if (this.listeners.size === 0) this.disarmTimer();
    };
  }

  notify(): void {
    if (this.listeners.size === 0) return;
    // Listeners run after the current operation has returned, never inside it.
    queueMicrotask(() => {
      for (const listener of this.listeners) listener();
    });
    this.armTimer();
  }

  private disarmTimer(): void {
    clearTimeout(this.timer);
    this.timer = undefined;
    this.timerAt = Number.POSITIVE_INFINITY;
  }

  private dropStaleHeads(): void {
    for (
      let entry = this.delayed.peek();
      entry !== undefined && entry.stamp !== entry.job.stamp;
      entry = this.delayed.peek()
    ) {
      this.delayed.pop();
    }
    for (
      let entry = this.leases.peek();
      entry !== undefined && entry.stamp !== entry.job.stamp;
      entry = this.leases.peek()
    ) {
      this.leases.pop();
    }
  }

  /** Wakes listeners when the next delayed job falls due or the next lease expires. */
  private armTimer(): void {
    if (this.listeners.size === 0) return;
    // Settle what is due already, so the heads of both heaps lie in the future.
    this.settle(Date.now());
    this.dropStaleHeads();
    const next = Math.min(this.delayed.peek()?.time ?? Infinity, this.leases.peek()?.time ?? Infinity);
    if (next === Number.POSITIVE_INFINITY || next >= this.timerAt) return;
    this.disarmTimer();
    this.timerAt = next;
    this.timer = setTimeout(
      () => {
        this.timer = undefined;
        this.timerAt = Number.POSITIVE_INFINITY;
        this.notify();
      },
      Math.max(0, next - Date.now()) + 1,
    );
    // A pending wake-up must not keep the process alive on its own.
    this.timer.unref?.();
  }
}

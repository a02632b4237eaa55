import { AbortedError, isBerthError, TimeoutError, ValidationError } from '../errors.js';
import { type BerthLogger, consoleLogger } from '../operation/logger.js';
import type { DocumentValue } from '../values/document.js';
import type { Lease } from './job.js';
import { checkDuration, JOB_DEFAULTS } from './job-options.js';
import type { JobHandler, JobQueue, Settlement, SettlementOutcome, Worker, WorkerOptions } from './job-queue.js';
import { JobRun, renewalDelay } from './worker-job-run.js';
import { WORKER_OBSERVER, type WorkerObserver } from './worker-observer.js';

/**
 * How an adapter tells workers that a job may be available (LISTEN/NOTIFY, pub/sub, in-process events).
 *
 * ### Examples
 * ```ts
 * import type { JobNotifier } from '@berth/core';
 *
 * // A notifier over an in-process event target: enqueues in this process wake idle workers at once.
 * const target = new EventTarget();
 * const notifier: JobNotifier = {
 *   onJobAvailable(listener) {
 *     target.addEventListener('job', listener);
 *     return () => target.removeEventListener('job', listener);
 *   },
 * };
 * target.dispatchEvent(new Event('job'));
 * ```
 */
export interface JobNotifier {
  /** Calls `listener` when a job may have become due; returns the unsubscribe function. */
  onJobAvailable(listener: () => void): () => void;
  /**
   * Optional: the worker is idle (waiting for a job, with free slots) until
   * the returned function is called. While it is, the adapter may lease jobs
   * for it inside a write of its own that makes jobs due (an enqueue in this
   * process), with the claim a fetch would make, and hand them over at once
   * with `worker.take`: no second transaction, no wake-up delay.
   */
  onIdle?(worker: IdleWorker): () => void;
}

/**
 * A worker waiting for jobs, as its notifier sees it (see `JobNotifier.onIdle`).
 *
 * ### Examples
 * ```ts
 * import type { IdleWorker, JobNotifier } from '@berth/core';
 *
 * // Remembers the idle workers so that an enqueue can hand its jobs straight to one.
 * const idle = new Set<IdleWorker>();
 * const notifier: JobNotifier = {
 *   onJobAvailable: () => () => {},
 *   onIdle(worker) {
 *     idle.add(worker);
 *     return () => idle.delete(worker);
 *   },
 * };
 * ```
 */
export interface IdleWorker {
  /** Jobs it would claim now (0 once the offer is withdrawn). */
  readonly capacity: number;
  /** The lease it claims with (`undefined`: each job's own `leaseMs`). */
  readonly leaseMs: number | undefined;
  /**
   * Takes jobs leased for it (after their claim committed); it is no longer
   * idle then. Its handlers start from the worker's own loop, after the
   * caller has returned (not inside the adapter's write, nor in the
   * caller's async context). Jobs handed over to an offer already withdrawn
   * (the worker woke up or closed meanwhile), or beyond its capacity, are
   * released.
   */
  take(leases: readonly Lease<unknown>[]): void;
}

/** One idle offer: open from `onIdle` until the worker wakes up. */
class IdleOffer implements IdleWorker {
  open = true;

  constructor(
    private readonly free: () => number,
    readonly leaseMs: number | undefined,
    private readonly taken: (offer: IdleOffer, leases: readonly Lease<unknown>[]) => void,
  ) {}

  get capacity(): number {
    return this.open ? Math.max(0, this.free()) : 0;
  }

  take(leases: readonly Lease<unknown>[]): void {
    this.taken(this, leases);
  }
}

/** What a call to the engine answers once `close()` has stopped waiting for it. */
const GAVE_UP: unique symbol = Symbol('gave up');

/** The next turn of the event loop: after the promise jobs queued now (an enqueue returning to its caller). */
const nextTurn = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

/** Leases of prefetched jobs stay short, so a crashed worker does not sit on them. */
const PREFETCH_LEASE_MS = 10_000;

/** How much shorter than `pollIntervalMs` an idle poll may come, as a fraction of it. */
const POLL_JITTER = 0.2;

/** The longest pause between fetches while the queue keeps failing with retryable errors. */
const MAX_FETCH_BACKOFF_MS = 30_000;

/**
 * How long after a lost claim's lease could have run out the worker looks
 * again: the engine's clock decides expiry, and it may run a little behind.
 */
const LOST_CLAIM_MARGIN_MS = 1_000;

/**
 * A closed or unreachable-for-good backend: fetching again cannot succeed, so
 * the worker stops instead of polling it forever.
 */
function isFatal(error: unknown): boolean {
  return isBerthError(error, 'CONNECTION') && !error.retryable;
}

type ObservedWorkerOptions = WorkerOptions & { readonly [WORKER_OBSERVER]?: WorkerObserver | undefined };

/** Jobs removed per `prune` call; a full step means more may be due, so the next one comes soon. */
const PRUNE_STEP = 1_000;

/** The pause between retention steps while a backlog of expired jobs is being removed. */
const PRUNE_CATCH_UP_MS = 100;

/**
 * Whether a handler's error asks for no further attempts: an error whose
 * `retryable` is `false` (a non-retryable Berth error, or any error you mark
 * so) makes the job dead at once.
 *
 * ### Examples
 * ```ts
 * import { ValidationError } from '@berth/core';
 * import { isPermanentFailure } from '@berth/core/adapter';
 *
 * isPermanentFailure(new ValidationError('bad payload')); // true: the job goes dead at once
 * isPermanentFailure(Object.assign(new Error('gone'), { retryable: false })); // true
 * isPermanentFailure(new Error('flaky')); // false
 * ```
 */
export function isPermanentFailure(error: unknown): boolean {
  return typeof error === 'object' && error !== null && (error as { retryable?: unknown }).retryable === false;
}

function isRetryable(error: unknown): boolean {
  return typeof error === 'object' && error !== null && (error as { retryable?: unknown }).retryable === true;
}

function isPromiseLike(value: unknown): value is PromiseLike<unknown> {
  return typeof (value as { then?: unknown } | null | undefined)?.then === 'function';
}

function checkCount(name: string, value: number | undefined, fallback: number, min: number): number {
  const count = value ?? fallback;
  if (!Number.isSafeInteger(count) || count < min || count > 10_000) {
    throw new ValidationError(`${name} must be an integer from ${min} to 10000, got ${String(count)}`, name);
  }
  return count;
}

/**
 * The worker every queue adapter hands out from `queue.work()`: written once,
 * on top of the JobQueue port, so all engines get the same behaviour.
 *
 * One loop claims jobs. With `settleAndClaim`, finished attempts are queued
 * and sent with the next claim in one call, and attempts that finish while a
 * call is in flight go with the call after it (one call at a time); without
 * it, each attempt is settled on its own and the loop calls `dequeueMany`.
 * One timer serves every held lease (renewals at a third of the lease) and
 * every attempt's timeout.
 */
class QueueWorker<T> implements Worker {
  private readonly concurrency: number;
  private readonly prefetch: number;
  private readonly pollIntervalMs: number;
  private readonly closeTimeoutMs: number;
  private readonly leaseMs: number | undefined;
  private readonly timeoutMs: number | undefined;
  private readonly retentionIntervalMs: number;
  /** Handlers running; on the plain path also attempts being settled (they keep their slot). */
  private readonly inFlight = new Set<JobRun<T>>();
  private readonly prefetched: JobRun<T>[] = [];
  /** Every lease the worker renews: prefetched jobs and running handlers. */
  private readonly held = new Set<JobRun<T>>();
  /** Finished attempts waiting for the next `settleAndClaim` call (each run carries its settlement). */
  private pending: JobRun<T>[] = [];
  private readonly batched: boolean;
  private timer: ReturnType<typeof setTimeout> | undefined;
  private timerAt = Number.POSITIVE_INFINITY;
  /** When the leases of a claim whose answer was lost run out: the worker looks for jobs again then. */
  private recheckAt = Number.POSITIVE_INFINITY;
  private retentionTimer: ReturnType<typeof setTimeout> | undefined;
  private pruning: Promise<void> | undefined;
  private readonly unsubscribe: (() => void) | undefined;
  private readonly loopDone: Promise<void>;
  private closing = false;
  /** Set at the end of close(): no timer is armed any more (a renewal may still be in flight). */
  private stopped = false;
  /** Set when close() gave up waiting for handlers: their outcomes are ignored. */
  private abandoned = false;
  private startingHandlers = false;
  /** Set once the backend failed for good; later errors of the same kind are not reported again. */
  private stoppedByFatalError = false;
  private closed: Promise<void> | undefined;
  private wakeUp: (() => void) | undefined;
  /** Jobs were handed over while idle: the loop starts them when it wakes. */
  private handedOver = false;
  /** Calls to the engine in flight, each with what ends its wait (see `untilGivenUp`). */
  private readonly awaited = new Set<() => void>();
  /** close() gave up on the engine: calls answer `GAVE_UP` at once. */
  private gaveUp = false;
  /** A job became available while no sleep was waiting for it (see `jobAvailable`). */
  private missedWakeUp = false;
  private drained: (() => void) | undefined;
  private readonly queue: JobQueue<T>;
  private readonly observer: WorkerObserver | undefined;
  private readonly notifier: JobNotifier | undefined;
  private readonly logger: BerthLogger;

  constructor(
    queue: JobQueue<T>,
    private readonly handler: JobHandler<T>,
    private readonly options: WorkerOptions,
    notifier: JobNotifier | undefined,
    logger: BerthLogger | undefined,
  ) {
    this.logger = options.logger ?? logger ?? consoleLogger;
    this.concurrency = checkCount('concurrency', options.concurrency, 1, 1);
    this.prefetch = checkCount('prefetch', options.prefetch, 0, 0);
    this.pollIntervalMs = checkDuration('pollIntervalMs', options.pollIntervalMs ?? 1_000, 1);
    this.closeTimeoutMs = checkDuration('closeTimeoutMs', options.closeTimeoutMs ?? 30_000);
    this.leaseMs = options.leaseMs === undefined ? undefined : checkDuration('leaseMs', options.leaseMs, 1);
    this.timeoutMs = options.timeoutMs === undefined ? undefined : checkDuration('timeoutMs', options.timeoutMs, 1);
    this.retentionIntervalMs = checkDuration('retentionIntervalMs', options.retentionIntervalMs ?? 60_000);
    if (typeof handler !== 'function') throw new ValidationError('work() needs a handler function', 'handler');
    this.observer = (options as ObservedWorkerOptions)[WORKER_OBSERVER];
    this.queue = this.observer === undefined ? queue : this.observer.wrap(queue);
    this.batched = typeof this.queue.settleAndClaim === 'function';
    // An instrumented worker sees every claim go through its wrapped queue: no hand-off bypasses it.
    this.notifier = this.observer === undefined ? notifier : undefined;
    this.unsubscribe = notifier?.onJobAvailable(() => this.jobAvailable());
    options.signal?.addEventListener('abort', () => void this.close(), { once: true });
    this.loopDone = this.loop();
    if (options.signal?.aborted) void this.close();
    // Queues from before the retention port have no prune(): nothing to apply there.
    else if (this.retentionIntervalMs > 0 && typeof this.queue.prune === 'function') this.pruning = this.prune();
  }

  get running(): number {
    return this.inFlight.size;
  }

  private report(error: unknown, lease?: Lease<T>): void {
    if (isFatal(error)) {
      // The backend is gone: say it once and stop, as close() would, instead
      // of failing (and reporting) every poll, renewal and settlement after it.
      if (this.stoppedByFatalError) return;
      this.stoppedByFatalError = true;
      void this.close();
    }
    const job = lease?.job as Lease<unknown>['job'] | undefined;
    if (this.options.onError !== undefined) this.options.onError(error, job);
    // Without a hook, say it rather than lose it.
    else {
      const where = `berth worker on queue ${this.queue.name}${job ? `, job ${job.id}` : ''}`;
      this.logger.error(
        where,
        job ? { error, queue: this.queue.name, jobId: job.id } : { error, queue: this.queue.name },
      );
    }
  }

  /**
   * A notification that comes while the worker is fetching (not sleeping)
   * is kept, so the next sleep is skipped: the fetch in flight may have read
   * the queue before the job was committed.
   */
  private jobAvailable(): void {
    if (this.wakeUp === undefined) this.missedWakeUp = true;
    else this.wake();
  }

  private wake(): void {
    const wakeUp = this.wakeUp;
    this.wakeUp = undefined;
    wakeUp?.();
  }

  /**
   * Waits for `ms`, or without a timer (`undefined`: every slot is busy, and
   * a finishing job wakes the loop). An `idle` wait (the poll) offers the
   * worker to the notifier for a hand-off until it wakes.
   */
  private sleep(ms: number | undefined, idle = false): Promise<void> {
    if (this.missedWakeUp) {
      this.missedWakeUp = false;
      return Promise.resolve();
    }
    return new Promise((resolve) => {
      const timer = ms === undefined ? undefined : setTimeout(() => this.wake(), ms);
      const notifier = idle ? this.notifier : undefined;
      const offer =
        notifier?.onIdle === undefined
          ? undefined
          : new IdleOffer(
              () => this.freeCapacity(),
              this.claimLeaseMs(),
              (from, leases) => this.take(from, leases as readonly Lease<T>[]),
            );
      let withdraw: (() => void) | undefined;
      // Set before the offer is made: a notifier may hand jobs over from inside onIdle.
      this.wakeUp = () => {
        clearTimeout(timer);
        if (offer !== undefined) offer.open = false;
        withdraw?.();
        resolve();
      };
      if (offer === undefined) return;
      const notIdle = notifier?.onIdle?.(offer);
      if (offer.open) withdraw = notIdle;
      else notIdle?.();
    });
  }

  /**
   * Jobs an idle offer's notifier leased for this worker: held at once (so
   * renewed), started by the loop once it wakes. Past the offer (withdrawn,
   * or beyond its capacity) or after close(), they are not this worker's to
   * run and are released, as prefetched jobs are on close.
   */
  private take(offer: IdleOffer, leases: readonly Lease<T>[]): void {
    const kept = offer.open && !this.closing ? leases.slice(0, offer.capacity) : [];
    if (kept.length < leases.length) void this.release(leases.slice(kept.length));
    if (kept.length === 0) return;
    this.hold(kept);
    this.handedOver = true;
    this.wake();
  }

  private freeCapacity(): number {
    return this.concurrency + this.prefetch - this.inFlight.size - this.prefetched.length;
  }

  private claimLeaseMs(): number | undefined {
    return this.prefetch > 0 ? Math.min(this.leaseMs ?? PREFETCH_LEASE_MS, PREFETCH_LEASE_MS) : this.leaseMs;
  }

  private async loop(): Promise<void> {
    let failures = 0;
    let releasedPrefetched = false;
    for (;;) {
      if (this.closing) {
        if (this.stoppedByFatalError) break;
        if (!releasedPrefetched) {
          releasedPrefetched = true;
          await this.releasePrefetched();
        }
        // Attempts that finish while closing are still settled, one call at a time.
        if (!this.batched) break;
        if (this.pending.length > 0) {
          // Past closeTimeoutMs the engine is not waited for (it is down or
          // unreachable): what could not be sent is left to its leases.
          if (this.abandoned) break;
          const settled = await this.exchange(0);
          if (settled === undefined && !this.stoppedByFatalError) {
            if (this.abandoned) break;
            failures += 1;
            await this.sleep(this.fetchBackoffMs(failures));
          }
          continue;
        }
        if (this.inFlight.size === 0 || this.abandoned) break;
        await this.sleep(undefined);
        continue;
      }
      const capacity = this.freeCapacity();
      if (capacity > 0 || this.pending.length > 0) {
        const claimed = this.batched ? await this.exchange(capacity) : await this.claim(capacity);
        if (claimed === undefined) {
          if (this.stoppedByFatalError) break;
          failures += 1;
          if (!this.closing) await this.sleep(this.fetchBackoffMs(failures));
          continue;
        }
        failures = 0;
        this.startHandlers();
        // Never sleep after a non-empty fetch: there may be more due jobs.
        if (claimed > 0 || this.pending.length > 0) continue;
      }
      if (this.closing) continue;
      const free = this.freeCapacity() > 0;
      await this.sleep(free ? this.pollDelayMs() : undefined, free);
      if (this.handedOver) {
        this.handedOver = false;
        // Handed over inside an adapter's write (an enqueue): the handlers
        // start from here, in the worker's own async context, once that
        // enqueue has returned to its caller.
        await nextTurn();
        this.startHandlers();
      }
    }
  }

  /** The plain path: leases up to `count` jobs; the number leased, or `undefined` after a reported failure. */
  private async claim(count: number): Promise<number | undefined> {
    const leaseMs = this.claimLeaseMs();
    let leases: Lease<T>[] | typeof GAVE_UP;
    try {
      leases = await this.untilGivenUp(this.queue.dequeueMany(count, leaseMs === undefined ? {} : { leaseMs }));
    } catch (error) {
      this.lostClaim(error, leaseMs);
      this.report(error);
      return undefined;
    }
    // close() stopped waiting: leases that may still come are left to expire.
    if (leases === GAVE_UP) return undefined;
    this.hold(leases);
    return leases.length;
  }

  /**
   * The batched path: sends every queued settlement with a claim for `count`
   * jobs in one call. A settlement refused for its result (`VALIDATION`)
   * fails the attempt in the next call instead of leaving the job active.
   */
  private async exchange(count: number): Promise<number | undefined> {
    const batch = this.pending;
    this.pending = [];
    const leaseMs = this.claimLeaseMs();
    let answer: { readonly outcomes: readonly SettlementOutcome[]; readonly leases: Lease<T>[] } | typeof GAVE_UP;
    try {
      const settleAndClaim = this.queue.settleAndClaim as NonNullable<JobQueue<T>['settleAndClaim']>;
      answer = await this.untilGivenUp(
        settleAndClaim.call(
          this.queue,
          batch.map((run) => run.settlement as Settlement),
          count,
          leaseMs === undefined ? {} : { leaseMs },
        ),
      );
    } catch (error) {
      // Nothing was applied: a passing failure keeps the settlements for the next call.
      if (isRetryable(error) && !isFatal(error)) this.pending = batch.concat(this.pending);
      else for (const run of batch) run.end(run.failure);
      if (count > 0) this.lostClaim(error, leaseMs);
      this.report(error);
      return undefined;
    }
    if (answer === GAVE_UP) {
      // close() stopped waiting for the engine: whatever the call does, if
      // it ever answers, is ignored, and the leases it holds or brings expire.
      for (const run of batch) endUnsettled(run);
      return undefined;
    }
    const { outcomes, leases } = answer;
    for (let index = 0; index < batch.length; index += 1) {
      const run = batch[index] as JobRun<T>;
      const error = outcomes[index]?.error;
      if (error === undefined) run.end(run.failure);
      else if (run.settlement?.outcome === 'complete' && isBerthError(error, 'VALIDATION')) {
        run.settlement = failure(run, error);
        this.pending.push(run);
      } else {
        this.report(error, run.lease);
        run.end(run.failure);
      }
    }
    this.hold(leases);
    return leases.length;
  }

  /**
   * A claim that failed with a retryable error may have leased jobs on the
   * engine before its answer was lost (the connection dropped after the
   * commit). Nobody runs them until their lease runs out, and no
   * notification says when that is: the worker looks again then, instead of
   * at its next poll (which may be far off with a long `pollIntervalMs`).
   */
  private lostClaim(error: unknown, leaseMs: number | undefined): void {
    if (!isRetryable(error) || isFatal(error) || this.closing) return;
    const at = Date.now() + (leaseMs ?? JOB_DEFAULTS.leaseMs) + LOST_CLAIM_MARGIN_MS;
    if (at >= this.recheckAt) return;
    this.recheckAt = at;
    this.armTimer(at);
  }

  private hold(leases: readonly Lease<T>[]): void {
    if (leases.length === 0) return;
    const now = Date.now();
    for (const lease of leases) {
      const run = new JobRun(lease, this.queue, now);
      this.prefetched.push(run);
      this.held.add(run);
      this.armTimer(run.renewAt);
    }
  }

  /**
   * The idle poll: up to a fifth shorter than `pollIntervalMs`, at random,
   * so workers started together (a deploy) do not poll the engine in step;
   * never longer, so the interval stays the bound on how late a job is seen.
   */
  private pollDelayMs(): number {
    return Math.max(1, Math.round(this.pollIntervalMs * (1 - Math.random() * POLL_JITTER)));
  }

  /** Doubles the poll interval with each failed fetch in a row, so a failing engine is not hammered. */
  private fetchBackoffMs(failures: number): number {
    const ceiling = Math.max(this.pollIntervalMs, MAX_FETCH_BACKOFF_MS);
    return Math.min(ceiling, this.pollIntervalMs * 2 ** Math.min(failures - 1, 30));
  }

  private startHandlers(): void {
    // A handler that finishes synchronously frees its slot inside this loop; the loop picks it up.
    if (this.startingHandlers) return;
    this.startingHandlers = true;
    try {
      while (!this.closing && this.inFlight.size < this.concurrency && this.prefetched.length > 0) {
        this.handle(this.prefetched.shift() as JobRun<T>);
      }
    } finally {
      this.startingHandlers = false;
    }
  }

  private handle(run: JobRun<T>): void {
    this.inFlight.add(run);
    run.started = true;
    run.endJob = this.observer?.job(run.lease);
    const timeoutMs = run.lease.job.timeoutMs ?? this.timeoutMs;
    if (timeoutMs !== undefined) {
      run.deadline = Date.now() + timeoutMs;
      this.armTimer(run.deadline);
    }
    let outcome: unknown;
    try {
      outcome = this.handler(run.lease.job, run);
    } catch (error) {
      this.handlerThrew(run, error);
      return;
    }
    if (isPromiseLike(outcome)) {
      outcome.then(
        (result) => this.handlerReturned(run, result),
        (error: unknown) => this.handlerThrew(run, error),
      );
    } else this.handlerReturned(run, outcome);
  }

  private handlerReturned(run: JobRun<T>, result: unknown): void {
    if (this.droppedHandlerEnded(run, undefined)) return;
    this.settle(
      run,
      { lease: run.lease, outcome: 'complete', result: (result ?? undefined) as DocumentValue },
      undefined,
    );
  }

  private handlerThrew(run: JobRun<T>, error: unknown): void {
    if (this.droppedHandlerEnded(run, { error })) return;
    this.settle(run, failure(run, error), { error });
  }

  /** A handler whose job the worker no longer holds has returned: its outcome is ignored. */
  private droppedHandlerEnded(run: JobRun<T>, failure: { readonly error: unknown } | undefined): boolean {
    if (run.dropped === undefined) return false;
    // A timed-out attempt gave its slot back (and was settled) when it timed out.
    if (run.dropped === 'lost') {
      this.inFlight.delete(run);
      run.end(failure);
      this.slotFreed();
    }
    return true;
  }

  /**
   * Settles a finished attempt: queued for the next `settleAndClaim` (the
   * slot is free at once), or on the plain path sent now, the slot staying
   * taken until the engine answers.
   */
  private settle(run: JobRun<T>, settlement: Settlement, failure: { readonly error: unknown } | undefined): void {
    // Renewal stops before settling, so a renewal racing a slow settlement
    // cannot report a conflict for a job that is already done.
    this.held.delete(run);
    if (this.batched) {
      run.settlement = settlement;
      run.failure = failure;
      this.pending.push(run);
      this.inFlight.delete(run);
      this.slotFreed();
      return;
    }
    void this.settleNow(settlement).then(() => {
      this.inFlight.delete(run);
      run.end(failure);
      this.slotFreed();
    });
  }

  private async settleNow(settlement: Settlement): Promise<void> {
    try {
      if (settlement.outcome === 'fail') {
        const { lease, error, retry } = settlement;
        await this.queue.fail(lease, error, retry === false ? { retry } : {});
        return;
      }
      try {
        await this.queue.complete(settlement.lease, settlement.result);
      } catch (error) {
        // A result the engine cannot store fails the attempt instead of leaving the job active.
        if (!isBerthError(error, 'VALIDATION')) throw error;
        await this.queue.fail(settlement.lease, error);
      }
    } catch (error) {
      this.report(error, settlement.lease as Lease<T>);
    }
  }

  private slotFreed(): void {
    if (this.inFlight.size === 0) this.drained?.();
    this.startHandlers();
    this.wake();
  }

  /** Schedules the worker's one timer for `at`, unless it already fires earlier. */
  private armTimer(at: number): void {
    if (at >= this.timerAt || this.stopped) return;
    clearTimeout(this.timer);
    this.timerAt = at;
    this.timer = setTimeout(() => this.timerFired(), Math.max(0, at - Date.now()));
  }

  /** Times out attempts past their deadline and renews leases due for renewal, then sets the timer for the next. */
  private timerFired(): void {
    this.timer = undefined;
    this.timerAt = Number.POSITIVE_INFINITY;
    const now = Date.now();
    let next = Number.POSITIVE_INFINITY;
    if (this.recheckAt <= now) {
      this.recheckAt = Number.POSITIVE_INFINITY;
      this.jobAvailable();
    } else next = this.recheckAt;
    for (const run of this.held) {
      if (run.deadline <= now) {
        this.timeOut(run);
        continue;
      }
      if (!run.renewing) {
        if (run.renewAt <= now) void this.renew(run);
        else next = Math.min(next, run.renewAt);
      }
      next = Math.min(next, run.deadline);
    }
    if (next !== Number.POSITIVE_INFINITY) this.armTimer(next);
  }

  /**
   * Past its deadline the attempt fails with a `TIMEOUT` error, its lease is
   * no longer renewed and its slot is freed, whatever the handler does next.
   */
  private timeOut(run: JobRun<T>): void {
    const timeoutMs = run.lease.job.timeoutMs ?? this.timeoutMs;
    const error = new TimeoutError(`job ${run.lease.job.id} ran longer than its timeout of ${timeoutMs} ms`);
    run.dropped = 'timedOut';
    run.abort(error);
    this.settle(run, failure(run, error), { error });
  }

  private async renew(run: JobRun<T>): Promise<void> {
    run.renewing = true;
    // Prefetched jobs keep short leases; running ones get their full lease.
    const leaseMs = run.started ? this.leaseMs : Math.min(this.leaseMs ?? run.lease.job.leaseMs, PREFETCH_LEASE_MS);
    try {
      const renewed = await this.queue.extendLease(run.lease, leaseMs);
      // Settled while the renewal was in flight: the job is no longer held.
      if (!this.held.has(run)) return;
      const now = Date.now();
      run.lease = renewed;
      run.renewEveryMs = renewalDelay(renewed, now);
      run.renewAt = now + run.renewEveryMs;
    } catch (error) {
      if (!this.held.has(run)) return;
      if (!isBerthError(error, 'CONFLICT')) {
        run.renewAt = Date.now() + run.renewEveryMs;
        this.report(error, run.lease);
        return;
      }
      // The lease is gone (expired, cancelled): stop the handler, drop the job.
      this.held.delete(run);
      if (run.started) {
        run.dropped = 'lost';
        run.abort(error);
      } else {
        const index = this.prefetched.indexOf(run);
        if (index >= 0) this.prefetched.splice(index, 1);
      }
      this.report(error, run.lease);
    } finally {
      run.renewing = false;
      if (this.held.has(run)) this.armTimer(run.renewAt);
    }
  }

  /**
   * Applies the queue's retention policy one bounded step at a time: again
   * soon while steps come back full, else every `retentionIntervalMs`.
   */
  private async prune(): Promise<void> {
    let removed = 0;
    try {
      removed = await this.queue.prune({ limit: PRUNE_STEP });
    } catch (error) {
      this.report(error);
    }
    if (this.closing) return;
    const delay =
      removed >= PRUNE_STEP ? Math.min(PRUNE_CATCH_UP_MS, this.retentionIntervalMs) : this.retentionIntervalMs;
    this.retentionTimer = setTimeout(() => {
      this.pruning = this.prune();
    }, delay);
  }

  private releasePrefetched(): Promise<void> {
    const unstarted = this.prefetched.splice(0);
    for (const run of unstarted) this.held.delete(run);
    return this.release(unstarted.map((run) => run.lease));
  }

  /** Gives jobs back unstarted (their attempt is not counted). */
  private async release(leases: readonly Lease<T>[]): Promise<void> {
    await Promise.all(
      leases.map(async (lease) => {
        try {
          await this.untilGivenUp(this.queue.release(lease));
        } catch (error) {
          this.report(error, lease);
        }
      }),
    );
  }

  /**
   * A call to the engine, until close() gives up on the worker: from then on
   * it answers `GAVE_UP`, as the engine may never answer (a network partition
   * without keepAlive or a query timeout), and close() must not wait for it.
   */
  private untilGivenUp<R>(call: Promise<R>): Promise<R | typeof GAVE_UP> {
    if (this.gaveUp) {
      call.catch(() => undefined);
      return Promise.resolve(GAVE_UP);
    }
    // Not Promise.race with one promise that lives as long as the worker:
    // each race would leave a reaction on it, piling up with every call.
    return new Promise((resolve, reject) => {
      const abandon = () => resolve(GAVE_UP);
      this.awaited.add(abandon);
      call.then(
        (value) => {
          this.awaited.delete(abandon);
          resolve(value);
        },
        (error: unknown) => {
          this.awaited.delete(abandon);
          reject(error);
        },
      );
    });
  }

  /** Ends every wait for the engine: called when close() abandons the worker. */
  private giveUp(): void {
    this.gaveUp = true;
    for (const abandon of this.awaited) abandon();
    this.awaited.clear();
  }

  close(): Promise<void> {
    this.closed ??= this.shutdown();
    return this.closed;
  }

  private async shutdown(): Promise<void> {
    try {
      await this.stop();
    } finally {
      this.observer?.stopped();
    }
  }

  private async stop(): Promise<void> {
    this.closing = true;
    this.unsubscribe?.();
    clearTimeout(this.retentionTimer);
    this.wake();
    let timer: ReturnType<typeof setTimeout> | undefined;
    const drained = new Promise<void>((resolve) => {
      this.drained = resolve;
      if (this.inFlight.size === 0) resolve();
    });
    const timedOut = new Promise<'timeout'>((resolve) => {
      timer = setTimeout(() => resolve('timeout'), this.closeTimeoutMs);
    });
    const outcome = await Promise.race([Promise.all([this.loopDone, drained, this.pruning]), timedOut]);
    clearTimeout(timer);
    if (outcome === 'timeout') {
      // Past the grace period: tell handlers to stop. Their leases are left
      // to expire, so the jobs are delivered again.
      this.abandoned = true;
      for (const run of this.inFlight) {
        if (run.dropped !== undefined) continue;
        run.dropped = 'lost';
        this.held.delete(run);
        run.abort(new AbortedError('worker closed before the job finished'));
      }
      // Calls to the engine still in flight are not waited for any more.
      this.giveUp();
      this.wake();
    }
    // At once after giving up: the loop awaits no call to the engine past it.
    await this.loopDone;
    clearTimeout(this.retentionTimer);
    // Leases still held (prefetched jobs a fatal error left unreleased) just expire.
    this.stopped = true;
    this.held.clear();
    clearTimeout(this.timer);
    // Settlements a fatal error or the give-up left unsent: the leases expire and the jobs are delivered again.
    for (const run of this.pending.splice(0)) endUnsettled(run);
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.close();
  }
}

/**
 * Ends the span of an attempt whose settlement the engine never confirmed
 * (not sent, or sent and not answered): with the handler's error, or, for a
 * completion, an `ABORTED` error, since the job is not completed and will
 * run again once its lease expires.
 */
function endUnsettled<T>(run: JobRun<T>): void {
  run.end(
    run.failure ?? {
      error: new AbortedError(
        `worker closed before the engine confirmed the completion of job ${run.lease.job.id}: unless it was applied, the job runs again once its lease expires`,
      ),
    },
  );
}

function failure<T>(run: JobRun<T>, error: unknown): Settlement {
  return isPermanentFailure(error)
    ? { lease: run.lease, outcome: 'fail', error, retry: false }
    : { lease: run.lease, outcome: 'fail', error };
}

/**
 * Starts the shared worker on a queue. Adapters implement `queue.work()` with
 * it, passing their notifier when the engine can wake workers, and their
 * backend's logger (used when `options` names none).
 *
 * ### Examples
 * ```ts
 * import { type JobQueue, startWorker, type Worker } from '@berth/core';
 *
 * // An adapter's queue.work(): the shared worker loop, woken by polling only.
 * function work<T>(queue: JobQueue<T>, handler: (payload: T) => Promise<void>): Worker {
 *   return startWorker(queue, (job) => handler(job.payload), { pollIntervalMs: 500 });
 * }
 * ```
 */
export function startWorker<T>(
  queue: JobQueue<T>,
  handler: JobHandler<T>,
  options: WorkerOptions = {},
  notifier?: JobNotifier,
  logger?: BerthLogger,
): Worker {
  return new QueueWorker(queue, handler, options, notifier, logger);
}

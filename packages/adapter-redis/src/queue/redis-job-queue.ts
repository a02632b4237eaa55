import {
  type BerthError,
  type BerthLogger,
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
  ValidationError,
  type Worker,
  type WorkerOptions,
} from '@berth/core';
import {
  type CheckedSettlement,
  checkCompletion,
  checkDequeueCount,
  checkDuration,
  checkFailure,
  checkLeaseRef,
  checkSettlement,
  copyProgress,
  type HandOffNotifier,
  JOB_DEFAULTS,
  type JobEventHub,
  type NormalizedRetention,
  normalizePurge,
  type PreparedEnqueue,
  prepareEnqueueItems,
  refused,
  throwIfAborted,
} from '@berth/core/adapter';
import type { Cluster, Redis } from 'ioredis';
import { RedisQueueAdmin } from './redis-queue-admin.js';
import { importArguments } from './redis-queue-import.js';
import {
  CANCEL,
  ENQUEUE,
  EXTEND,
  GET,
  IMPORT,
  PROGRESS,
  PURGE,
  RELEASE,
  RETRY,
  SETTLE_AND_CLAIM,
  STATS,
} from './redis-queue-lua.js';

import { claimedLease, encodeDocument, hashOf, leaseConflict, toJob, toLease } from './redis-queue-rows.js';
import { RedisQueueSchedules } from './redis-queue-schedules.js';
import { RedisQueueScript } from './redis-queue-script.js';

/** What the queues of one `RedisQueues` share, and this queue's key base. */
export interface RedisJobQueueContext {
  /** The key base of the queue, `<prefix>{q:<name>}:` (its hash tag). */
  readonly base: string;
  /** This backend's id, the last argument of every script: the events they publish carry it. */
  readonly origin: string;
  readonly events: JobEventHub;
  readonly notifier: HandOffNotifier;
  /** The backend's logger, for workers without an `onError` (absent: `console`). */
  readonly logger: BerthLogger | undefined;
  readonly retention: NormalizedRetention;
  /** Largest payload or result, as bytes of JSON. */
  readonly maxPayloadBytes: number;
  /** The client once the queues are usable (the eviction policy checked); a CONNECTION error once closed. */
  client(): Promise<Redis | Cluster>;
  /** An ioredis error as a Berth error (CONNECTION with how to start Redis, TIMEOUT). */
  toBerthError(error: unknown): unknown;
}

const scripts = {
  settleAndClaim: new RedisQueueScript(SETTLE_AND_CLAIM),
  enqueue: new RedisQueueScript(ENQUEUE),
  extend: new RedisQueueScript(EXTEND),
  release: new RedisQueueScript(RELEASE),
  progress: new RedisQueueScript(PROGRESS),
  get: new RedisQueueScript(GET),
  stats: new RedisQueueScript(STATS),
  cancel: new RedisQueueScript(CANCEL),
  retry: new RedisQueueScript(RETRY),
  purge: new RedisQueueScript(PURGE),
  import: new RedisQueueScript(IMPORT),
};

/** Expired leases a script settled: id, the state it left the job in, the attempt that expired. */
type ExpiredRows = readonly [string, 'waiting' | 'dead', string][];

const NO_LEASES: ReadonlySet<string> = new Set();

/** Rows removed by one purge script call at most. */
const PURGE_BATCH = 1_000;

/** The 13 script arguments of one job to enqueue (see `enqueue_one` in the Lua library). */
export function jobArguments(id: string, job: PreparedEnqueue, explicitRunAt: boolean, now: number): string[] {
  const { options } = job;
  const backoff = options.backoff;
  const exponential = backoff.type === 'exponential' ? backoff : undefined;
  const runAt = options.runAt.getTime();
  return [
    id,
    encodeDocument(job.payload),
    String(options.priority),
    explicitRunAt ? String(runAt) : '',
    String(Math.max(0, runAt - now)),
    String(options.maxAttempts),
    String(options.leaseMs),
    backoff.type,
    String(backoff.delayMs),
    String(exponential?.maxDelayMs ?? 3_600_000),
    exponential?.jitter ?? 'none',
    options.dedupeKey ?? '',
    options.timeoutMs === undefined ? '' : String(options.timeoutMs),
  ];
}

/**
 * A job queue in Redis: one hash per job and sorted sets per role (ready
 * jobs by priority and due order, delayed jobs by due time, leases by
 * expiry, each state in listing order), all under the queue's hash tag,
 * changed only by Lua scripts, so each operation is one atomic step and one
 * round trip. Due times and lease expiry are decided by the server's clock
 * (`TIME` inside the scripts). A lease is fenced by a token drawn from a
 * per-queue counter: complete, fail, extendLease, release and progress
 * check it inside their script. Scripts publish a wake-up on the queue's
 * channel when they make jobs waiting, so idle workers of every process
 * claim at once instead of polling, and the job events of their changes on
 * another channel, so subscribers in every process hear of them.
 *
 * ### Examples
 * ```ts
 * import { RedisQueues, type RedisQueuesConfig } from '@berth/adapter-redis';
 *
 * // A connected ioredis `Redis` or `Cluster` of the application's own.
 * declare const client: RedisQueuesConfig['client'];
 * const queues = new RedisQueues({ client, keyPrefix: 'app:' });
 * const mails = queues.queue<{ to: string }>('mails');
 * await mails.enqueue({ to: 'ada@example.com' }, { dedupeKey: 'welcome:ada' });
 * const worker = mails.work(async (job) => {
 *   console.log('mail to', job.payload.to);
 * }, { concurrency: 10 });
 * await worker.close();
 * await queues.close();
 * ```
 */
export class RedisJobQueue<T = DocumentValue> implements JobQueue<T> {
  private readonly admin: RedisQueueAdmin<T>;
  private readonly scheduleStore: RedisQueueSchedules<T>;

  constructor(
    readonly name: string,
    private readonly context: RedisJobQueueContext,
  ) {
    this.admin = new RedisQueueAdmin<T>(name, context, this);
    this.scheduleStore = new RedisQueueSchedules<T>(name, context, this);
  }

  /** Runs a script of this queue; ioredis errors come out as Berth errors. */
  async run(script: RedisQueueScript, args: readonly (string | number)[]): Promise<unknown> {
    const client = await this.context.client();
    try {
      return await script.run(client, this.context.base, [...args, this.context.origin]);
    } catch (error) {
      throw this.context.toBerthError(error);
    }
  }

  // ---- enqueue ------------------------------------------------------------

  async enqueue(payload: T, options?: EnqueueOptions & SignalOptions): Promise<EnqueueResult> {
    const [result] = await this.enqueueMany([{ ...options, payload }], options);
    return result as EnqueueResult;
  }

  async enqueueMany(items: readonly EnqueueItem<T>[], options?: SignalOptions): Promise<EnqueueResult[]> {
    throwIfAborted(options?.signal, `${this.name}.enqueue`);
    const now = Date.now();
    const prepared = prepareEnqueueItems(items, now, this.context.maxPayloadBytes);
    if (prepared.length === 0) return [];
    const idle = this.context.notifier.idleWorker();
    const handOff = idle !== undefined && prepared.some((job) => job.options.runAt.getTime() <= now);
    const args = [
      String(prepared.length),
      handOff ? String(idle.capacity) : '0',
      idle?.leaseMs === undefined ? '' : String(idle.leaseMs),
    ];
    prepared.forEach((job, index) => {
      args.push(...jobArguments(generateId(), job, (items[index] as EnqueueItem<T>).runAt !== undefined, now));
    });
    const enqueue = () => this.run(scripts.enqueue, args);
    const reply = await (handOff ? this.context.notifier.handingOff(enqueue) : enqueue());
    const [serverNow, rows, expired, claimed] = reply as [string, [string, string, string?][], ExpiredRows, unknown[]];
    const leases = claimed.map((values) => claimedLease<T>(values, this.name));
    const results = this.afterEnqueue(Number(serverNow), rows, new Set(leases.map((lease) => lease.job.id)));
    this.emitClaimed(expired, leases, Number(serverNow));
    if (leases.length > 0) (idle as IdleWorker).take(leases);
    return results;
  }

  /** After jobs were stored: wake this process's workers, emit `enqueued`, give the results. */
  afterEnqueue(
    serverNow: number,
    rows: readonly (readonly [string, string, string?])[],
    leased: ReadonlySet<string> = NO_LEASES,
  ): EnqueueResult[] {
    const skew = Date.now() - serverNow;
    const events = this.context.events;
    const at = new Date(serverNow);
    return rows.map(([id, deduplicated, runAt]) => {
      if (deduplicated === '1') return { id, deduplicated: true };
      // A job the idle worker now holds needs no wake-up.
      if (!leased.has(id)) this.context.notifier.dueAt(Number(runAt) + skew);
      if (events.wants('enqueued')) {
        events.emit({ type: 'enqueued', queue: this.name, jobId: id, at, runAt: new Date(Number(runAt)) });
      }
      return { id, deduplicated: false };
    });
  }

  /**
   * Stores jobs as given in ONE script call (all or none): each with its
   * id, state and times, in its state's sets and counts; a waiting job
   * ready or delayed by its runAt, and idle workers woken as an enqueue
   * wakes them; each waiting job emits `enqueued`. Ids are per queue (a job's key is under the queue's hash
   * tag), so a job is skipped when this queue holds its id, or, waiting,
   * when a live job of this queue holds its dedupe key. Imported jobs use
   * the default backoff policy, which a `Job` does not carry.
   */
  async importJobs(jobs: readonly Job<T>[], options?: SignalOptions): Promise<ImportJobsResult> {
    throwIfAborted(options?.signal, `${this.name}.importJobs`);
    const args = importArguments(jobs, this.context.maxPayloadBytes);
    if (jobs.length === 0) return { imported: 0, skipped: 0 };
    const { backoff } = JOB_DEFAULTS;
    const exponential = backoff.type === 'exponential' ? backoff : undefined;
    const head = [
      String(jobs.length),
      backoff.type,
      String(backoff.delayMs),
      String(exponential?.maxDelayMs ?? 3_600_000),
      exponential?.jitter ?? 'none',
    ];
    const [serverNow, imported, skipped, due, waiting] = (await this.run(scripts.import, [...head, ...args])) as [
      string,
      number,
      number,
      string,
      string[],
    ];
    if (due !== '') this.context.notifier.dueAt(Number(due) + Date.now() - Number(serverNow));
    // `enqueued` for each imported waiting job, as the script published it.
    const events = this.context.events;
    if (events.wants('enqueued')) {
      const at = new Date(Number(serverNow));
      for (let index = 0; index < waiting.length; index += 2) {
        const jobId = waiting[index] as string;
        events.emit({ type: 'enqueued', queue: this.name, jobId, at, runAt: new Date(Number(waiting[index + 1])) });
      }
    }
    return { imported, skipped };
  }

  // ---- claims and settlements ----------------------------------------------

  async dequeue(options?: DequeueOptions): Promise<Lease<T> | null> {
    const [lease] = await this.dequeueMany(1, options);
    return lease ?? null;
  }

  async dequeueMany(count: number, options?: DequeueOptions): Promise<Lease<T>[]> {
    throwIfAborted(options?.signal, `${this.name}.dequeue`);
    checkDequeueCount(count);
    const leaseMs = options?.leaseMs === undefined ? undefined : checkDuration('leaseMs', options.leaseMs, 1);
    return (await this.settleChecked([], count, leaseMs)).leases;
  }

  /**
   * Applies every settlement, settles expired leases, then leases up to
   * `count` jobs, all in one script call: one round trip however many
   * jobs a worker acknowledges. A settlement refused (a stale lease's
   * CONFLICT, a bad result's VALIDATION) is its own outcome; the others
   * still apply.
   */
  async settleAndClaim(
    settlements: readonly Settlement[],
    count: number,
    options?: DequeueOptions,
  ): Promise<SettleAndClaimResult<T>> {
    throwIfAborted(options?.signal, `${this.name}.settleAndClaim`);
    if (!Array.isArray(settlements)) throw new ValidationError('settlements must be an array', 'settlements');
    if (count !== 0) checkDequeueCount(count);
    const leaseMs = options?.leaseMs === undefined ? undefined : checkDuration('leaseMs', options.leaseMs, 1);
    const checked = settlements.map((settlement: unknown, index) =>
      refused(() => checkSettlement(settlement, index, this.context.maxPayloadBytes)),
    );
    return this.settleChecked(checked, count, leaseMs);
  }

  private async settleChecked(
    checked: readonly (CheckedSettlement | BerthError)[],
    count: number,
    leaseMs: number | undefined,
  ): Promise<{ outcomes: SettlementOutcome[]; leases: Lease<T>[] }> {
    const valid = checked.filter((item): item is CheckedSettlement => !(item instanceof Error));
    const args: string[] = [String(count), leaseMs === undefined ? '' : String(leaseMs), String(valid.length)];
    for (const item of valid) {
      if (item.outcome === 'complete') {
        const has = item.result !== undefined;
        args.push('c', item.id, item.token, has ? '1' : '0', has ? encodeDocument(item.result) : '', '', '', '');
      } else {
        const { message, name } = item.error;
        args.push(
          'f',
          item.id,
          item.token,
          JSON.stringify(message),
          name === undefined ? '' : JSON.stringify(name),
          item.noRetry ? '1' : '0',
          item.retryAfterMs === undefined ? '' : String(item.retryAfterMs),
          String(Math.random()),
        );
      }
    }
    const [serverNow, expired, rows, claimed] = (await this.run(scripts.settleAndClaim, args)) as [
      string,
      ExpiredRows,
      [string, string?, string?][],
      unknown[],
    ];
    const now = Number(serverNow);
    const at = new Date(now);
    const skew = Date.now() - now;
    const events = this.context.events;
    const outcomes: SettlementOutcome[] = [];
    let next = 0;
    for (const item of checked) {
      if (item instanceof Error) {
        outcomes.push({ error: item });
        continue;
      }
      const [state, attemptText, runAt] = rows[next++] as [string, string?, string?];
      const attempt = Number(attemptText);
      if (state === 'completed') {
        outcomes.push({ state });
        if (events.wants('completed'))
          events.emit({ type: 'completed', queue: this.name, jobId: item.id, at, attempt });
      } else if ((state === 'waiting' || state === 'dead') && item.outcome === 'fail') {
        outcomes.push({ state });
        const error: JobError = { ...item.error, attempt, at };
        const base = { queue: this.name, jobId: item.id, at, attempt, error };
        if (state === 'dead') {
          if (events.wants('dead')) events.emit({ type: 'dead', ...base });
        } else {
          this.context.notifier.dueAt(Number(runAt) + skew);
          if (events.wants('failed')) events.emit({ type: 'failed', ...base, retryAt: new Date(Number(runAt)) });
        }
      } else {
        outcomes.push({ error: leaseConflict(this.name, item.outcome, item.id, state) });
      }
    }
    const leases = claimed.map((values) => claimedLease<T>(values, this.name));
    this.emitClaimed(expired, leases, now);
    return { outcomes, leases };
  }

  /** The events of a claim: `expired` for the leases it settled, then `started` for each job it leased. */
  private emitClaimed(expired: ExpiredRows, leases: readonly Lease<T>[], now: number): void {
    this.emitExpired(expired, now);
    const events = this.context.events;
    if (!events.wants('started')) return;
    const at = new Date(now);
    for (const lease of leases) {
      events.emit({ type: 'started', queue: this.name, jobId: lease.job.id, at, attempt: lease.job.attempts });
    }
  }

  /** `expired` (and `dead` after a last attempt) for leases a script settled; wakes workers for the jobs due again. */
  emitExpired(expired: ExpiredRows, now: number): void {
    if (expired.length === 0) return;
    if (expired.some(([, state]) => state === 'waiting')) this.context.notifier.notify();
    const leases = expired.map(([id, state, attempt]) => ({ id, attempt: Number(attempt), dead: state === 'dead' }));
    this.context.events.emitExpired(leases, new Date(now));
  }

  async complete(lease: LeaseRef, result?: DocumentValue, options?: SignalOptions): Promise<void> {
    throwIfAborted(options?.signal, `${this.name}.complete`);
    const checked = checkCompletion(lease, result, this.context.maxPayloadBytes);
    const { outcomes } = await this.settleChecked([checked], 0, undefined);
    const error = outcomes[0]?.error;
    if (error !== undefined) throw error;
  }

  async fail(lease: LeaseRef, error: unknown, options?: FailOptions): Promise<'waiting' | 'dead'> {
    throwIfAborted(options?.signal, `${this.name}.fail`);
    const checked = checkFailure(lease, error, options?.retry, options?.retryAfterMs);
    const { outcomes } = await this.settleChecked([checked], 0, undefined);
    const outcome = outcomes[0] as SettlementOutcome;
    if (outcome.error !== undefined) throw outcome.error;
    return outcome.state === 'dead' ? 'dead' : 'waiting';
  }

  async extendLease(lease: LeaseRef, leaseMs?: number, options?: SignalOptions): Promise<Lease<T>> {
    throwIfAborted(options?.signal, `${this.name}.extendLease`);
    const { id, token } = checkLeaseRef(lease);
    const duration = leaseMs === undefined ? '' : String(checkDuration('leaseMs', leaseMs, 1));
    const [, answer] = (await this.run(scripts.extend, [id, token, duration])) as [string, unknown];
    if (typeof answer === 'string') throw leaseConflict(this.name, 'extendLease', id, answer);
    return toLease<T>(hashOf(answer), this.name);
  }

  async release(lease: LeaseRef, options?: SignalOptions): Promise<void> {
    throwIfAborted(options?.signal, `${this.name}.release`);
    const { id, token } = checkLeaseRef(lease);
    const [now, answer] = (await this.run(scripts.release, [id, token])) as [string, string];
    if (answer !== 'ok') throw leaseConflict(this.name, 'release', id, answer);
    // The job keeps its runAt (and its place in line), so it is due now.
    this.context.notifier.notify();
    this.emitSimple('released', [id], Number(now));
  }

  async progress(lease: LeaseRef, progress: DocumentValue, options?: SignalOptions): Promise<void> {
    throwIfAborted(options?.signal, `${this.name}.progress`);
    const { id, token } = checkLeaseRef(lease);
    const value = copyProgress(progress, this.context.maxPayloadBytes);
    const [serverNow, answer, attempt] = (await this.run(scripts.progress, [id, token, encodeDocument(value)])) as [
      string,
      string,
      string?,
    ];
    if (answer !== 'ok') throw leaseConflict(this.name, 'progress', id, answer);
    const events = this.context.events;
    if (events.wants('progress')) {
      const at = new Date(Number(serverNow));
      events.emit({ type: 'progress', queue: this.name, jobId: id, at, attempt: Number(attempt), progress: value });
    }
  }

  /**
   * An event that names only the job (`released`, `cancelled`, `retried`),
   * for each of `ids`, at the server's time of the change (the time the
   * script publishes for other processes).
   */
  emitSimple(type: 'released' | 'cancelled' | 'retried', ids: readonly string[], now: number): void {
    this.context.events.emitEach(type, ids, new Date(now));
  }

  // ---- reads and administration -------------------------------------------

  async get(id: string, options?: SignalOptions): Promise<Job<T> | null> {
    throwIfAborted(options?.signal, `${this.name}.get`);
    if (typeof id !== 'string') return null;
    const [now, expired, job] = (await this.run(scripts.get, [id])) as [string, ExpiredRows, unknown];
    this.emitExpired(expired, Number(now));
    return Array.isArray(job) ? toJob<T>(hashOf(job), this.name) : null;
  }

  async cancel(id: string, options?: SignalOptions): Promise<boolean> {
    throwIfAborted(options?.signal, `${this.name}.cancel`);
    if (typeof id !== 'string') return false;
    return (await this.cancelIds([id], 'waiting,active')).length > 0;
  }

  /** Cancels the jobs of `ids` that are in one of `states` (comma-separated); returns those it cancelled. */
  async cancelIds(ids: readonly string[], states: string): Promise<string[]> {
    const [now, expired, cancelled] = (await this.run(scripts.cancel, [states, ...ids])) as [
      string,
      ExpiredRows,
      string[],
    ];
    this.emitExpired(expired, Number(now));
    this.emitSimple('cancelled', cancelled, Number(now));
    return cancelled;
  }

  async retry(id: string, options?: SignalOptions): Promise<boolean> {
    throwIfAborted(options?.signal, `${this.name}.retry`);
    if (typeof id !== 'string') return false;
    const { revived, blocked } = await this.retryIds([id], 'dead,cancelled');
    const [, holder, key] = blocked[0] ?? [];
    if (holder !== undefined) {
      throw new ConflictError(
        `queue ${this.name}: job ${JSON.stringify(holder)} holds dedupe key ${JSON.stringify(key)}; retry ${JSON.stringify(id)} once it finishes`,
        { collection: this.name, id, retryable: true },
      );
    }
    return revived.length > 0;
  }

  /** Puts the jobs of `ids` in one of `states` back to waiting; those whose dedupe key is held stay. */
  async retryIds(
    ids: readonly string[],
    states: string,
  ): Promise<{ revived: string[]; blocked: [string, string, string][] }> {
    const [now, revived, blocked] = (await this.run(scripts.retry, [states, ...ids])) as [
      string,
      string[],
      [string, string, string][],
    ];
    if (revived.length > 0) {
      this.context.notifier.notify();
      this.emitSimple('retried', revived, Number(now));
    }
    return { revived, blocked };
  }

  /** Counts per state from counters the scripts keep (no scan), after expired leases are settled. */
  async stats(options?: SignalOptions): Promise<JobStats> {
    throwIfAborted(options?.signal, `${this.name}.stats`);
    const [now, expired, counts] = (await this.run(scripts.stats, [])) as [string, ExpiredRows, (string | null)[]];
    this.emitExpired(expired, Number(now));
    const [waiting, active, completed, dead, cancelled] = counts.map((count) => Number(count ?? 0));
    return {
      waiting: waiting ?? 0,
      active: active ?? 0,
      completed: completed ?? 0,
      dead: dead ?? 0,
      cancelled: cancelled ?? 0,
    };
  }

  async purge(options: PurgeOptions): Promise<number> {
    throwIfAborted(options?.signal, `${this.name}.purge`);
    const { before, states } = normalizePurge(options);
    if (states.length === 0) return 0;
    let total = 0;
    for (;;) {
      const removed = Number(await this.run(scripts.purge, [String(before.getTime()), PURGE_BATCH, ...states]));
      total += removed;
      if (removed < PURGE_BATCH) return total;
    }
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

  fireSchedule(name: string, tick: ScheduleTick, options?: SignalOptions): Promise<ScheduleFireResult> {
    return this.scheduleStore.fire(name, tick, options);
  }

  subscribe(listener: JobEventListener, options?: SubscribeOptions): () => void {
    return this.context.events.subscribe(listener, options);
  }

  events(options?: QueueEventsOptions): AsyncIterableIterator<QueueEvent> {
    return this.context.events.events(options);
  }

  work(handler: JobHandler<T>, options?: WorkerOptions): Worker {
    return startWorker<T>(this, handler, options, this.context.notifier, this.context.logger);
  }
}

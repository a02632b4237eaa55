import type {
  CollectionInfo,
  HealthStatus,
  MigrationReport,
  QueueBackend,
  RepositoryBackend,
  TransactionalQueue,
  TransactionOptions,
  TransactionScope,
} from '../backend/backend.js';
import { isFunction, overriding } from '../backend/overriding.js';
import { ValidationError } from '../errors.js';
import type { SignalOptions } from '../operation/abort.js';
import { type BerthLogger, consoleLogger } from '../operation/logger.js';
import type { CountByGroup, Filter, OrderBy, Page, Query, QueryPlan } from '../query/query.js';
import type { ScalarPath } from '../query/typed-paths.js';
import type { Update } from '../query/update.js';
import type { Job, JobStats, Lease, LeaseRef } from '../queue/job.js';
import type {
  BulkJobsOptions,
  BulkJobsResult,
  JobPage,
  ListJobsOptions,
  PruneOptions,
  QueueOptions,
  RetryJobsOptions,
} from '../queue/job-admin.js';
import type { JobEventListener, QueueEvent, QueueEventsOptions, SubscribeOptions } from '../queue/job-events.js';
import type {
  DequeueOptions,
  EnqueueItem,
  EnqueueOptions,
  EnqueueResult,
  FailOptions,
  ImportJobsResult,
  JobHandler,
  JobQueue,
  PurgeOptions,
  SettleAndClaimResult,
  Settlement,
  Worker,
  WorkerOptions,
} from '../queue/job-queue.js';
import type { ScheduleFireResult, ScheduleInput, ScheduleRecord, ScheduleTick } from '../queue/schedule.js';
import { WORKER_OBSERVER, type WorkerObserver } from '../queue/worker-observer.js';
import type {
  Conditional,
  IndexDefinition,
  InsertOptions,
  IterateOptions,
  Repository,
  RepositoryOptions,
  UpdateOptions,
  WithEntry,
  WithoutEntry,
  WriteEntryOptions,
  WriteOptions,
} from '../repository/repository.js';
import type { Document, DocumentValue, Entry, NewDocument } from '../values/document.js';
import { PROBE_OPTIONS, type ProbeOptions } from './probe-options.js';

/**
 * What an operation addressed: a repository, a queue, or the backend itself
 * (`connect`, `transaction`, `health`…).
 *
 * ### Examples
 * ```ts
 * import type { InstrumentHooks, OperationKind } from '@berth/core';
 *
 * const counts: Record<OperationKind, number> = { repository: 0, queue: 0, backend: 0 };
 * const hooks: InstrumentHooks = { onOperation: (event) => counts[event.kind]++ };
 * ```
 */
export type OperationKind = 'repository' | 'queue' | 'backend';

/**
 * One finished operation, as `instrument` reports it to `onOperation`.
 *
 * `rows` counts what the operation read or changed:
 *
 * | operation | rows |
 * |---|---|
 * | `get`, `getEntry`, `findOne`, `exists` | 1 when found, else 0 |
 * | `getMany` | documents found |
 * | `find`, `findPage`, `iterate`, `findEntries`, `findEntriesPage`, `iterateEntries`, `insertMany`, `upsertMany` | documents returned |
 * | `count`, `updateMany`, `deleteMany` | the number returned |
 * | `countBy` | groups returned |
 * | `insert`, `replace`, `upsert`, `update` | 1 |
 * | `delete`, `cancel`, `retry` | 1 when it happened, else 0 |
 * | `enqueue`, `enqueueMany` | jobs added (a deduplicated enqueue adds none) |
 * | `dequeue`, `dequeueMany`, `get` (queue) | jobs returned |
 * | `complete`, `fail`, `extendLease`, `release` | 1 |
 * | `purge`, `prune` | jobs removed |
 * | `listJobs` | jobs returned |
 * | `retryJobs`, `cancelJobs` | jobs changed |
 * | `settleAndClaim` | jobs leased |
 * | `progress`, `putSchedule` | 1 |
 * | `getSchedule` | 1 when found, else 0 |
 * | `listSchedules` | schedules returned |
 * | `removeSchedule`, `fireSchedule` | 1 when it happened, else 0 |
 * | `importEntries` | entries written (the number returned) |
 * | `importJobs` | jobs imported (skipped ones not counted) |
 * | `collections`, `queues` (backend) | collections or queues listed |
 * | `migrate` (backend) | migrations applied |
 * | `explain`, `stats`, `connect`, `close`, `health`, `transaction` | absent |
 *
 * `subscribe` and `events` are passed through unobserved.
 *
 * ### Examples
 * ```ts
 * import type { OperationEvent } from '@berth/core';
 *
 * function logLine(event: OperationEvent): string {
 *   const where = event.target === '' ? event.backend : `${event.backend} ${event.target}`;
 *   const outcome = event.ok ? `${event.rows ?? '-'} rows` : `failed: ${String(event.error)}`;
 *   return `${where}.${event.operation} ${event.durationMs.toFixed(1)} ms ${outcome}`;
 * }
 * ```
 */
export interface OperationEvent extends OperationStart {
  /**
   * Wall time of the call in milliseconds. For `iterate`, the time spent
   * fetching (the consumer's time between items is left out).
   */
  readonly durationMs: number;
  /** `false` when the operation threw; `error` then holds what it threw. */
  readonly ok: boolean;
  /** Documents or jobs read or changed (see the table above); absent when it does not apply or on failure. */
  readonly rows?: number | undefined;
  /** What the operation threw, unchanged (the caller receives the same value). */
  readonly error?: unknown;
  /**
   * What the operation resolved to, unchanged (the caller receives the same
   * value); absent on failure and for `iterate`. Read it, never change it.
   */
  readonly result?: unknown;
}

/**
 * An operation that has begun, as `instrument` reports it to `onStart`. The
 * matching {@link OperationEvent} (same `id`) always follows, whether the
 * operation succeeds, throws (a `VALIDATION` error, `ABORTED`…) or is
 * broken off, so a tracer can open a span here and end it there.
 *
 * `parentId` is the `id` of the operation this one runs inside:
 *
 * | operation | parent |
 * |---|---|
 * | repository and queue calls on a transaction's `tx` | the `transaction` |
 * | a worker's claims (`dequeueMany`), and `release` on close | the worker's `work` |
 * | `handle` (one job: the handler, then its settlement) | the worker's `work` |
 * | a worker's `complete`, `fail` and lease renewals (`extendLease`) | the job's `handle` |
 * | everything else | none |
 *
 * Operations a job handler makes through other repositories have no
 * `parentId`: core keeps no async context. A tracer that has one (an
 * OpenTelemetry context manager) links them through its own active span.
 *
 * ### Examples
 * ```ts
 * import type { OperationEvent, OperationStart } from '@berth/core';
 *
 * // A minimal tracer: one span per operation, children under their parents.
 * const open = new Map<number, { name: string; parent: number | undefined }>();
 * const hooks = {
 *   onStart: (start: OperationStart) => {
 *     open.set(start.id, { name: `${start.target}.${start.operation}`, parent: start.parentId });
 *   },
 *   onOperation: (end: OperationEvent) => {
 *     const span = open.get(end.id);
 *     open.delete(end.id);
 *     console.log(span?.name, span?.parent ?? '-', end.ok ? 'ok' : 'error', end.durationMs);
 *   },
 * };
 * ```
 */
export interface OperationStart {
  /** Unique among the operations of one `instrument()` wrapper; the end event carries the same id. */
  readonly id: number;
  /** The `id` of the operation this one runs inside (see the table above); absent at the top level. */
  readonly parentId?: number | undefined;
  /** The backend's `kind` (`memory`, `sqlite`, `postgres`…). */
  readonly backend: string;
  /** The collection or queue name; `''` for backend-level operations. */
  readonly target: string;
  readonly kind: OperationKind;
  /** The method called (`find`, `enqueue`, `transaction`…), or `work` and `handle` for a worker and one job. */
  readonly operation: string;
  /** `true` for the `transaction` event and for every operation run inside a transaction. */
  readonly transaction: boolean;
  /** `true` for a worker's own traffic: `work`, `handle`, and the claims, renewals and settlements it makes. */
  readonly worker?: boolean | undefined;
  /** The job concerned: on `handle` and on lease operations (`complete`, `fail`, `extendLease`, `release`). */
  readonly jobId?: string | undefined;
  /** On `handle`: which attempt this is (1 for the first delivery). */
  readonly attempt?: number | undefined;
  /** The filter the caller passed, as passed (reads with a query, `count`, `updateMany`…). */
  readonly where?: Filter | undefined;
  /** The sort the caller passed, as passed. */
  readonly orderBy?: OrderBy | undefined;
}

/**
 * A `repository(name, options)` call seen by `instrument`: which indexes the
 * application declared for the collection. The collector uses it to tell
 * which filtered and sorted fields already have an index.
 *
 * ### Examples
 * ```ts
 * import { createBackend, instrument, type RepositoryDeclaration } from '@berth/core';
 *
 * const declared: RepositoryDeclaration[] = [];
 * const backend = instrument(await createBackend('memory:'), { onRepository: (declaration) => declared.push(declaration) });
 * backend.repository('users', { indexes: [{ field: 'email', type: 'string' }] });
 * console.log(declared[0]?.indexes); // [{ field: 'email', type: 'string' }]
 * await backend.close();
 * ```
 */
export interface RepositoryDeclaration {
  readonly backend: string;
  readonly collection: string;
  /** The declared indexes (empty when none were passed). */
  readonly indexes: readonly IndexDefinition[];
}

/**
 * Callbacks of `instrument`. They run synchronously after each operation, so
 * keep them cheap; one that throws (or returns a rejected promise) never
 * breaks the operation: the first such error is logged with the `logger`'s
 * `error` (default `console.error`), later ones are ignored.
 *
 * ### Examples
 * ```ts
 * import type { InstrumentHooks } from '@berth/core';
 *
 * const hooks: InstrumentHooks = {
 *   onOperation: (event) => {
 *     if (event.durationMs > 100) console.warn('slow', event.target, event.operation, event.durationMs);
 *   },
 * };
 * ```
 */
export interface InstrumentHooks {
  /** Called when an operation begins; its {@link OperationEvent} with the same `id` always follows. */
  readonly onStart?: ((start: OperationStart) => void) | undefined;
  /** Called once per finished operation, successful or not. */
  readonly onOperation?: ((event: OperationEvent) => void) | undefined;
  /** Called on every `repository(name, options)` call, in and out of transactions. */
  readonly onRepository?: ((declaration: RepositoryDeclaration) => void) | undefined;
  /** Hears about the first hook that throws (default `console`). */
  readonly logger?: BerthLogger | undefined;
}

type MutableEvent = { -readonly [K in keyof OperationEvent]: OperationEvent[K] };
type MutableStart = { -readonly [K in keyof OperationStart]: OperationStart[K] };
type RowCount<R> = (result: R) => number | undefined;

const found: RowCount<unknown> = (result) => (result === null ? 0 : 1);
const one: RowCount<unknown> = () => 1;
const itself: RowCount<number> = (result) => result;
const happened: RowCount<boolean> = (result) => (result ? 1 : 0);
const length: RowCount<readonly unknown[]> = (result) => result.length;
const changed: RowCount<BulkJobsResult> = (result) => result.changed;
const pageLength: RowCount<Page<unknown>> = (result) => result.items.length;
const present: RowCount<readonly unknown[]> = (result) => {
  let count = 0;
  for (const item of result) if (item !== null) count++;
  return count;
};
const added: RowCount<readonly EnqueueResult[]> = (results) => {
  let count = 0;
  for (const result of results) if (!result.deduplicated) count++;
  return count;
};

/** State shared by everything one `instrument` call hands out. */
class Probe {
  private hookFailed = false;
  private lastId = 0;
  private readonly hasHooks: boolean;
  private readonly options: ProbeOptions | undefined;

  constructor(
    readonly backend: string,
    readonly hooks: InstrumentHooks,
  ) {
    this.hasHooks = hooks.onOperation !== undefined || hooks.onStart !== undefined;
    this.options = (hooks as { [PROBE_OPTIONS]?: ProbeOptions })[PROBE_OPTIONS];
  }

  /** Whether anyone listens now: checked once per operation, so a wrapper nobody listens to only forwards. */
  get observed(): boolean {
    return this.hasHooks && (this.options === undefined || this.options.observed());
  }

  nextId(): number {
    if (this.options !== undefined) return this.options.nextId();
    this.lastId += 1;
    return this.lastId;
  }

  /** Where the events of one collection, queue or the backend go. */
  target(kind: OperationKind, target: string, scope: Scope = TOP_LEVEL): Target {
    return new Target(this, kind, target, scope);
  }

  repository<T extends Document>(
    inner: Repository<T>,
    options: RepositoryOptions<T> | undefined,
    scope: Scope,
  ): Repository<T> {
    const hook = this.hooks.onRepository;
    if (hook !== undefined) {
      const declaration: RepositoryDeclaration = {
        backend: this.backend,
        collection: inner.name,
        indexes: options?.indexes ?? [],
      };
      this.call(() => hook(declaration));
    }
    return new InstrumentedRepository(inner, this.target('repository', inner.name, scope));
  }

  /** Runs a hook so that nothing it does can reach the operation. */
  call(hook: () => unknown): void {
    try {
      const result = hook();
      if (typeof (result as PromiseLike<unknown> | undefined)?.then === 'function') {
        (result as PromiseLike<unknown>).then(undefined, (error: unknown) => this.failed(error));
      }
    } catch (error) {
      this.failed(error);
    }
  }

  private failed(error: unknown): void {
    if (this.hookFailed) return;
    this.hookFailed = true;
    // Said once, so a broken hook is noticed without flooding the log.
    (this.hooks.logger ?? consoleLogger).error(
      'berth instrument: a hook threw; the operation went on, and later hook errors are ignored',
      { error, backend: this.backend },
    );
  }
}

/** Where a target's operations run: at the top level, inside a transaction, or as a worker's traffic. */
interface Scope {
  readonly transaction: boolean;
  readonly worker: boolean;
  /** The operation a call runs inside; `jobId` is the job a lease operation concerns. */
  parentId(jobId: string | undefined): number | undefined;
}

const TOP_LEVEL: Scope = { transaction: false, worker: false, parentId: () => undefined };

/** A scope whose operations all run inside one operation (a transaction). */
function insideOf(parentId: number | undefined, transaction: boolean): Scope {
  return { transaction, worker: false, parentId: () => parentId };
}

/** Extra fields of a span: the job it concerns, and the attempt for `handle`. */
interface JobDetail {
  readonly jobId: string;
  readonly attempt?: number | undefined;
}

/**
 * Copies a start's fields onto `event`, the optional ones only when set.
 * Written out rather than spread: object spread measured 15-25 µs per
 * operation on Node 20, more than the operation itself.
 */
function copyStart(start: OperationStart, event: MutableStart): void {
  if (start.parentId !== undefined) event.parentId = start.parentId;
  if (start.worker !== undefined) event.worker = start.worker;
  if (start.jobId !== undefined) event.jobId = start.jobId;
  if (start.attempt !== undefined) event.attempt = start.attempt;
  if (start.where !== undefined) event.where = start.where;
  if (start.orderBy !== undefined) event.orderBy = start.orderBy;
}

/** One operation between its start event and its end event. */
class Span {
  readonly id: number;
  private readonly started = performance.now();

  constructor(
    private readonly probe: Probe,
    private readonly start: OperationStart,
  ) {
    this.id = start.id;
    const hook = probe.hooks.onStart;
    if (hook !== undefined) {
      const event: MutableStart = {
        id: start.id,
        backend: start.backend,
        target: start.target,
        kind: start.kind,
        operation: start.operation,
        transaction: start.transaction,
      };
      copyStart(start, event);
      probe.call(() => hook(event));
    }
  }

  /** Ends the span; `durationMs` defaults to the wall time since it began. */
  end(
    outcome: { ok: true; rows?: number | undefined; result?: unknown } | { ok: false; error: unknown },
    durationMs?: number,
  ): void {
    const hook = this.probe.hooks.onOperation;
    if (hook === undefined) return;
    const start = this.start;
    const event: MutableEvent = {
      id: start.id,
      backend: start.backend,
      target: start.target,
      kind: start.kind,
      operation: start.operation,
      durationMs: durationMs ?? performance.now() - this.started,
      ok: outcome.ok,
      transaction: start.transaction,
    };
    if (outcome.ok) {
      if (outcome.rows !== undefined) event.rows = outcome.rows;
      if ('result' in outcome) event.result = outcome.result;
    } else event.error = outcome.error;
    copyStart(start, event);
    this.probe.call(() => hook(event));
  }
}

/** Times operations on one target and reports them. */
class Target {
  constructor(
    readonly probe: Probe,
    private readonly kind: OperationKind,
    private readonly name: string,
    readonly scope: Scope,
  ) {}

  get observed(): boolean {
    return this.probe.observed;
  }

  /** Reports the start of `operation`; the caller must end the span it returns. */
  begin(operation: string, where?: Filter, orderBy?: OrderBy, job?: JobDetail): Span {
    const start: MutableStart = {
      id: this.probe.nextId(),
      backend: this.probe.backend,
      target: this.name,
      kind: this.kind,
      operation,
      transaction: this.scope.transaction,
    };
    const parentId = this.scope.parentId(job?.jobId);
    if (parentId !== undefined) start.parentId = parentId;
    if (this.scope.worker) start.worker = true;
    if (job !== undefined) {
      start.jobId = job.jobId;
      if (job.attempt !== undefined) start.attempt = job.attempt;
    }
    if (where !== undefined) start.where = where;
    if (orderBy !== undefined) start.orderBy = orderBy;
    return new Span(this.probe, start);
  }

  /**
   * Runs `call` between a start and an end event. `call` receives the span
   * (when observed), so operations inside it can name it as their parent.
   * A synchronous throw is reported and rethrown as a rejection.
   */
  run<R>(
    operation: string,
    call: (span: Span | undefined) => Promise<R>,
    rows?: RowCount<R>,
    where?: Filter,
    orderBy?: OrderBy,
    lease?: LeaseRef,
  ): Promise<R> {
    if (this.observed) return this.runObserved(operation, call, rows, where, orderBy, lease);
    // Not observed: the inner call's own promise, without an async frame around it.
    try {
      return call(undefined);
    } catch (error) {
      return Promise.reject(error);
    }
  }

  private async runObserved<R>(
    operation: string,
    call: (span: Span | undefined) => Promise<R>,
    rows: RowCount<R> | undefined,
    where: Filter | undefined,
    orderBy: OrderBy | undefined,
    lease: LeaseRef | undefined,
  ): Promise<R> {
    const span = this.begin(operation, where, orderBy, lease === undefined ? undefined : jobOf(lease));
    let result: R;
    try {
      result = await call(span);
    } catch (error) {
      span.end({ ok: false, error });
      throw error;
    }
    let count: number | undefined;
    try {
      count = rows?.(result);
    } catch {
      // An adapter returning something off-contract is not the probe's to report.
    }
    span.end({ ok: true, rows: count, result });
    return result;
  }

  /**
   * Passes items through. The start event comes with the first `next()` (an
   * iterator never read reports nothing), the end event once the iteration
   * ends: done, broken off or failed.
   */
  async *iterate<T>(
    inner: AsyncIterator<T>,
    where?: Filter,
    orderBy?: OrderBy,
    operation = 'iterate',
  ): AsyncIterableIterator<T> {
    const span = this.begin(operation, where, orderBy);
    let rows = 0;
    let fetchMs = 0;
    let done = false;
    let failed = false;
    try {
      for (;;) {
        const start = performance.now();
        let step: IteratorResult<T>;
        try {
          step = await inner.next();
        } catch (error) {
          // A failed iterator is finished; there is nothing to close.
          done = true;
          throw error;
        } finally {
          fetchMs += performance.now() - start;
        }
        if (step.done === true) {
          done = true;
          break;
        }
        rows++;
        yield step.value;
      }
    } catch (error) {
      failed = true;
      span.end({ ok: false, error }, fetchMs);
      throw error;
    } finally {
      try {
        // Broken off by the consumer: let the inner iterator release its resources.
        if (!done) await inner.return?.();
      } finally {
        if (!failed) span.end({ ok: true, rows }, fetchMs);
      }
    }
  }
}

function jobOf(lease: LeaseRef): JobDetail {
  return { jobId: lease.job.id };
}

class InstrumentedRepository<T extends Document> implements Repository<T> {
  readonly name: string;

  constructor(
    private readonly inner: Repository<T>,
    private readonly target: Target,
  ) {
    this.name = inner.name;
  }

  get(id: string, options?: SignalOptions): Promise<T | null> {
    return this.target.run('get', () => this.inner.get(id, options), found);
  }

  getEntry(id: string, options?: SignalOptions): Promise<Entry<T> | null> {
    return this.target.run('getEntry', () => this.inner.getEntry(id, options), found);
  }

  getMany(ids: readonly string[], options?: SignalOptions): Promise<(T | null)[]> {
    return this.target.run('getMany', () => this.inner.getMany(ids, options), present);
  }

  find(query?: Query<T>, options?: SignalOptions): Promise<T[]> {
    return this.target.run('find', () => this.inner.find(query, options), length, query?.where, query?.orderBy);
  }

  findPage(query?: Query<T>, options?: SignalOptions): Promise<Page<T>> {
    return this.target.run(
      'findPage',
      () => this.inner.findPage(query, options),
      pageLength,
      query?.where,
      query?.orderBy,
    );
  }

  findOne(query?: Query<T>, options?: SignalOptions): Promise<T | null> {
    return this.target.run('findOne', () => this.inner.findOne(query, options), found, query?.where, query?.orderBy);
  }

  count(where?: Filter<T>, options?: SignalOptions): Promise<number> {
    return this.target.run('count', () => this.inner.count(where, options), itself, where);
  }

  countBy(field: ScalarPath<T>, where?: Filter<T>, options?: SignalOptions): Promise<CountByGroup[]> {
    return this.target.run('countBy', () => this.inner.countBy(field, where, options), length, where);
  }

  exists(where?: Filter<T>, options?: SignalOptions): Promise<boolean> {
    return this.target.run('exists', () => this.inner.exists(where, options), happened, where);
  }

  iterate(query?: Query<T>, options?: IterateOptions): AsyncIterableIterator<T> {
    return this.observeIteration('iterate', query, () => this.inner.iterate(query, options));
  }

  private observeIteration<R>(
    operation: string,
    query: Query | undefined,
    open: () => AsyncIterableIterator<R>,
  ): AsyncIterableIterator<R> {
    if (!this.target.observed) return open();
    let inner: AsyncIterableIterator<R>;
    try {
      inner = open();
    } catch (error) {
      // Refused before any item (a VALIDATION error): a start and an end all the same.
      this.target.begin(operation, query?.where, query?.orderBy).end({ ok: false, error }, 0);
      throw error;
    }
    return this.target.iterate(inner, query?.where, query?.orderBy, operation);
  }

  explain(query?: Query<T>, options?: SignalOptions): Promise<QueryPlan> {
    return this.target.run(
      'explain',
      () => this.inner.explain(query, options),
      undefined,
      query?.where,
      query?.orderBy,
    );
  }

  findEntries(query?: Query<T>, options?: SignalOptions): Promise<Entry<T>[]> {
    return this.target.run(
      'findEntries',
      () => this.inner.findEntries(query, options),
      length,
      query?.where,
      query?.orderBy,
    );
  }

  findEntriesPage(query?: Query<T>, options?: SignalOptions): Promise<Page<Entry<T>>> {
    return this.target.run(
      'findEntriesPage',
      () => this.inner.findEntriesPage(query, options),
      pageLength,
      query?.where,
      query?.orderBy,
    );
  }

  iterateEntries(query?: Query<T>, options?: IterateOptions): AsyncIterableIterator<Entry<T>> {
    return this.observeIteration('iterateEntries', query, () => this.inner.iterateEntries(query, options));
  }

  insert(document: NewDocument<T>, options: WithEntry<InsertOptions>): Promise<Entry<T>>;
  insert(document: NewDocument<T>, options?: WithoutEntry<InsertOptions>): Promise<T>;
  insert(document: NewDocument<T>, options?: InsertOptions): Promise<T | Entry<T>>;
  insert(document: NewDocument<T>, options?: InsertOptions): Promise<T | Entry<T>> {
    return this.target.run('insert', () => this.inner.insert(document, options), one);
  }

  replace(document: T, options: WithEntry<WriteEntryOptions>): Promise<Entry<T>>;
  replace(document: T, options?: WithoutEntry<WriteEntryOptions>): Promise<T>;
  replace(document: T, options?: WriteEntryOptions): Promise<T | Entry<T>>;
  replace(document: T, options?: WriteEntryOptions): Promise<T | Entry<T>> {
    return this.target.run('replace', () => this.inner.replace(document, options), one);
  }

  upsert(document: T, options: WithEntry<WriteEntryOptions>): Promise<Entry<T>>;
  upsert(document: T, options?: WithoutEntry<WriteEntryOptions>): Promise<T>;
  upsert(document: T, options?: WriteEntryOptions): Promise<T | Entry<T>>;
  upsert(document: T, options?: WriteEntryOptions): Promise<T | Entry<T>> {
    return this.target.run('upsert', () => this.inner.upsert(document, options), one);
  }

  update(id: string, update: Update<T>, options: WithEntry<UpdateOptions<T>> & Conditional): Promise<Entry<T> | null>;
  update(id: string, update: Update<T>, options: WithEntry<UpdateOptions<T>>): Promise<Entry<T>>;
  update(id: string, update: Update<T>, options: WithoutEntry<UpdateOptions<T>> & Conditional): Promise<T | null>;
  update(id: string, update: Update<T>, options?: WithoutEntry<UpdateOptions<T>>): Promise<T>;
  update(
    id: string,
    update: Update<T>,
    options?: UpdateOptions<T> & { readonly where?: undefined },
  ): Promise<T | Entry<T>>;
  update(id: string, update: Update<T>, options?: UpdateOptions<T>): Promise<T | Entry<T> | null>;
  update(id: string, update: Update<T>, options?: UpdateOptions<T>): Promise<T | Entry<T> | null> {
    return this.target.run('update', () => this.inner.update(id, update, options), found);
  }

  delete(id: string, options?: WriteOptions): Promise<boolean> {
    return this.target.run('delete', () => this.inner.delete(id, options), happened);
  }

  insertMany(documents: readonly NewDocument<T>[], options?: SignalOptions): Promise<T[]> {
    return this.target.run('insertMany', () => this.inner.insertMany(documents, options), length);
  }

  upsertMany(documents: readonly T[], options?: SignalOptions): Promise<T[]> {
    return this.target.run('upsertMany', () => this.inner.upsertMany(documents, options), length);
  }

  updateMany(where: Filter<T> | undefined, update: Update<T>, options?: SignalOptions): Promise<number> {
    return this.target.run('updateMany', () => this.inner.updateMany(where, update, options), itself, where);
  }

  deleteMany(where: Filter<T> | undefined, options?: SignalOptions): Promise<number> {
    return this.target.run('deleteMany', () => this.inner.deleteMany(where, options), itself, where);
  }

  importEntries(entries: readonly Entry<T>[], options?: SignalOptions): Promise<number> {
    return this.target.run('importEntries', () => this.inner.importEntries(entries, options), itself);
  }
}

/** The enqueue side of a queue, as a transaction hands it out; the full queue builds on it. */
class InstrumentedTransactionalQueue<T, Q extends TransactionalQueue<T> = TransactionalQueue<T>>
  implements TransactionalQueue<T>
{
  readonly name: string;

  constructor(
    protected readonly inner: Q,
    protected readonly target: Target,
  ) {
    this.name = inner.name;
  }

  enqueue(payload: T, options?: EnqueueOptions & SignalOptions): Promise<EnqueueResult> {
    return this.target.run(
      'enqueue',
      () => this.inner.enqueue(payload, options),
      (result) => (result.deduplicated ? 0 : 1),
    );
  }

  enqueueMany(items: readonly EnqueueItem<T>[], options?: SignalOptions): Promise<EnqueueResult[]> {
    return this.target.run('enqueueMany', () => this.inner.enqueueMany(items, options), added);
  }
}

class InstrumentedQueue<T> extends InstrumentedTransactionalQueue<T, JobQueue<T>> implements JobQueue<T> {
  dequeue(options?: DequeueOptions): Promise<Lease<T> | null> {
    return this.target.run('dequeue', () => this.inner.dequeue(options), found);
  }

  dequeueMany(count: number, options?: DequeueOptions): Promise<Lease<T>[]> {
    return this.target.run('dequeueMany', () => this.inner.dequeueMany(count, options), length);
  }

  complete(lease: LeaseRef, result?: DocumentValue, options?: SignalOptions): Promise<void> {
    return this.target.run(
      'complete',
      () => this.inner.complete(lease, result, options),
      one,
      undefined,
      undefined,
      lease,
    );
  }

  fail(lease: LeaseRef, error: unknown, options?: FailOptions): Promise<'waiting' | 'dead'> {
    return this.target.run('fail', () => this.inner.fail(lease, error, options), one, undefined, undefined, lease);
  }

  extendLease(lease: LeaseRef, leaseMs?: number, options?: SignalOptions): Promise<Lease<T>> {
    return this.target.run(
      'extendLease',
      () => this.inner.extendLease(lease, leaseMs, options),
      one,
      undefined,
      undefined,
      lease,
    );
  }

  release(lease: LeaseRef, options?: SignalOptions): Promise<void> {
    return this.target.run('release', () => this.inner.release(lease, options), one, undefined, undefined, lease);
  }

  get(id: string, options?: SignalOptions): Promise<Job<T> | null> {
    return this.target.run('get', () => this.inner.get(id, options), found);
  }

  cancel(id: string, options?: SignalOptions): Promise<boolean> {
    return this.target.run('cancel', () => this.inner.cancel(id, options), happened);
  }

  retry(id: string, options?: SignalOptions): Promise<boolean> {
    return this.target.run('retry', () => this.inner.retry(id, options), happened);
  }

  stats(options?: SignalOptions): Promise<JobStats> {
    return this.target.run('stats', () => this.inner.stats(options));
  }

  purge(options: PurgeOptions): Promise<number> {
    return this.target.run('purge', () => this.inner.purge(options), itself);
  }

  readonly settleAndClaim?: (
    settlements: readonly Settlement[],
    count: number,
    options?: DequeueOptions,
  ) => Promise<SettleAndClaimResult<T>>;

  constructor(inner: JobQueue<T>, target: Target) {
    super(inner, target);
    // Only where the adapter has it: the worker checks for it to choose its path.
    const settleAndClaim = inner.settleAndClaim?.bind(inner);
    if (settleAndClaim !== undefined) {
      this.settleAndClaim = (settlements, count, options) =>
        this.target.run(
          'settleAndClaim',
          () => settleAndClaim(settlements, count, options),
          (result) => result.leases.length,
        );
    }
  }

  progress(lease: LeaseRef, progress: DocumentValue, options?: SignalOptions): Promise<void> {
    return this.target.run(
      'progress',
      () => this.inner.progress(lease, progress, options),
      one,
      undefined,
      undefined,
      lease,
    );
  }

  listJobs(options?: ListJobsOptions): Promise<JobPage<T>> {
    return this.target.run(
      'listJobs',
      () => this.inner.listJobs(options),
      (page) => page.jobs.length,
    );
  }

  retryJobs(options?: RetryJobsOptions): Promise<BulkJobsResult> {
    return this.target.run('retryJobs', () => this.inner.retryJobs(options), changed);
  }

  cancelJobs(options?: BulkJobsOptions): Promise<BulkJobsResult> {
    return this.target.run('cancelJobs', () => this.inner.cancelJobs(options), changed);
  }

  prune(options?: PruneOptions): Promise<number> {
    return this.target.run('prune', () => this.inner.prune(options), itself);
  }

  importJobs(jobs: readonly Job<T>[], options?: SignalOptions): Promise<ImportJobsResult> {
    return this.target.run(
      'importJobs',
      () => this.inner.importJobs(jobs, options),
      (result) => result.imported,
    );
  }

  subscribe(listener: JobEventListener, options?: SubscribeOptions): () => void {
    return this.inner.subscribe(listener, options);
  }

  events(options?: QueueEventsOptions): AsyncIterableIterator<QueueEvent> {
    return this.inner.events(options);
  }

  putSchedule(schedule: ScheduleInput<T>, options?: SignalOptions): Promise<ScheduleRecord<T>> {
    return this.target.run('putSchedule', () => this.inner.putSchedule(schedule, options), one);
  }

  getSchedule(name: string, options?: SignalOptions): Promise<ScheduleRecord<T> | null> {
    return this.target.run('getSchedule', () => this.inner.getSchedule(name, options), found);
  }

  listSchedules(options?: SignalOptions): Promise<ScheduleRecord<T>[]> {
    return this.target.run('listSchedules', () => this.inner.listSchedules(options), length);
  }

  removeSchedule(name: string, options?: SignalOptions): Promise<boolean> {
    return this.target.run('removeSchedule', () => this.inner.removeSchedule(name, options), happened);
  }

  fireSchedule(name: string, tick: ScheduleTick, options?: SignalOptions): Promise<ScheduleFireResult> {
    return this.target.run(
      'fireSchedule',
      () => this.inner.fireSchedule(name, tick, options),
      (result) => (result.fired ? 1 : 0),
    );
  }

  /**
   * The adapter's own worker, so it keeps the adapter's wake-up notifier
   * (LISTEN/NOTIFY, pub/sub, in-process events), watched through core's
   * worker: its traffic is reported with `worker: true`, as a `work`
   * operation that lasts until the worker has stopped, its claims
   * (`dequeueMany`), one `handle` per job (the handler, then the job's
   * `complete` or `fail`, with the lease renewals made meanwhile, as its
   * children) and the `release` of unstarted jobs on close. Where the queue
   * has `settleAndClaim`, settlements and claims travel together in its
   * calls (children of `work`), and each `handle` ends once the call that
   * carried its settlement has been applied. An adapter whose
   * `work()` does not run core's `startWorker` reports one `handle` per job
   * and nothing else.
   */
  work(handler: JobHandler<T>, options?: WorkerOptions): Worker {
    if (!this.target.observed || typeof handler !== 'function') return this.inner.work(handler, options);
    const watch = new WorkerWatch(this.target.probe, this.name);
    const observed: WorkerOptions & { [WORKER_OBSERVER]: WorkerObserver } = {
      ...options,
      [WORKER_OBSERVER]: watch,
    };
    return this.inner.work((job, context) => watch.handle(job, () => handler(job, context)), observed);
  }
}

/** What `instrument` sees of one worker, through core's worker (see `WorkerObserver`). */
class WorkerWatch implements WorkerObserver {
  private work: Span | undefined;
  /** The `handle` span of each job being handled, by job id. */
  private readonly jobs = new Map<string, Span>();
  private readonly scope: Scope;
  private readonly jobScope: Scope;

  constructor(
    private readonly probe: Probe,
    private readonly queueName: string,
  ) {
    this.scope = {
      transaction: false,
      worker: true,
      parentId: (jobId) => (jobId === undefined ? undefined : this.jobs.get(jobId)?.id) ?? this.work?.id,
    };
    this.jobScope = { transaction: false, worker: true, parentId: () => this.work?.id };
  }

  wrap<Q>(queue: JobQueue<Q>): JobQueue<Q> {
    this.work ??= this.probe.target('queue', this.queueName, this.jobScope).begin('work');
    return new InstrumentedQueue(queue, this.probe.target('queue', queue.name, this.scope));
  }

  job(lease: Lease<unknown>): (failure: { readonly error: unknown } | undefined) => void {
    const { id, attempts } = lease.job;
    const span = this.probe
      .target('queue', this.queueName, this.jobScope)
      .begin('handle', undefined, undefined, { jobId: id, attempt: attempts });
    this.jobs.set(id, span);
    return (failure) => {
      if (this.jobs.get(id) === span) this.jobs.delete(id);
      span.end(failure === undefined ? { ok: true } : { ok: false, error: failure.error });
    };
  }

  stopped(): void {
    const work = this.work;
    this.work = undefined;
    work?.end({ ok: true });
  }

  /** Runs one job's handler; reports it as `handle` itself only when the adapter's worker did not. */
  async handle<R>(job: Job<unknown>, run: () => R | Promise<R>): Promise<R> {
    if (this.jobs.has(job.id)) return run();
    const span = this.probe
      .target('queue', this.queueName, { transaction: false, worker: true, parentId: () => undefined })
      .begin('handle', undefined, undefined, { jobId: job.id, attempt: job.attempts });
    try {
      const result = await run();
      span.end({ ok: true });
      return result;
    } catch (error) {
      span.end({ ok: false, error });
      throw error;
    }
  }
}

class InstrumentedTransactionScope implements TransactionScope {
  private readonly scope: Scope;

  constructor(
    private readonly inner: TransactionScope,
    private readonly probe: Probe,
    transaction: Span | undefined,
  ) {
    this.scope = insideOf(transaction?.id, true);
  }

  repository<T extends Document = Document>(name: string, options?: RepositoryOptions<T>): Repository<T> {
    return this.probe.repository(this.inner.repository<T>(name, options), options, this.scope);
  }

  queue<T = DocumentValue>(name: string): TransactionalQueue<T> {
    const inner = this.inner.queue<T>(name);
    return new InstrumentedTransactionalQueue(inner, this.probe.target('queue', inner.name, this.scope));
  }
}

/**
 * Wraps a backend so that every operation through it is reported to `hooks`,
 * once when it starts (`onStart`) and once when it ends (`onOperation`), with
 * the same `id`: each repository and queue method, `iterate` (from the first
 * item to the end of the iteration), `transaction` (the operations inside it
 * carry `transaction: true` and its id as `parentId`), `connect`, `close`,
 * `health`, `flush`, `migrate`, `collections` and `queues`, and the traffic of `queue.work()`: the worker
 * (`work`), its claims, and each job's `handle` with its `complete` or `fail`
 * (see {@link OperationStart} for the nesting).
 *
 * The wrapper has the backend's whole type: members the ports do not cover
 * (`native()`…) are passed through unchanged. Errors reach the caller
 * unchanged; a hook can never make an operation fail. Without an
 * `onOperation` or `onStart` hook the wrapper only forwards.
 *
 * ### Examples
 * ```ts
 * import { createBackend, createCollector, instrument } from '@berth/core';
 *
 * const collector = createCollector();
 * const backend = instrument(await createBackend('memory:'), collector.hooks);
 * const players = backend.repository<{ id: string; level: number }>('players', {
 *   indexes: [{ field: 'level', type: 'number' }],
 * });
 * await players.insert({ level: 3 });
 * await players.find({ where: { level: { $gte: 2 } } });
 * console.log(collector.format());
 * await backend.close();
 * ```
 */
export function instrument<B extends RepositoryBackend | QueueBackend>(backend: B, hooks: InstrumentHooks): B {
  if (typeof backend !== 'object' || backend === null) {
    throw new ValidationError('instrument() takes a backend', 'backend');
  }
  if (typeof hooks !== 'object' || hooks === null) {
    throw new ValidationError('instrument() takes hooks: { onOperation?, onRepository? }', 'hooks');
  }
  const probe = new Probe(backend.kind, hooks);
  const self = probe.target('backend', '');
  const overrides = new Map<PropertyKey, unknown>([
    ['connect', (options?: SignalOptions): Promise<void> => self.run('connect', () => backend.connect(options))],
    ['close', (): Promise<void> => self.run('close', () => backend.close())],
    ['health', (options?: SignalOptions): Promise<HealthStatus> => self.run('health', () => backend.health(options))],
    [
      'migrate',
      (options?: SignalOptions): Promise<MigrationReport> =>
        self.run(
          'migrate',
          () => backend.migrate(options),
          (report) => report.applied.length,
        ),
    ],
    [
      Symbol.asyncDispose,
      (): Promise<void> =>
        self.run('close', async () => {
          await backend[Symbol.asyncDispose]();
        }),
    ],
  ]);
  if ('repository' in backend && isFunction(backend.repository)) {
    const inner: RepositoryBackend = backend;
    const transactionTarget = probe.target('backend', '', insideOf(undefined, true));
    overrides.set(
      'repository',
      <T extends Document>(name: string, options?: RepositoryOptions<T>): Repository<T> =>
        probe.repository(inner.repository<T>(name, options), options, TOP_LEVEL),
    );
    overrides.set(
      'transaction',
      <R>(work: (tx: TransactionScope) => Promise<R>, options?: TransactionOptions): Promise<R> =>
        transactionTarget.run('transaction', (span) =>
          inner.transaction((tx) => work(new InstrumentedTransactionScope(tx, probe, span)), options),
        ),
    );
    overrides.set(
      'collections',
      (options?: SignalOptions): Promise<CollectionInfo[]> =>
        self.run('collections', () => inner.collections(options), length),
    );
    if (isFunction(inner.flush)) {
      overrides.set('flush', (options?: SignalOptions): Promise<void> => self.run('flush', () => inner.flush(options)));
    }
  }
  if ('queue' in backend && isFunction(backend.queue)) {
    const inner: QueueBackend = backend;
    overrides.set('queue', <T>(name: string, options?: QueueOptions): JobQueue<T> => {
      const queue = inner.queue<T>(name, options);
      return new InstrumentedQueue(queue, probe.target('queue', queue.name));
    });
    overrides.set(
      'queues',
      (options?: SignalOptions): Promise<string[]> => self.run('queues', () => inner.queues(options), length),
    );
  }
  // Methods outside the ports run on the real backend, so `this` (and its
  // private fields) is the one they were written for.
  return overriding(backend, overrides);
}

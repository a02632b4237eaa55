import type { SignalOptions } from './abort.js';
import type {
  HealthStatus,
  QueueBackend,
  RepositoryBackend,
  TransactionalQueue,
  TransactionOptions,
  TransactionScope,
} from './backend.js';
import type { Document, DocumentValue, Entry, NewDocument } from './document.js';
import { ValidationError } from './errors.js';
import type { Job, JobStats, Lease, LeaseRef } from './job.js';
import type {
  DequeueOptions,
  EnqueueItem,
  EnqueueOptions,
  EnqueueResult,
  FailOptions,
  JobHandler,
  JobQueue,
  PurgeOptions,
  Worker,
  WorkerOptions,
} from './job-queue.js';
import type { CountByGroup, Filter, OrderBy, Page, Query, QueryPlan } from './query.js';
import type { IndexDefinition, IterateOptions, Repository, RepositoryOptions, WriteOptions } from './repository.js';
import type { ScalarPath } from './typed-paths.js';
import type { Update } from './update.js';

/** What an operation addressed: a collection, a queue, or the backend itself. */
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
 * | `find`, `findPage`, `iterate`, `insertMany`, `upsertMany` | documents returned |
 * | `count`, `updateMany`, `deleteMany` | the number returned |
 * | `countBy` | groups returned |
 * | `insert`, `replace`, `upsert`, `update` | 1 |
 * | `delete`, `cancel`, `retry` | 1 when it happened, else 0 |
 * | `enqueue`, `enqueueMany` | jobs added (a deduplicated enqueue adds none) |
 * | `dequeue`, `dequeueMany`, `get` (queue) | jobs returned |
 * | `complete`, `fail`, `extendLease`, `release` | 1 |
 * | `purge` | jobs removed |
 * | `explain`, `stats`, `connect`, `close`, `health`, `transaction` | absent |
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
export interface OperationEvent {
  /** The backend's `kind` (`memory`, `sqlite`, `postgres`…). */
  readonly backend: string;
  /** The collection or queue name; `''` for backend-level operations. */
  readonly target: string;
  readonly kind: OperationKind;
  /** The method called (`find`, `enqueue`, `transaction`…). */
  readonly operation: string;
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
  /** `true` for the `transaction` event and for every operation run inside a transaction. */
  readonly transaction: boolean;
  /** The filter the caller passed, as passed (reads with a query, `count`, `updateMany`…). */
  readonly where?: Filter | undefined;
  /** The sort the caller passed, as passed. */
  readonly orderBy?: OrderBy | undefined;
}

/**
 * A `repository(name, options)` call seen by `instrument`: which indexes the
 * application declared for the collection. The collector uses it to tell
 * which filtered and sorted fields already have an index.
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
 * breaks the operation: the first such error is logged with
 * `console.error`, later ones are ignored.
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
  /** Called once per finished operation, successful or not. */
  readonly onOperation?: ((event: OperationEvent) => void) | undefined;
  /** Called on every `repository(name, options)` call, in and out of transactions. */
  readonly onRepository?: ((declaration: RepositoryDeclaration) => void) | undefined;
}

type MutableEvent = { -readonly [K in keyof OperationEvent]: OperationEvent[K] };
type RowCount<R> = (result: R) => number | undefined;

const found: RowCount<unknown> = (result) => (result === null ? 0 : 1);
const one: RowCount<unknown> = () => 1;
const itself: RowCount<number> = (result) => result;
const happened: RowCount<boolean> = (result) => (result ? 1 : 0);
const length: RowCount<readonly unknown[]> = (result) => result.length;
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

  constructor(
    readonly backend: string,
    readonly hooks: InstrumentHooks,
  ) {}

  /** Where the events of one collection, queue or the backend go. */
  target(kind: OperationKind, target: string, transaction: boolean): Target {
    return new Target(this, kind, target, transaction);
  }

  repository<T extends Document>(
    inner: Repository<T>,
    options: RepositoryOptions<T> | undefined,
    transaction: boolean,
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
    return new InstrumentedRepository(inner, this.target('repository', inner.name, transaction));
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
    console.error('berth instrument: a hook threw; the operation went on, and later hook errors are ignored', error);
  }
}

/** Times operations on one target and reports them. */
class Target {
  constructor(
    private readonly probe: Probe,
    private readonly kind: OperationKind,
    private readonly name: string,
    readonly transaction: boolean,
  ) {}

  get observed(): boolean {
    return this.probe.hooks.onOperation !== undefined;
  }

  async run<R>(
    operation: string,
    call: () => Promise<R>,
    rows?: RowCount<R>,
    where?: Filter,
    orderBy?: OrderBy,
  ): Promise<R> {
    if (!this.observed) return call();
    const start = performance.now();
    let result: R;
    try {
      result = await call();
    } catch (error) {
      this.emit(operation, performance.now() - start, false, undefined, error, where, orderBy);
      throw error;
    }
    const durationMs = performance.now() - start;
    let count: number | undefined;
    try {
      count = rows?.(result);
    } catch {
      // An adapter returning something off-contract is not the probe's to report.
    }
    this.emit(operation, durationMs, true, count, undefined, where, orderBy);
    return result;
  }

  /** Passes items through and reports once when the iteration ends (done, broken off or failed). */
  async *iterate<T>(inner: AsyncIterator<T>, where?: Filter, orderBy?: OrderBy): AsyncIterableIterator<T> {
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
      this.emit('iterate', fetchMs, false, undefined, error, where, orderBy);
      throw error;
    } finally {
      try {
        // Broken off by the consumer: let the inner iterator release its resources.
        if (!done) await inner.return?.();
      } finally {
        if (!failed) this.emit('iterate', fetchMs, true, rows, undefined, where, orderBy);
      }
    }
  }

  private emit(
    operation: string,
    durationMs: number,
    ok: boolean,
    rows: number | undefined,
    error: unknown,
    where: Filter | undefined,
    orderBy: OrderBy | undefined,
  ): void {
    const hook = this.probe.hooks.onOperation;
    if (hook === undefined) return;
    const event: MutableEvent = {
      backend: this.probe.backend,
      target: this.name,
      kind: this.kind,
      operation,
      durationMs,
      ok,
      transaction: this.transaction,
    };
    if (rows !== undefined) event.rows = rows;
    if (!ok) event.error = error;
    if (where !== undefined) event.where = where;
    if (orderBy !== undefined) event.orderBy = orderBy;
    this.probe.call(() => hook(event));
  }
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
    const inner = this.inner.iterate(query, options);
    return this.target.observed ? this.target.iterate(inner, query?.where, query?.orderBy) : inner;
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

  insert(document: NewDocument<T>, options?: SignalOptions): Promise<T> {
    return this.target.run('insert', () => this.inner.insert(document, options), one);
  }

  replace(document: T, options?: WriteOptions): Promise<T> {
    return this.target.run('replace', () => this.inner.replace(document, options), one);
  }

  upsert(document: T, options?: WriteOptions): Promise<T> {
    return this.target.run('upsert', () => this.inner.upsert(document, options), one);
  }

  update(id: string, update: Update<T>, options?: WriteOptions): Promise<T> {
    return this.target.run('update', () => this.inner.update(id, update, options), one);
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
    return this.target.run('complete', () => this.inner.complete(lease, result, options), one);
  }

  fail(lease: LeaseRef, error: unknown, options?: FailOptions): Promise<'waiting' | 'dead'> {
    return this.target.run('fail', () => this.inner.fail(lease, error, options), one);
  }

  extendLease(lease: LeaseRef, leaseMs?: number, options?: SignalOptions): Promise<Lease<T>> {
    return this.target.run('extendLease', () => this.inner.extendLease(lease, leaseMs, options), one);
  }

  release(lease: LeaseRef, options?: SignalOptions): Promise<void> {
    return this.target.run('release', () => this.inner.release(lease, options), one);
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

  /**
   * Delegated to the inner queue, so the worker keeps the adapter's wake-up
   * notifier (LISTEN/NOTIFY, pub/sub, in-process events). Running core's
   * `startWorker` on this instrumented queue instead would report the worker's
   * dequeues and completions, but without the notifier it could only poll,
   * and instrumenting must never change how a worker behaves. The worker's
   * own traffic is therefore not reported; to observe it, call
   * `startWorker(instrumentedQueue, handler, options)` yourself and accept
   * polling at `pollIntervalMs`.
   */
  work(handler: JobHandler<T>, options?: WorkerOptions): Worker {
    return this.inner.work(handler, options);
  }
}

class InstrumentedTransactionScope implements TransactionScope {
  constructor(
    private readonly inner: TransactionScope,
    private readonly probe: Probe,
  ) {}

  repository<T extends Document = Document>(name: string, options?: RepositoryOptions<T>): Repository<T> {
    return this.probe.repository(this.inner.repository<T>(name, options), options, true);
  }

  queue<T = DocumentValue>(name: string): TransactionalQueue<T> {
    const inner = this.inner.queue<T>(name);
    return new InstrumentedTransactionalQueue(inner, this.probe.target('queue', inner.name, true));
  }
}

function isFunction(value: unknown): value is (...args: unknown[]) => unknown {
  return typeof value === 'function';
}

/**
 * Wraps a backend so that every operation through it is reported to `hooks`:
 * each repository and queue method, `iterate` (once, when the iteration
 * ends), `transaction` (one event, plus the events of the operations inside
 * it, which carry `transaction: true`), `connect`, `close` and `health`.
 *
 * The wrapper has the backend's whole type: members the ports do not cover
 * (`flush()`, `native()`…) are passed through unchanged. Errors reach the
 * caller unchanged; a hook can never make an operation fail. Without an
 * `onOperation` hook the wrapper only forwards. `queue.work()` runs the
 * adapter's own worker, whose dequeues and completions are not reported (see
 * `JobQueue.work` on the returned queue).
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
  const self = probe.target('backend', '', false);
  const overrides = new Map<PropertyKey, unknown>([
    ['connect', (options?: SignalOptions): Promise<void> => self.run('connect', () => backend.connect(options))],
    ['close', (): Promise<void> => self.run('close', () => backend.close())],
    ['health', (options?: SignalOptions): Promise<HealthStatus> => self.run('health', () => backend.health(options))],
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
    const transactionTarget = probe.target('backend', '', true);
    overrides.set(
      'repository',
      <T extends Document>(name: string, options?: RepositoryOptions<T>): Repository<T> =>
        probe.repository(inner.repository<T>(name, options), options, false),
    );
    overrides.set(
      'transaction',
      <R>(work: (tx: TransactionScope) => Promise<R>, options?: TransactionOptions): Promise<R> =>
        transactionTarget.run('transaction', () =>
          inner.transaction((tx) => work(new InstrumentedTransactionScope(tx, probe)), options),
        ),
    );
  }
  if ('queue' in backend && isFunction(backend.queue)) {
    const inner: QueueBackend = backend;
    overrides.set('queue', <T>(name: string): JobQueue<T> => {
      const queue = inner.queue<T>(name);
      return new InstrumentedQueue(queue, probe.target('queue', queue.name, false));
    });
  }
  // Methods outside the ports run on the real backend, so `this` (and its
  // private fields) is the one they were written for.
  const bound = new WeakMap<object, unknown>();
  return new Proxy(backend, {
    get(target, property) {
      if (overrides.has(property)) return overrides.get(property);
      const value: unknown = Reflect.get(target, property, target);
      if (!isFunction(value)) return value;
      const descriptor = Reflect.getOwnPropertyDescriptor(target, property);
      // A frozen own property must be returned as is (a Proxy invariant).
      if (descriptor !== undefined && descriptor.configurable === false && descriptor.writable === false) return value;
      let method = bound.get(value);
      if (method === undefined) {
        method = value.bind(target);
        bound.set(value, method);
      }
      return method;
    },
  });
}

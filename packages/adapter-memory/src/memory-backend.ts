import {
  type AnyDocument,
  type Backend,
  type BerthLogger,
  type Capabilities,
  type CollectionInfo,
  ConnectionError,
  type Document,
  type DocumentValue,
  type HealthStatus,
  type JobQueue,
  type MigrationReport,
  type QueueOptions,
  type Repository,
  type RepositoryOptions,
  type SignalOptions,
  type TransactionalQueue,
  type TransactionOptions,
  type TransactionScope,
  ValidationError,
} from '@berth/core';
import {
  checkCollectionName,
  checkMaxBytes,
  checkMigrateOption,
  indexDefinitionOf,
  normalizeRetention,
  runTransaction,
  startOperation,
  throwIfAborted,
} from '@berth/core/adapter';
import { MemoryJobQueue } from './memory-job-queue.js';
import { MemoryQueueState } from './memory-queue-state.js';
import { MemoryRepository, type MemoryScope } from './memory-repository.js';
import { MemorySession } from './memory-session.js';
import { type MemoryCollection, MemoryStore } from './memory-store.js';

export interface MemoryBackendConfig {
  /**
   * Largest document, as bytes of JSON (default and at most 16 MiB). Set it to
   * the limit of the engine used in production to meet it in tests first.
   */
  readonly maxDocumentBytes?: number | undefined;
  /** Largest job payload or result, as bytes of JSON (default and at most 16 MiB). */
  readonly maxPayloadBytes?: number | undefined;
  /** Hears about queue event listeners that throw and worker errors without an `onError` (default `console`). */
  readonly logger?: BerthLogger | undefined;
  /**
   * Accepted as every backend accepts it (`false`: `connect()` does not
   * migrate); the memory engine has no schema, so it changes nothing.
   */
  readonly migrate?: boolean | undefined;
}

/**
 * A backend that keeps everything in process memory: the reference
 * implementation of every port, and the default for tests and demos.
 *
 * Transactions are optimistic: one that read or wrote a document, or ran a
 * query matching a document, that another commit changed meanwhile fails
 * with a retryable CONFLICT and writes nothing (`{ retries }` runs it again).
 * Transactions on different documents of one collection both commit.
 *
 * ### Examples
 * ```ts
 * import { MemoryBackend } from '@berth/adapter-memory';
 *
 * await using backend = new MemoryBackend();
 * const players = backend.repository<{ id: string; name: string }>('players');
 * await players.insert({ name: 'Ada' });
 * console.log(await players.count());
 * ```
 */
export class MemoryBackend implements Backend {
  readonly kind: string = 'memory';
  readonly capabilities: Capabilities;
  protected readonly store: MemoryStore = new MemoryStore();
  /** How long `close()` waits for running transactions before it closes anyway. */
  protected closeTimeoutMs = 10_000;
  private readonly queueStates = new Map<string, MemoryQueueState>();
  /** Transactions whose work has not finished; `close()` waits for them. */
  private readonly running = new Set<Promise<unknown>>();
  /** Set by the first `close()`: from then on, new work is refused. */
  private closing: Promise<void> | undefined;
  private readonly logger: BerthLogger | undefined;

  constructor(config: MemoryBackendConfig = {}) {
    // Accepted like every backend's, with nothing to migrate either way.
    checkMigrateOption(config.migrate);
    this.logger = config.logger;
    this.capabilities = {
      repository: {
        transactions: 'multi-collection',
        uniqueIndexes: true,
        durable: false,
        maxDocumentBytes: checkMaxBytes(config.maxDocumentBytes),
      },
      queue: {
        level: 'single-node',
        transactionalEnqueue: true,
        durable: false,
        notifications: true,
        events: 'process',
        maxPayloadBytes: checkMaxBytes(config.maxPayloadBytes, 'maxPayloadBytes'),
      },
    };
  }

  async connect(options?: SignalOptions): Promise<void> {
    startOperation(options, 'connect');
  }

  /**
   * Refuses new work, waits for running transactions (at most
   * `closeTimeoutMs`; one still running after that fails at commit and
   * writes nothing), then closes. Idempotent: a second call waits for the
   * first and never rejects.
   */
  async close(): Promise<void> {
    if (this.closing !== undefined) return this.closing.catch(() => undefined);
    this.closing = this.shutDown();
    return this.closing;
  }

  /**
   * What `close()` does once. From its end on, a commit fails (a transaction
   * that outlived `closeTimeoutMs`, an operation whose validator was still
   * running), so the document-backed backend's save after it misses nothing.
   */
  protected async shutDown(): Promise<void> {
    await this.transactionsSettled();
    this.store.closed = true;
  }

  /** Resolves when every running transaction has ended, or after `closeTimeoutMs`. */
  protected async transactionsSettled(): Promise<void> {
    if (this.running.size === 0) return;
    let timer: ReturnType<typeof setTimeout> | undefined;
    const timeout = new Promise<void>((resolve) => {
      timer = setTimeout(resolve, this.closeTimeoutMs);
    });
    const settled = Promise.allSettled([...this.running]).then(() => undefined);
    await Promise.race([settled, timeout]).finally(() => clearTimeout(timer));
  }

  async health(options?: SignalOptions): Promise<HealthStatus> {
    startOperation(options, 'health');
    return this.isClosing() ? { ok: false, latencyMs: 0, message: 'backend is closed' } : { ok: true, latencyMs: 0 };
  }

  /** Nothing is buffered in memory: resolves at once (after checking `options`). */
  async flush(options?: SignalOptions): Promise<void> {
    startOperation(options, 'flush');
  }

  /**
   * The collections holding documents or declared indexes, sorted by name.
   * `approximateBytes` is `undefined`: measuring would mean serializing every
   * document.
   */
  async collections(options?: SignalOptions): Promise<CollectionInfo[]> {
    startOperation(options, 'collections');
    this.assertOpen();
    const listed: CollectionInfo[] = [];
    for (const name of [...this.store.collections.keys()].sort(byCodePoint)) {
      const collection = this.store.collections.get(name) as MemoryCollection;
      // A read opens a collection in the store; only one written to or given indexes exists for the engine.
      if (collection.records.size === 0 && collection.indexes.size === 0) continue;
      const indexes = [...collection.indexes.values()].map((index) => indexDefinitionOf(index.spec));
      listed.push({ name, indexes, approximateBytes: undefined });
    }
    return listed;
  }

  /** The queues holding jobs (any state) or schedules, sorted by name. */
  async queues(options?: SignalOptions): Promise<string[]> {
    startOperation(options, 'queues');
    this.assertOpen();
    const names: string[] = [];
    for (const [name, state] of this.queueStates) {
      if (state.jobs.size > 0 || state.schedules.size > 0) names.push(name);
    }
    return names.sort(byCodePoint);
  }

  /** The memory engine has no schema: nothing to apply, ever. */
  async migrate(options?: SignalOptions): Promise<MigrationReport> {
    startOperation(options, 'migrate');
    return { applied: [] };
  }

  repository<T extends Document = AnyDocument>(name: string, options?: RepositoryOptions<T>): Repository<T> {
    checkCollectionName(name);
    return new MemoryRepository<T>(name, options, this.autoScope(name), this.maxDocumentBytes);
  }

  /** Where single operations on `collection` run; the document-backed backend adds its gate. */
  protected autoScope(_collection: string): MemoryScope {
    return { kind: 'auto', store: this.store, gate: async () => this.assertOpen() };
  }

  /** Whether `close()` was called: closing refuses new work as closed does. */
  protected isClosing(): boolean {
    return this.closing !== undefined;
  }

  /** The declared limit is the enforced one (a subclass may declare its own capabilities). */
  private get maxDocumentBytes(): number {
    return checkMaxBytes(this.capabilities.repository.maxDocumentBytes);
  }

  private get maxPayloadBytes(): number {
    return checkMaxBytes(this.capabilities.queue.maxPayloadBytes, 'maxPayloadBytes');
  }

  protected assertOpen(): void {
    if (this.isClosing()) {
      throw new ConnectionError(`this ${this.kind} backend is closed`, { retryable: false });
    }
  }

  /**
   * The queue `name`. Every queue object of one name shares its jobs,
   * schedules and events; `options.retention` applies to what this object's
   * `prune()` and workers remove.
   */
  queue<T = DocumentValue>(name: string, options?: QueueOptions): JobQueue<T> {
    const state = this.queueState(name);
    if (options !== undefined && (typeof options !== 'object' || options === null || Array.isArray(options))) {
      throw new ValidationError('queue options must be an object', '');
    }
    const retention = normalizeRetention(options?.retention);
    return new MemoryJobQueue<T>(state, undefined, () => this.assertOpen(), this.maxPayloadBytes, retention);
  }

  private queueState(name: string): MemoryQueueState {
    checkCollectionName(name, 'queue');
    let state = this.queueStates.get(name);
    if (state === undefined) {
      state = new MemoryQueueState(name, this.logger);
      this.queueStates.set(name, state);
    }
    return state;
  }

  /**
   * Runs `work` in a session that commits when it resolves. With
   * `options.retries`, a retryable CONFLICT at commit runs `work` again
   * (in a fresh session) after a jittered delay.
   */
  transaction<R>(work: (tx: TransactionScope) => Promise<R>, options?: TransactionOptions): Promise<R> {
    return runTransaction(work, options, () => this.transactionOnce(work, options));
  }

  private async transactionOnce<R>(
    work: (tx: TransactionScope) => Promise<R>,
    options?: TransactionOptions,
  ): Promise<R> {
    this.assertOpen();
    const session = new MemorySession(this.store, true);
    const scope: TransactionScope = {
      repository: <T extends Document = AnyDocument>(name: string, repositoryOptions?: RepositoryOptions<T>) => {
        checkCollectionName(name);
        return new MemoryRepository<T>(
          name,
          repositoryOptions,
          { kind: 'transaction', session },
          this.maxDocumentBytes,
        );
      },
      queue: <T = DocumentValue>(name: string): TransactionalQueue<T> => {
        const queue = new MemoryJobQueue<T>(this.queueState(name), session, undefined, this.maxPayloadBytes);
        return {
          name: queue.name,
          enqueue: (payload, options) => queue.enqueue(payload, options),
          enqueueMany: (items, options) => queue.enqueueMany(items, options),
        };
      },
    };
    // Called inside an async function, so that a synchronous throw rolls back like a rejection.
    const running = (async () => work(scope))();
    this.running.add(running);
    let result: R;
    try {
      result = await running;
      throwIfAborted(options?.signal, 'transaction');
    } catch (error) {
      session.rollback();
      throw error;
    } finally {
      this.running.delete(running);
    }
    session.commit();
    return result;
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.close();
  }
}

/** Code-point order; names are ASCII, where it is also UTF-16 order. */
function byCodePoint(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

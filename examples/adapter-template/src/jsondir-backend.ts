import { access } from 'node:fs/promises';
import {
  type AnyDocument,
  type Backend,
  type Capabilities,
  type CollectionInfo,
  ConnectionError,
  type Document,
  type HealthStatus,
  type JobQueue,
  type MigrationReport,
  type Repository,
  type RepositoryOptions,
  type SignalOptions,
  type TransactionOptions,
  type TransactionScope,
  UnsupportedError,
} from '@berth/core';
import {
  checkCollectionName,
  checkMaxBytes,
  checkMigrateOption,
  runTransaction,
  startOperation,
  throwIfAborted,
} from '@berth/core/adapter';
import { JsonDirFiles } from './jsondir-files.js';
import { JsonDirRepository } from './jsondir-repository.js';
import { JsonDirSession } from './jsondir-session.js';

/** What `new JsonDirBackend(config)` takes. */
export interface JsonDirBackendConfig {
  /** The folder that holds the collections; created on `connect()` when missing. */
  readonly directory: string;
  /** Largest document in bytes of JSON text (default and ceiling 16 MiB). */
  readonly maxDocumentBytes?: number | undefined;
  /** Accepted as every backend accepts it (`false`: `connect()` does not migrate); plain files have no schema. */
  readonly migrate?: boolean | undefined;
}

/**
 * A Berth backend over a directory of JSON files, one file per document.
 * Repositories and multi-collection transactions; no job queues.
 */
export class JsonDirBackend implements Backend {
  readonly kind: string = 'jsondir';
  readonly capabilities: Capabilities;
  /** The directory, as an absolute path. */
  readonly directory: string;
  private readonly files: JsonDirFiles;
  private readonly running = new Set<Promise<unknown>>();
  private closing: Promise<void> | undefined;

  constructor(config: JsonDirBackendConfig) {
    checkMigrateOption(config.migrate);
    this.files = new JsonDirFiles(config.directory);
    this.directory = this.files.root;
    this.capabilities = {
      repository: {
        transactions: 'multi-collection',
        // Enforcing one would need an index file kept in step with every write; declaring one is UNSUPPORTED.
        uniqueIndexes: false,
        // Every query reads the whole folder, so `explain` always says `scan`.
        indexedQueries: false,
        durable: true,
        maxDocumentBytes: checkMaxBytes(config.maxDocumentBytes),
      },
      queue: { level: 'none', transactionalEnqueue: false, durable: false, notifications: false },
    };
  }

  private get maxDocumentBytes(): number {
    return checkMaxBytes(this.capabilities.repository.maxDocumentBytes);
  }

  private readonly assertOpen = (): void => {
    if (this.closing !== undefined) throw new ConnectionError('this jsondir backend is closed', { retryable: false });
  };

  async connect(options?: SignalOptions): Promise<void> {
    startOperation(options, 'connect');
    this.assertOpen();
    await this.files.create();
  }

  /** Waits for running transactions (at most 10 s), then refuses every operation. Idempotent. */
  close(): Promise<void> {
    this.closing ??= this.settle();
    return this.closing;
  }

  private async settle(): Promise<void> {
    let timer: ReturnType<typeof setTimeout> | undefined;
    const timeout = new Promise<void>((resolve) => {
      timer = setTimeout(resolve, 10_000);
    });
    await Promise.race([Promise.allSettled([...this.running]), timeout]).finally(() => clearTimeout(timer));
  }

  async health(options?: SignalOptions): Promise<HealthStatus> {
    startOperation(options, 'health');
    if (this.closing !== undefined) return { ok: false, latencyMs: 0, message: 'backend is closed' };
    const started = performance.now();
    try {
      await access(this.directory);
      return { ok: true, latencyMs: performance.now() - started };
    } catch (error) {
      return { ok: false, latencyMs: performance.now() - started, message: String(error) };
    }
  }

  /** Every write is on disk when it resolves: nothing to flush. */
  async flush(options?: SignalOptions): Promise<void> {
    startOperation(options, 'flush');
  }

  /**
   * The folders that hold documents, sorted by name. Indexes change nothing
   * here (every query reads the whole folder), so none is kept or listed;
   * sizes would take a `stat` per document, so `approximateBytes` is `undefined`.
   */
  async collections(options?: SignalOptions): Promise<CollectionInfo[]> {
    startOperation(options, 'collections');
    this.assertOpen();
    const names = await this.files.withLock(() => this.files.collections());
    return names.map((name) => ({ name, indexes: [], approximateBytes: undefined }));
  }

  /** No job queues: none is listed. */
  async queues(options?: SignalOptions): Promise<string[]> {
    startOperation(options, 'queues');
    return [];
  }

  /** Plain files have no schema to migrate. */
  async migrate(options?: SignalOptions): Promise<MigrationReport> {
    startOperation(options, 'migrate');
    return { applied: [] };
  }

  repository<T extends Document = AnyDocument>(name: string, options?: RepositoryOptions<T>): Repository<T> {
    checkCollectionName(name);
    const scope = { kind: 'auto', files: this.files, assertOpen: this.assertOpen } as const;
    return new JsonDirRepository<T>(name, options, scope, this.maxDocumentBytes);
  }

  queue<T>(_name: string): JobQueue<T> {
    throw new UnsupportedError('the jsondir backend has no job queues (capabilities.queue.level is none)');
  }

  transaction<R>(work: (tx: TransactionScope) => Promise<R>, options?: TransactionOptions): Promise<R> {
    return runTransaction(work, options, () => this.transactionOnce(work, options));
  }

  private async transactionOnce<R>(
    work: (tx: TransactionScope) => Promise<R>,
    options?: TransactionOptions,
  ): Promise<R> {
    this.assertOpen();
    const session = new JsonDirSession(this.files, true);
    const scope: TransactionScope = {
      repository: <T extends Document = AnyDocument>(name: string, repositoryOptions?: RepositoryOptions<T>) => {
        checkCollectionName(name);
        const txScope = { kind: 'transaction', session, assertOpen: this.assertOpen } as const;
        return new JsonDirRepository<T>(name, repositoryOptions, txScope, this.maxDocumentBytes);
      },
      queue: () => {
        throw new UnsupportedError('the jsondir backend has no job queues to enqueue into');
      },
    };
    // Inside an async function, so a synchronous throw rolls back like a rejection.
    const running = (async () => {
      try {
        const result = await work(scope);
        throwIfAborted(options?.signal, 'transaction');
        await session.commit();
        return result;
      } finally {
        session.rollback();
      }
    })();
    this.running.add(running);
    try {
      return await running;
    } finally {
      this.running.delete(running);
    }
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.close();
  }
}

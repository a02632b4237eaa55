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
  UnsupportedError,
} from '@berth/core';
import {
  checkCollectionName,
  checkMaxBytes,
  checkMigrateOption,
  migrateUrlParameter,
  runTransaction,
  startOperation,
  Turns,
  takeUrlOption,
  throwIfAborted,
} from '@berth/core/adapter';
import type { Cluster, Redis } from 'ioredis';
import { type EvictionPolicyCheck, RedisQueues } from './queue/redis-queues.js';
import { listCollections } from './redis-collections.js';
import { checkConnectionConfig, RedisConnection, type RedisConnectionConfig } from './redis-connection.js';
import type { RedisContext } from './redis-context.js';
import { RedisIndexRegistry } from './redis-index-registry.js';
import { checkRepositoryPrefix } from './redis-keys.js';
import { RedisRepository } from './redis-repository.js';
import { RedisSession } from './redis-session.js';

/**
 * Configuration of {@link RedisBackend}: a URL or a client of your own, and a key prefix.
 *
 * ### Examples
 * ```ts
 * import { RedisBackend, type RedisBackendConfig } from '@berth/adapter-redis';
 *
 * const config: RedisBackendConfig = {
 *   url: process.env.REDIS_URL ?? 'redis://127.0.0.1:6379',
 *   keyPrefix: 'app:',
 *   commandTimeoutMs: 2_000,
 * };
 * await using backend = new RedisBackend(config);
 * ```
 */
export interface RedisBackendConfig extends RedisConnectionConfig {
  /**
   * Prepended to every key the backend stores (default `berth:`): two
   * backends with different prefixes never see each other's data. No `{` or
   * `}` (the collection name is the key's Redis Cluster hash tag).
   */
  readonly keyPrefix?: string | undefined;
  /** Largest document, as bytes of JSON (default and at most 16 MiB). */
  readonly maxDocumentBytes?: number | undefined;
  /** Largest job payload or result, as bytes of JSON (default and at most 16 MiB). */
  readonly maxPayloadBytes?: number | undefined;
  /**
   * When the server's `maxmemory-policy` is not `noeviction` (it may then
   * drop documents, index entries and jobs without a trace): `refuse`
   * (default) makes `connect()` and the first queue operation fail with
   * UNSUPPORTED; `warn` goes on and reports it through `onWarning`.
   */
  readonly evictionPolicy?: EvictionPolicyCheck | undefined;
  /**
   * Receives warnings (an eviction policy accepted under `evictionPolicy:
   * 'warn'`, a server that refuses `CONFIG GET`). Default: the `logger`'s `warn`.
   */
  readonly onWarning?: ((message: string) => void) | undefined;
  /** Receives warnings without an `onWarning`, queue listener errors and worker errors without an `onError` (default `console`). */
  readonly logger?: BerthLogger | undefined;
  /**
   * Whether `connect()` applies pending schema migrations (default `true`).
   * Redis has no schema to migrate, so both values connect alike; the
   * option is accepted (and checked) so one configuration serves every engine.
   */
  readonly migrate?: boolean | undefined;
}

/**
 * Repositories on Redis (ioredis), on one server or a Redis Cluster. Each
 * document is a hash under `<prefix>{<collection>}:d:<id>`; every key of a
 * collection carries the collection as its hash tag, so each write (the
 * document, its index entries and unique checks) is one Lua script call on
 * one slot. Transactions are optimistic: reads are recorded, writes kept in
 * the process, and the commit is one script that checks what was read and
 * applies everything, or nothing (a retryable CONFLICT). On one server a
 * transaction may span collections; on a Cluster, whose collections lie in
 * different slots, a transaction is limited to one collection
 * (`transactions: 'single-collection'`). Job queues (`queue(name)`) live
 * under the same prefix, each queue in a slot of its own (see
 * {@link RedisQueues}); enqueueing inside a transaction is UNSUPPORTED.
 *
 * ### Examples
 * ```ts
 * import { RedisBackend } from '@berth/adapter-redis';
 *
 * const backend = new RedisBackend({ url: 'redis://127.0.0.1:6379', keyPrefix: 'app:' });
 * await backend.connect();
 * const users = backend.repository<{ id: string; email: string }>('users', {
 *   indexes: [{ field: 'email', type: 'string', unique: true }],
 * });
 * await users.upsert({ id: 'ada', email: 'ada@example.com' });
 * console.log(await users.findOne({ where: { email: 'ada@example.com' } }));
 * await backend.close();
 * ```
 */
export class RedisBackend implements Backend {
  readonly kind = 'redis';
  readonly capabilities: Capabilities;
  readonly keyPrefix: string;
  private readonly connection: RedisConnection;
  private readonly context: RedisContext;
  private readonly registry: RedisIndexRegistry;
  private readonly queueStore: RedisQueues;
  private readonly running = new Set<Promise<unknown>>();
  private closed = false;

  constructor(config: RedisBackendConfig = {}) {
    checkConnectionConfig(config, 'RedisBackend');
    checkMigrateOption(config.migrate);
    this.keyPrefix = checkRepositoryPrefix(config.keyPrefix);
    const maxDocumentBytes = checkMaxBytes(config.maxDocumentBytes);
    this.connection = new RedisConnection(config);
    const connection = this.connection;
    const isCluster = connection.client.isCluster;
    this.context = {
      client: connection.client,
      keyPrefix: this.keyPrefix,
      isCluster,
      maxDocumentBytes,
      duplicate: () => connection.client.duplicate(),
      run: (commands) => {
        if (this.closed) {
          return Promise.reject(new ConnectionError('this Redis backend is closed', { retryable: false }));
        }
        return connection.run(() => commands(connection.client));
      },
    };
    this.registry = new RedisIndexRegistry(this.context);
    // Queue keys are `<prefix>{q:<name>}:…`; a collection's are `<prefix>{<name>}:…`,
    // and collection names hold no `:`, so the two never meet.
    this.queueStore = new RedisQueues({
      client: connection.client,
      keyPrefix: this.keyPrefix,
      evictionPolicy: config.evictionPolicy,
      onWarning: config.onWarning,
      logger: config.logger,
      maxPayloadBytes: config.maxPayloadBytes,
    });
    this.capabilities = {
      repository: {
        // A Cluster puts each collection in a slot of its own, and one script reaches one slot.
        transactions: isCluster ? 'single-collection' : 'multi-collection',
        uniqueIndexes: true,
        durable: true,
        concurrentBackends: true,
        maxDocumentBytes,
      },
      queue: this.queueStore.capabilities,
    };
  }

  /**
   * The collections under this backend's prefix, from any process (each
   * collection's meta hash, made by its first write or index declaration),
   * code-point sorted, with their declared indexes and a size sampled with
   * MEMORY USAGE (`undefined` where the server refuses MEMORY).
   */
  async collections(options?: SignalOptions): Promise<CollectionInfo[]> {
    startOperation(options, 'collections');
    return this.context.run((client) => listCollections(client, this.keyPrefix, options?.signal));
  }

  /** The queues under this backend's prefix that hold jobs or schedules, from any process, code-point sorted. */
  async queues(options?: SignalOptions): Promise<string[]> {
    startOperation(options, 'queues');
    if (this.closed) throw new ConnectionError('this Redis backend is closed', { retryable: false });
    return this.queueStore.names(options?.signal);
  }

  /**
   * Resolves to no migrations: Redis keeps no schema to migrate (keys are
   * made by the writes that need them, and index declarations are recorded
   * in each collection's meta hash as repositories declare them).
   */
  async migrate(options?: SignalOptions): Promise<MigrationReport> {
    startOperation(options, 'migrate');
    return { applied: [] };
  }

  /** The ioredis client, for what the ports do not cover. */
  native(): Redis | Cluster {
    return this.connection.client;
  }

  /** Checks that the server answers (PING) and that it keeps what it is given (`maxmemory-policy`, see `evictionPolicy`). */
  async connect(options?: SignalOptions): Promise<void> {
    startOperation(options, 'connect');
    await this.context.run((client) => client.ping());
    await this.queueStore.connect();
  }

  /** Waits for running transactions, then disconnects the client it made (a given client stays open). Idempotent. */
  async close(): Promise<void> {
    if (this.closed) return;
    await Promise.allSettled([...this.running]);
    if (this.closed) return;
    this.closed = true;
    await this.queueStore.close();
    await this.connection.close();
  }

  /** Resolves at once: every write is acknowledged by the server before its operation resolves. */
  async flush(options?: SignalOptions): Promise<void> {
    startOperation(options, 'flush');
  }

  /** PING with its latency. */
  async health(options?: SignalOptions): Promise<HealthStatus> {
    startOperation(options, 'health');
    if (this.closed) return { ok: false, latencyMs: 0, message: 'backend is closed' };
    const started = performance.now();
    try {
      await this.context.run((client) => client.ping());
      return { ok: true, latencyMs: performance.now() - started };
    } catch (error) {
      return { ok: false, latencyMs: performance.now() - started, message: (error as Error).message };
    }
  }

  repository<T extends Document = AnyDocument>(name: string, options?: RepositoryOptions<T>): Repository<T> {
    checkCollectionName(name);
    return new RedisRepository<T>(
      name,
      options,
      { kind: 'auto', context: this.context, registry: this.registry },
      this.context.maxDocumentBytes,
    );
  }

  /** The job queue `name` under this backend's prefix (see {@link RedisQueues}). */
  queue<T = DocumentValue>(name: string, options?: QueueOptions): JobQueue<T> {
    return this.queueStore.queue<T>(name, options);
  }

  transaction<R>(work: (tx: TransactionScope) => Promise<R>, options?: TransactionOptions): Promise<R> {
    return runTransaction(work, options, () => {
      const attempt = this.attempt(work, options);
      this.running.add(attempt);
      const forget = () => this.running.delete(attempt);
      attempt.then(forget, forget);
      return attempt;
    });
  }

  private async attempt<R>(
    work: (tx: TransactionScope) => Promise<R>,
    options: TransactionOptions | undefined,
  ): Promise<R> {
    if (this.closed) throw new ConnectionError('this Redis backend is closed', { retryable: false });
    const session = new RedisSession(this.context, this.registry, true);
    const operations = new Turns();
    const collections = new Set<string>();
    const scope: TransactionScope = {
      repository: <T extends Document = AnyDocument>(name: string, repositoryOptions?: RepositoryOptions<T>) => {
        checkCollectionName(name);
        session.assertOpen();
        // Made first, so bad options are VALIDATION whatever the collection.
        const repository = new RedisRepository<T>(
          name,
          repositoryOptions,
          { kind: 'transaction', session, exclusive: (operation) => operations.run(operation) },
          this.context.maxDocumentBytes,
        );
        if (this.context.isCluster && collections.size > 0 && !collections.has(name)) {
          throw new UnsupportedError(
            `a transaction on a Redis Cluster covers one collection (each collection is a slot of its own); this one already uses ${[...collections][0]}, not ${name}`,
          );
        }
        collections.add(name);
        return repository;
      },
      queue: <T = DocumentValue>(name: string): TransactionalQueue<T> => {
        checkCollectionName(name, 'queue');
        throw new UnsupportedError(
          'a Redis transaction cannot enqueue (capabilities.queue.transactionalEnqueue is false): enqueue after it commits, with a dedupeKey if the work may run twice',
        );
      },
    };
    try {
      const result = await work(scope);
      throwIfAborted(options?.signal, 'transaction');
      // Operations the work started without awaiting them finish first.
      await operations.run(async () => undefined);
      await session.commit();
      return result;
    } finally {
      session.rollback();
    }
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.close();
  }
}

/**
 * Lets `createBackend('redis://host:6379/0?keyPrefix=app:')` find this
 * adapter: the URL goes to ioredis as it is, except `keyPrefix` and
 * `migrate` (`true` or `false`, see {@link RedisBackendConfig.migrate}), which Berth reads.
 *
 * ### Examples
 * ```ts
 * import { createBackendFromUrl } from '@berth/adapter-redis';
 *
 * const backend = createBackendFromUrl('redis://127.0.0.1:6379/0?keyPrefix=app:');
 * await backend.connect();
 * await backend.close();
 * ```
 */
export function createBackendFromUrl(url: string): Backend {
  const { url: withoutPrefix, value: keyPrefix } = takeUrlOption(url, 'keyPrefix', 'Redis');
  const migrate = migrateUrlParameter(new URL(withoutPrefix).searchParams);
  const { url: driverUrl } = takeUrlOption(withoutPrefix, 'migrate', 'Redis');
  return new RedisBackend({ url: driverUrl, keyPrefix, migrate });
}

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
  type TransactionOptions,
  type TransactionScope,
  ValidationError,
} from '@berth/core';
import {
  checkCollectionName,
  checkMaxBytes,
  checkMigrateOption,
  migrateUrlParameter,
  startOperation,
  takeUrlOption,
  throwIfAborted,
} from '@berth/core/adapter';
import pg from 'pg';
import type { PgBackendContext } from './pg-context.js';
import { applyMigrations, checkMigrations, migrationLabel, type PgMigration } from './pg-migrations.js';
import { checkSchemaName, quoteIdent } from './pg-names.js';
import { PgRepositories, REPOSITORY_CAPABILITIES } from './pg-repositories.js';
import { REPOSITORY_MIGRATIONS } from './pg-repository-migrations.js';
import { PgSession } from './pg-session.js';
import { QUEUE_MIGRATIONS } from './queue/pg-queue-migrations.js';
import { PgQueues, QUEUE_CAPABILITIES } from './queue/pg-queues.js';

/**
 * Options of {@link PostgresBackend}.
 *
 * ### Examples
 * ```ts
 * import { PostgresBackend, type PostgresBackendConfig } from '@berth/adapter-postgres';
 *
 * const config: PostgresBackendConfig = {
 *   connectionString: process.env.DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/test',
 *   schema: 'app',
 *   maxConnections: 20,
 *   statementTimeoutMs: 5_000,
 * };
 * await using backend = new PostgresBackend(config);
 * ```
 */
export interface PostgresBackendConfig {
  /** `postgres://user:password@host:5432/database`; or give `pool`. */
  readonly connectionString?: string | undefined;
  /** A pg Pool of the application's to use instead (Berth will not end it). */
  readonly pool?: pg.Pool | undefined;
  /** The schema Berth's tables live in, created when missing (default `berth`). */
  readonly schema?: string | undefined;
  /** Most connections of the pool Berth creates (default 10). */
  readonly maxConnections?: number | undefined;
  /** Server-side limit per statement, in ms (default none); exceeded: a retryable TIMEOUT. */
  readonly statementTimeoutMs?: number | undefined;
  /** How long to wait for a connection from the server or the pool, in ms (default 10 000). */
  readonly connectionTimeoutMs?: number | undefined;
  /** Largest document, job payload or job result, as bytes of JSON (default and at most 16 MiB). */
  readonly maxDocumentBytes?: number | undefined;
  /**
   * Whether `connect()` (and the first operation) applies pending schema
   * migrations (default `true`). With `false` it only checks, and fails with
   * code `SCHEMA` while migrations are pending (run `berth migrate <url>` or
   * `backend.migrate()`); for deployments that migrate in a step of their own.
   */
  readonly migrate?: boolean | undefined;
  /** Hears about queue event listeners that throw and worker errors without an `onError` (default `console`). */
  readonly logger?: BerthLogger | undefined;
}

const DEFAULT_SCHEMA = 'berth';

/** Every schema step of the backend: the repository's, then the queue's. */
const BERTH_MIGRATIONS: readonly PgMigration[] = [...REPOSITORY_MIGRATIONS, ...QUEUE_MIGRATIONS];

function checkPositive(value: unknown, name: string): number | undefined {
  if (value === undefined) return undefined;
  if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < 1) {
    throw new ValidationError(`${name} must be a positive integer, got ${String(value)}`, name);
  }
  return value;
}

/**
 * Repositories and job queues in PostgreSQL: one JSONB table per collection
 * and the job tables, all in one schema, shared safely by many processes.
 *
 * ### Examples
 * ```ts
 * import { PostgresBackend } from '@berth/adapter-postgres';
 *
 * const backend = new PostgresBackend({ connectionString: 'postgres://postgres@127.0.0.1:5432/test' });
 * await backend.connect();
 * await backend.close();
 * ```
 */
export class PostgresBackend implements Backend {
  readonly kind = 'postgres';
  readonly capabilities: Capabilities;
  private readonly session: PgSession;
  private readonly context: PgBackendContext;
  private readonly repositories: PgRepositories;
  private readonly queueStore: PgQueues;
  private readonly migrateOnConnect: boolean;
  private migrated: Promise<void> | undefined;
  private closed = false;

  constructor(config: PostgresBackendConfig = {}) {
    const schema = checkSchemaName(config.schema ?? DEFAULT_SCHEMA);
    const maxDocumentBytes = checkMaxBytes(config.maxDocumentBytes);
    const maxConnections = checkPositive(config.maxConnections, 'maxConnections') ?? 10;
    const statementTimeoutMs = checkPositive(config.statementTimeoutMs, 'statementTimeoutMs');
    const connectionTimeoutMs = checkPositive(config.connectionTimeoutMs, 'connectionTimeoutMs') ?? 10_000;
    if (config.pool === undefined && typeof config.connectionString !== 'string') {
      throw new ValidationError('PostgresBackend needs a connectionString or a pool', 'connectionString');
    }
    const pool =
      config.pool ??
      new pg.Pool({
        connectionString: config.connectionString,
        max: maxConnections,
        connectionTimeoutMillis: connectionTimeoutMs,
        ...(statementTimeoutMs === undefined ? {} : { statement_timeout: statementTimeoutMs }),
      });
    this.session = new PgSession(pool, config.pool === undefined);
    this.capabilities = {
      repository: { ...REPOSITORY_CAPABILITIES, maxDocumentBytes },
      queue: { ...QUEUE_CAPABILITIES, maxPayloadBytes: maxDocumentBytes },
    };
    this.context = {
      session: this.session,
      schema,
      quotedSchema: quoteIdent(schema),
      maxDocumentBytes,
      logger: config.logger,
      ready: () => this.ready(),
    };
    this.repositories = new PgRepositories(this.context);
    this.queueStore = new PgQueues(this.context);
    this.migrateOnConnect = checkMigrateOption(config.migrate);
  }

  /** The pg Pool, for what the ports do not cover. */
  native(): pg.Pool {
    return this.session.pool;
  }

  private ready(): Promise<void> {
    if (this.closed)
      return Promise.reject(new ConnectionError('this PostgreSQL backend is closed', { retryable: false }));
    this.migrated ??= this.startUp().then(
      () => undefined,
      (error: unknown) => {
        // A failed start (the server was down, migrations pending) is tried again by the next operation.
        this.migrated = undefined;
        throw error;
      },
    );
    return this.migrated;
  }

  /** Migrates the schema, or (with `migrate: false`) checks that nothing is pending. */
  private async startUp(): Promise<void> {
    if (this.migrateOnConnect) await applyMigrations(this.session, this.context.schema, BERTH_MIGRATIONS);
    else await checkMigrations(this.session, this.context.schema, BERTH_MIGRATIONS);
  }

  async migrate(options?: SignalOptions): Promise<MigrationReport> {
    startOperation(options, 'migrate');
    if (this.closed) throw new ConnectionError('this PostgreSQL backend is closed', { retryable: false });
    const applied = await applyMigrations(this.session, this.context.schema, BERTH_MIGRATIONS);
    // The schema is current now: operations waiting on a failed check start again.
    this.migrated = undefined;
    return { applied: applied.map(migrationLabel) };
  }

  async collections(options?: SignalOptions): Promise<CollectionInfo[]> {
    startOperation(options, 'collections');
    await this.ready();
    throwIfAborted(options?.signal, 'collections');
    return this.repositories.list();
  }

  async queues(options?: SignalOptions): Promise<string[]> {
    startOperation(options, 'queues');
    await this.ready();
    throwIfAborted(options?.signal, 'queues');
    return this.queueStore.names();
  }

  async connect(options?: SignalOptions): Promise<void> {
    startOperation(options, 'connect');
    await this.ready();
  }

  async close(): Promise<void> {
    if (this.closed) return;
    await this.queueStore.flush().catch(() => undefined);
    this.closed = true;
    await this.queueStore.close();
    await this.session.close();
  }

  async flush(options?: SignalOptions): Promise<void> {
    startOperation(options, 'flush');
    if (this.closed) return;
    await this.queueStore.flush();
  }

  async health(options?: SignalOptions): Promise<HealthStatus> {
    startOperation(options, 'health');
    if (this.closed) return { ok: false, latencyMs: 0, message: 'backend is closed' };
    const started = performance.now();
    try {
      await this.ready();
      const [row] = await this.session.query<{ recovery: boolean }>('SELECT pg_is_in_recovery() AS recovery');
      const latencyMs = performance.now() - started;
      // A standby answers reads but refuses every write.
      if (row?.recovery === true) return { ok: false, latencyMs, message: 'the server is a read-only standby' };
      return { ok: true, latencyMs };
    } catch (error) {
      return { ok: false, latencyMs: performance.now() - started, message: (error as Error).message };
    }
  }

  repository<T extends Document = AnyDocument>(name: string, options?: RepositoryOptions<T>): Repository<T> {
    checkCollectionName(name);
    return this.repositories.repository<T>(name, options);
  }

  queue<T = DocumentValue>(name: string, options?: QueueOptions): JobQueue<T> {
    checkCollectionName(name, 'queue');
    return this.queueStore.queue<T>(name, options);
  }

  transaction<R>(work: (tx: TransactionScope) => Promise<R>, options?: TransactionOptions): Promise<R> {
    return this.repositories.transaction(work, this.queueStore, options);
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.close();
  }
}

/**
 * Lets `createBackend('postgres://user@host/db?schema=app')` find this
 * adapter: the URL goes to pg as it is, except `schema` and `migrate`
 * (`true` or `false`, see {@link PostgresBackendConfig.migrate}), which Berth reads.
 *
 * ### Examples
 * ```ts
 * import { createBackendFromUrl } from '@berth/adapter-postgres';
 *
 * const backend = createBackendFromUrl('postgres://postgres@127.0.0.1:5432/test?schema=app');
 * await backend.connect();
 * await backend.close();
 * ```
 */
export function createBackendFromUrl(url: string): Backend {
  const withoutSchema = takeUrlOption(url, 'schema', 'PostgreSQL');
  const { url: connectionString, value: migrate } = takeUrlOption(withoutSchema.url, 'migrate', 'PostgreSQL');
  const parameters = new URLSearchParams(migrate === undefined ? '' : { migrate });
  const checked = migrateUrlParameter(parameters);
  return new PostgresBackend({ connectionString, schema: withoutSchema.value, migrate: checked });
}

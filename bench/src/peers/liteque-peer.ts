/**
 * liteque as the side-by-side benchmark drives it: `buildDBClient` with its
 * defaults (WAL, synchronous = NORMAL, 64 MiB cache, temp_store = MEMORY)
 * and migrations, a `SqliteQueue` and a `Runner` with the concurrency asked.
 *
 * liteque 0.8.0 dequeues inside `db.transaction(async (txn) => …)`.
 * better-sqlite3 11.10 and later refuse a transaction function that returns a
 * promise (karakeep-app/karakeep#1594), so on the workspace's better-sqlite3
 * 12 liteque cannot dequeue at all. Its own app pins better-sqlite3 11.3, where
 * the transaction commits as soon as the function returns its promise, and
 * the select and update then run as autocommit statements (the update guarded
 * by the job's allocation id). This connection, and only it, gets back that
 * behaviour: `allowPromiseReturningTransactions` below.
 */
import Database from 'better-sqlite3';
import { buildDBClient, Runner, SqliteQueue } from 'liteque';
import { durabilityOf, type PeerLibrary, type PeerQueue, type PeerWorker, type Task } from './peer-queue.js';

type LitequeDb = ReturnType<typeof buildDBClient>;

/**
 * The better-sqlite3 connection under liteque's drizzle client. liteque does
 * not expose it; drizzle 0.33 keeps it as `session.client`.
 */
function connectionOf(db: LitequeDb): Database.Database {
  const client = (db as unknown as { readonly session?: { readonly client?: unknown } }).session?.client;
  // Also checks that liteque uses the workspace's copy of better-sqlite3 (12), not one of its own.
  if (!(client instanceof Database)) throw new Error("liteque's connection is not the workspace's better-sqlite3");
  return client;
}

type TransactionFunction = (...parameters: unknown[]) => unknown;

/**
 * `db.transaction(fn)` as better-sqlite3 before 11.10 ran it: BEGIN, the
 * function's synchronous part, COMMIT, and the function's result (a promise)
 * handed back.
 */
function allowPromiseReturningTransactions(db: Database.Database): void {
  const transaction = db.transaction.bind(db);
  const replacement = (fn: TransactionFunction) => {
    let result: unknown;
    const native = transaction((...parameters: unknown[]) => {
      result = fn(...parameters);
    });
    const returning =
      (run: (...parameters: unknown[]) => void) =>
      (...parameters: unknown[]): unknown => {
        run(...parameters);
        return result;
      };
    return Object.assign(returning(native), {
      default: returning(native.default),
      deferred: returning(native.deferred),
      immediate: returning(native.immediate),
      exclusive: returning(native.exclusive),
    });
  };
  db.transaction = replacement as unknown as Database.Database['transaction'];
}

class LitequePeerQueue implements PeerQueue {
  private readonly queue: SqliteQueue<Task>;

  constructor(
    db: LitequeDb,
    private readonly connection: Database.Database,
    private readonly pollMs: number,
    private readonly timeoutSecs: number,
  ) {
    this.queue = new SqliteQueue<Task>('bench', db, { defaultJobArgs: { numRetries: 0 }, keepFailedJobs: false });
  }

  enqueue(payload: Task): Promise<unknown> {
    return this.queue.enqueue(payload);
  }

  /** liteque has no batch API: one `enqueue` after the other. */
  async enqueueBatch(payloads: readonly Task[]): Promise<void> {
    for (const payload of payloads) await this.queue.enqueue(payload);
  }

  /** The same calls in one transaction on its connection (not an API liteque documents), to fill quickly. */
  async fill(payloads: readonly Task[]): Promise<void> {
    this.connection.exec('BEGIN IMMEDIATE');
    try {
      await this.enqueueBatch(payloads);
      this.connection.exec('COMMIT');
    } catch (error) {
      if (this.connection.inTransaction) this.connection.exec('ROLLBACK');
      throw error;
    }
  }

  /** `enqueueBatch` in one transaction: what a user could do, though liteque does not document it. */
  enqueueBatchInTransaction(payloads: readonly Task[]): Promise<void> {
    return this.fill(payloads);
  }

  work(concurrency: number, onStart: () => void): PeerWorker {
    const runner = new Runner<Task>(
      this.queue,
      {
        run: async () => {
          onStart();
        },
      },
      { concurrency, pollIntervalMs: this.pollMs, timeoutSecs: this.timeoutSecs },
    );
    const running = runner.run();
    return {
      stop: async () => {
        runner.stop();
        await running;
      },
    };
  }

  async remaining(): Promise<number> {
    const stats = await this.queue.stats();
    return stats.pending + stats.pending_retry + stats.running;
  }

  durability(): string {
    return durabilityOf(this.connection);
  }

  async close(): Promise<void> {
    this.connection.close();
  }
}

export interface LitequePeer extends PeerLibrary {
  open(file: string): Promise<LitequePeerQueue>;
}

/** liteque polling every `pollMs` when idle; `timeoutSecs` is its per-job timeout (it arms a timer per job). */
export function litequePeer(pollMs: number, timeoutSecs: number): LitequePeer {
  return {
    name: 'liteque',
    config: `buildDBClient defaults, numRetries 0; Runner pollIntervalMs ${pollMs}, timeoutSecs ${timeoutSecs}; better-sqlite3 <11.10 transaction behaviour restored on its connection`,
    batch: 'no batch API: one enqueue() after the other',
    async open(file) {
      const db = buildDBClient(file, { runMigrations: true });
      const connection = connectionOf(db);
      allowPromiseReturningTransactions(connection);
      return new LitequePeerQueue(db, connection, pollMs, timeoutSecs);
    },
  };
}

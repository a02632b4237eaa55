import {
  type BerthLogger,
  consoleLogger,
  generateId,
  isBerthError,
  type JobEventType,
  type JobState,
  TransactionError,
} from '@berth/core';
import { JobEventHub } from '@berth/core/adapter';
import Database from 'better-sqlite3';
import { SqliteConnection, type SqliteDatabase } from './sqlite-connection.js';
import { toBerthError } from './sqlite-errors.js';
import { keepDatabase, keepsStatements, pragma, prepareKept } from './sqlite-node24-workaround.js';
import { SqliteEventFeed } from './sqlite-queue-event-feed.js';
import { eventText, LISTENER_SQL, LISTENER_STALE_MS, writeEvents } from './sqlite-queue-event-log.js';
import { SqliteQueueNotifier } from './sqlite-queue-notifier.js';
import { QUEUE_SQL } from './sqlite-queue-rows.js';

/** A lease operation (complete, fail, extendLease, release) waiting for the next write transaction. */
interface QueuedOperation {
  readonly apply: (connection: SqliteConnection, now: number) => unknown;
  readonly resolve: (value: unknown) => void;
  readonly reject: (error: unknown) => void;
}

type Outcome = { readonly ok: true; readonly value: unknown } | { readonly ok: false; readonly error: unknown };

/** Counts changed by one statement at most (a transaction changes a few: 5 states per queue). */
const COUNTS_PER_STATEMENT = 10;

const addCountsSql: string[] = [];

/** `_berth_job_counts` += count for `rows` (queue, state) pairs, in one statement. */
function addCounts(rows: number): string {
  let sql = addCountsSql[rows];
  if (sql === undefined) {
    sql = `INSERT INTO _berth_job_counts (queue, state, count) VALUES ${Array.from({ length: rows }, () => '(?, ?, ?)').join(', ')}
      ON CONFLICT (queue, state) DO UPDATE SET count = count + excluded.count`;
    addCountsSql[rows] = sql;
  }
  return sql;
}

/** Adds the counts a transaction changed (`queue, state, count` triples), one statement for all of them. */
function writeCounts(connection: SqliteConnection, counts: ReadonlyMap<string, ReadonlyMap<JobState, number>>): void {
  let values: unknown[] = [];
  for (const [queue, states] of counts) {
    for (const [state, count] of states) {
      if (count === 0) continue;
      values.push(queue, state, count);
      if (values.length === COUNTS_PER_STATEMENT * 3) {
        connection.run(addCounts(COUNTS_PER_STATEMENT), values);
        values = [];
      }
    }
  }
  if (values.length > 0) connection.run(addCounts(values.length / 3), values);
}

const nextTurn = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

/** The absolute path SQLite resolved for the main database, whatever the working directory is now. */
function mainFile(db: SqliteDatabase): string {
  const files = pragma(db, 'database_list') as { readonly name: string; readonly file: string }[];
  return files.find((entry) => entry.name === 'main')?.file ?? '';
}

/** A second connection to the file of `main`, with its busy timeout; `undefined` for `:memory:` or when it cannot open. */
function openSibling(main: SqliteDatabase, queryOnly: boolean): SqliteConnection | undefined {
  const file = main.memory ? '' : mainFile(main);
  if (file === '') return undefined;
  try {
    const [setting] = pragma(main, 'busy_timeout') as { readonly timeout: number }[];
    const timeout = setting?.timeout ?? 5_000;
    const db = new Database(file, { fileMustExist: true, timeout });
    keepDatabase(db);
    if (queryOnly) pragma(db, 'query_only = ON');
    return new SqliteConnection(db, timeout);
  } catch {
    return undefined;
  }
}

/** What the open write transaction publishes (see `SqliteQueueHub.publish`). */
interface Publication {
  readonly connection: SqliteConnection;
  /** Whether another backend listens; looked up at the first event. */
  listened: boolean | undefined;
  /** Per queue, the stored JSON of its events. */
  readonly events: Map<string, string[]>;
}

/** Statements in raw mode (rows as arrays), per database. */
const rawStatements = new WeakMap<SqliteDatabase, Map<string, Database.Statement<unknown[]>>>();

/** Runs a statement in raw mode: rows come back as arrays of values, in column order. */
export function allRaw(connection: SqliteConnection, sql: string, parameters: readonly unknown[]): unknown[][] {
  const db = connection.db;
  let statements = rawStatements.get(db);
  if (statements === undefined) {
    statements = new Map();
    rawStatements.set(db, statements);
  }
  try {
    let statement = statements.get(sql);
    if (statement === undefined) {
      statement = (prepareKept(db, sql) as Database.Statement<unknown[]>).raw();
      // One claim statement per count: keep the cache bounded however callers vary it.
      if (statements.size >= 100 && !keepsStatements) statements.clear();
      statements.set(sql, statement);
    }
    return statement.all(...parameters) as unknown[][];
  } catch (error) {
    throw toBerthError(error);
  }
}

/**
 * What the job queues of one backend share: the in-process notifiers, the
 * event hubs and the feed of other backends' events, and the lease
 * operations waiting to be written.
 *
 * Lease operations are written in batches: those issued in the same turn of
 * the event loop (a worker completing the jobs it ran) share one
 * transaction, and a dequeue writes the ones still waiting in its own
 * transaction before it claims, so acknowledging finished jobs and claiming
 * the next ones commit together. Each operation still gets its own answer:
 * one stale lease fails only its own call.
 */
export class SqliteQueueHub {
  private readonly notifiers = new Map<string, SqliteQueueNotifier>();
  private readonly eventHubs = new Map<string, JobEventHub>();
  private queued: QueuedOperation[] = [];
  private flushScheduled = false;
  /** A second, query-only connection to the same file; `null` when there is none (`:memory:`). */
  private readConnection: SqliteConnection | null | undefined;
  /** Per queue and state, the jobs the open write transaction moved in (or out, negative); `undefined` outside one. */
  private counts: Map<string, Map<JobState, number>> | undefined;
  /** The events of the open write transaction; `undefined` outside one. */
  private publication: Publication | undefined;
  /** This backend's tag on the event rows it writes, so its feed skips them. */
  private readonly origin = generateId();
  /** Event rows this backend wrote (the log is pruned every so many). */
  private eventRows = 0;
  private readonly feed: SqliteEventFeed;

  constructor(
    private readonly open: () => SqliteConnection,
    /** The backend's logger, for event listeners and workers (absent: `console`). */
    readonly logger?: BerthLogger | undefined,
  ) {
    this.feed = new SqliteEventFeed(
      this.origin,
      () => openSibling(this.open().db, false),
      (queue) => this.events(queue),
      logger ?? consoleLogger,
    );
  }

  /** The connection (throws once the backend is closed). */
  get connection(): SqliteConnection {
    return this.open();
  }

  /** The events of `queue` in this backend: one hub per name, shared by every queue object. */
  events(queue: string): JobEventHub {
    let hub = this.eventHubs.get(queue);
    if (hub === undefined) {
      hub = new JobEventHub(queue, this.logger, {
        start: () => this.feed.subscribed(queue),
        stop: () => this.feed.unsubscribed(queue),
      });
      this.eventHubs.set(queue, hub);
    }
    return hub;
  }

  notifier(queue: string): SqliteQueueNotifier {
    let notifier = this.notifiers.get(queue);
    if (notifier === undefined) {
      notifier = new SqliteQueueNotifier((now, withDelayed) => {
        const connection = this.open();
        const lease = connection.get<{ at: number | null }>(QUEUE_SQL.nextLeaseExpiry, [queue, now])?.at ?? null;
        const delayed = withDelayed
          ? (connection.get<{ at: number | null }>(QUEUE_SQL.nextDue, [queue, now])?.at ?? null)
          : null;
        const next = Math.min(lease ?? Number.POSITIVE_INFINITY, delayed ?? Number.POSITIVE_INFINITY);
        return Number.isFinite(next) ? next : undefined;
      });
      this.notifiers.set(queue, notifier);
    }
    return notifier;
  }

  /**
   * The read connection: it sees what is committed, so a read need not
   * wait for a transaction that holds the main connection (WAL readers never
   * wait for the writer).
   */
  private reader(): SqliteConnection | undefined {
    // Without a second connection, reads wait for the transaction instead.
    if (this.readConnection === undefined) this.readConnection = openSibling(this.open().db, true) ?? null;
    return this.readConnection ?? undefined;
  }

  /**
   * Runs `work` synchronously in its own turn on the connection, after the
   * transactions and operations queued before it, so a transaction never
   * takes the work in (and rolls it back with its own).
   *
   * While such a transaction is open, `whileHeld` may answer from what is
   * committed instead (through the read connection), as if the call had run
   * just before the transaction; it returns `undefined` when it cannot.
   */
  async exclusive<R>(
    work: (connection: SqliteConnection) => R,
    whileHeld?: (reader: SqliteConnection) => { readonly value: R } | undefined,
  ): Promise<R> {
    if (whileHeld !== undefined) {
      const connection = this.open();
      if (connection.db.inTransaction && !connection.inTransaction()) {
        const reader = this.reader();
        const answer = reader === undefined ? undefined : whileHeld(reader);
        if (answer !== undefined) return answer.value;
      }
    }
    for (let turn = 0; ; turn++) {
      const connection = this.open();
      // A transaction opened on the database outside Berth has no turn to wait for.
      if (turn > 0) await nextTurn();
      const done = await connection.exclusive(() =>
        connection.db.inTransaction ? undefined : { value: work(connection) },
      );
      if (done !== undefined) return done.value;
    }
  }

  /**
   * Runs `work` in an IMMEDIATE transaction (a savepoint inside one) and,
   * before it commits, adds the jobs it moved between states (see `moved`) to
   * `_berth_job_counts`: one statement for the queues and states changed, not
   * one per job, in the same transaction as the rows, so the counts stay exact
   * whatever the number of processes, and roll back with the rows. The
   * events it published (see `publish`) are written the same way, for the
   * backends of other processes.
   */
  immediate<R>(connection: SqliteConnection, work: () => R): R {
    const outer = this.counts;
    const outerPublication = this.publication;
    const counts = new Map<string, Map<JobState, number>>();
    const publication: Publication = { connection, listened: undefined, events: new Map() };
    this.counts = counts;
    this.publication = publication;
    try {
      return connection.immediate(() => {
        const result = work();
        writeCounts(connection, counts);
        if (publication.events.size > 0) {
          this.eventRows += writeEvents(connection, this.origin, publication.events, this.eventRows);
        }
        return result;
      });
    } finally {
      this.counts = outer;
      this.publication = outerPublication;
    }
  }

  /** Whether a live backend other than this one listens to the file's events (asked inside the write transaction). */
  private listened(connection: SqliteConnection): boolean {
    // A file only this connection can see (`:memory:`) has no one to tell.
    if (connection.db.memory) return false;
    return connection.get(LISTENER_SQL.anyOther, [Date.now() - LISTENER_STALE_MS, this.origin]) !== undefined;
  }

  /**
   * An event of `queue` (the parts of its stored JSON, see `eventText`) to
   * write with the open write transaction, for the subscribers of other
   * backends: written while another backend listens (its row in
   * `_berth_event_listeners`), skipped, without building it, when none does.
   */
  publish(queue: string, type: JobEventType, jobId: string, at: number, ...rest: (number | string)[]): void {
    const publication = this.publication;
    if (publication === undefined) throw new Error('job event published outside SqliteQueueHub.immediate');
    publication.listened ??= this.listened(publication.connection);
    if (!publication.listened) return;
    const text = eventText(type, jobId, at, ...rest);
    const events = publication.events.get(queue);
    if (events === undefined) publication.events.set(queue, [text]);
    else events.push(text);
  }

  /** `count` jobs of `queue` went from state `from` to `to` (`undefined`: inserted, or deleted) in this transaction. */
  moved(queue: string, from: JobState | undefined, to: JobState | undefined, count = 1): void {
    const counts = this.counts;
    if (counts === undefined) throw new Error('job state changed outside SqliteQueueHub.immediate');
    if (count === 0 || from === to) return;
    let states = counts.get(queue);
    if (states === undefined) {
      states = new Map();
      counts.set(queue, states);
    }
    if (from !== undefined) states.set(from, (states.get(from) ?? 0) - count);
    if (to !== undefined) states.set(to, (states.get(to) ?? 0) + count);
  }

  /**
   * Queues a lease operation; it is written with the others of this turn,
   * and its promise settles once that transaction committed.
   */
  submit<R>(apply: (connection: SqliteConnection, now: number) => R): Promise<R> {
    const connection = this.open();
    if (connection.inTransaction()) {
      throw new TransactionError(
        'lease operations (complete, fail, extendLease, release) cannot run inside a transaction; call them outside transaction()',
      );
    }
    return new Promise<R>((resolve, reject) => {
      this.queued.push({ apply, resolve: resolve as (value: unknown) => void, reject });
      if (!this.flushScheduled) {
        this.flushScheduled = true;
        setImmediate(() => void this.flushSoon());
      }
    });
  }

  /**
   * One IMMEDIATE transaction: the queued lease operations first, then
   * `work`. An engine error rolls back both and fails every queued
   * operation with it; a conflict fails only its own operation.
   */
  write<R>(connection: SqliteConnection, work: (now: number) => R): R {
    const operations = this.take();
    let outcomes: Outcome[] = [];
    let result: R;
    try {
      result = this.immediate(connection, () => {
        const now = Date.now();
        outcomes = applyAll(connection, operations, now);
        return work(now);
      });
    } catch (error) {
      for (const operation of operations) operation.reject(error);
      throw error;
    }
    settle(operations, outcomes);
    return result;
  }

  /** Writes the queued lease operations in a transaction of their own (before a read, or a write that may throw). */
  flush(connection: SqliteConnection): void {
    if (this.queued.length === 0) return;
    try {
      this.write(connection, () => undefined);
    } catch {
      // Each queued operation has been failed with the error; the caller goes on with its own work.
    }
  }

  /** Writes whatever is queued, now (the backend is closing). */
  async drain(): Promise<void> {
    if (this.queued.length > 0) await this.exclusive((connection) => this.flush(connection));
  }

  /** Whether lease operations wait to be written. */
  get hasQueued(): boolean {
    return this.queued.length > 0;
  }

  close(): void {
    this.feed.close();
    this.readConnection?.close();
    this.readConnection = undefined;
    for (const notifier of this.notifiers.values()) notifier.close();
    this.notifiers.clear();
    for (const operation of this.take()) {
      operation.reject(new TransactionError('the SQLite backend closed before the operation was written'));
    }
  }

  private take(): QueuedOperation[] {
    const operations = this.queued;
    this.queued = [];
    return operations;
  }

  private async flushSoon(): Promise<void> {
    this.flushScheduled = false;
    if (this.queued.length === 0) return;
    try {
      await this.exclusive((connection) => this.flush(connection));
    } catch (error) {
      // The connection is unusable (closed): fail what is queued rather than leave it hanging.
      for (const operation of this.take()) operation.reject(error);
    }
  }
}

function applyAll(connection: SqliteConnection, operations: readonly QueuedOperation[], now: number): Outcome[] {
  return operations.map((operation): Outcome => {
    try {
      return { ok: true, value: operation.apply(connection, now) };
    } catch (error) {
      // A stale lease or a value the engine refused is that operation's answer; anything else aborts the batch.
      if (isBerthError(error, 'CONFLICT') || isBerthError(error, 'VALIDATION')) return { ok: false, error };
      throw error;
    }
  });
}

function settle(operations: readonly QueuedOperation[], outcomes: readonly Outcome[]): void {
  operations.forEach((operation, index) => {
    const outcome = outcomes[index];
    if (outcome?.ok) operation.resolve(outcome.value);
    else operation.reject(outcome?.error);
  });
}

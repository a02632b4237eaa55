/**
 * The raw better-sqlite3 floor under two queues' enqueue: the statements each
 * library runs per enqueue, on its own storage layout, through plain
 * prepared statements and nothing else (no option checks, payload copies,
 * events, turns or promises). A library's rate over its floor is what its
 * JavaScript costs; one floor over the other is what the layout costs.
 *
 * Each file is laid out by the library itself (Berth's migrations, plainjob's
 * defineQueue), closed, and opened again here with the pragmas that library
 * sets. Only the statements are copied; raw-floor.test.ts traces what each
 * library runs for an enqueue and fails when a copy drifts from it.
 */
import { SqliteBackend } from '@berth/adapter-sqlite';
import { generateId } from '@berth/core';
import Database from 'better-sqlite3';
import { better, defineQueue } from 'plainjob';
import { BERTH_QUEUE, berthPeer } from './berth-peer.js';
import type { PeerQueue, Task } from './peer-queue.js';
import { PLAINJOB_TYPE, silentLogger } from './plainjob-peer.js';

/** What a floor does of a queue: enqueue, one or a batch per transaction. */
export type FloorQueue = Pick<PeerQueue, 'enqueue' | 'enqueueBatch' | 'close'>;

/** One library's layout with its enqueue statements. */
export interface FloorLayout {
  readonly name: string;
  /** The library whose rate this floor is under. */
  readonly library: string;
  /** Lays out `file` with the library, then opens it raw. */
  open(file: string): Promise<FloorQueue>;
}

/**
 * Berth's enqueue, as the SQLite adapter runs it (sqlite-connection.ts
 * `immediate`, QUEUE_SQL.insert in sqlite-queue-rows.ts, after the first
 * insert the check for another backend listening to job events
 * (LISTENER_SQL.anyOther in sqlite-queue-event-log.ts), `addCounts(1)` in
 * sqlite-queue-hub.ts), whitespace included. The adapter does not export
 * them; raw-floor.test.ts keeps this copy in sync.
 */
const BERTH_ENQUEUE_SQL: {
  readonly begin: string;
  readonly insert: string;
  readonly listeners: string;
  readonly counts: string;
  readonly commit: string;
} = {
  begin: 'BEGIN IMMEDIATE',
  insert: `INSERT INTO _berth_jobs (id, queue, state, priority, run_at, attempts, max_attempts, lease_ms, backoff,
      dedupe_key, payload, errors, created_at, updated_at, timeout_ms)
    VALUES (?, ?, 'waiting', ?, ?, 0, ?, ?, ?, ?, ?, '[]', ?, ?, ?)`,
  listeners: 'SELECT 1 FROM _berth_event_listeners WHERE seen_at >= ? AND origin <> ? LIMIT 1',
  counts: `INSERT INTO _berth_job_counts (queue, state, count) VALUES (?, ?, ?)
      ON CONFLICT (queue, state) DO UPDATE SET count = count + excluded.count`,
  commit: 'COMMIT',
};

/** How long a listener's row counts after its last heartbeat (the adapter's LISTENER_STALE_MS). */
const BERTH_LISTENER_STALE_MS = 60_000;

/** Berth's defaults for a job enqueued without options (JOB_DEFAULTS in core; backoff default stored as NULL). */
const BERTH_DEFAULTS = { priority: 0, maxAttempts: 3, leaseMs: 30_000 } as const;

/** plainjob 0.0.14's `insertJobStmt`, as `queue.add` and `queue.addMany` run it. */
const PLAINJOB_INSERT_SQL: string =
  'INSERT INTO plainjob_jobs (type, data, created_at, next_run_at) VALUES (@type, @data, @createdAt, @nextRunAt)';

class BerthFloorQueue implements FloorQueue {
  private readonly begin: Database.Statement;
  private readonly insert: Database.Statement;
  private readonly listeners: Database.Statement;
  private readonly counts: Database.Statement;
  /** The backend's origin id, as the adapter draws one per backend. */
  private readonly origin = generateId();
  private readonly commit: Database.Statement;
  private readonly rollback: Database.Statement;

  constructor(private readonly db: Database.Database) {
    this.begin = db.prepare(BERTH_ENQUEUE_SQL.begin);
    this.insert = db.prepare(BERTH_ENQUEUE_SQL.insert);
    this.listeners = db.prepare(BERTH_ENQUEUE_SQL.listeners);
    this.counts = db.prepare(BERTH_ENQUEUE_SQL.counts);
    this.commit = db.prepare(BERTH_ENQUEUE_SQL.commit);
    this.rollback = db.prepare('ROLLBACK');
  }

  enqueue(payload: Task): void {
    this.enqueueBatch([payload]);
  }

  enqueueBatch(payloads: readonly Task[]): void {
    const now = Date.now();
    this.begin.run();
    try {
      payloads.forEach((payload, index) => {
        this.insert.run(
          generateId(),
          BERTH_QUEUE,
          BERTH_DEFAULTS.priority,
          now,
          BERTH_DEFAULTS.maxAttempts,
          BERTH_DEFAULTS.leaseMs,
          null,
          null,
          JSON.stringify(payload),
          now,
          now,
          null,
        );
        // Nobody listens in the benchmark: the answer is no row, and no event is written.
        if (index === 0) this.listeners.get(now - BERTH_LISTENER_STALE_MS, this.origin);
      });
      this.counts.run(BERTH_QUEUE, 'waiting', payloads.length);
      this.commit.run();
    } catch (error) {
      if (this.db.inTransaction) this.rollback.run();
      throw error;
    }
  }

  async close(): Promise<void> {
    this.db.close();
  }
}

class PlainjobFloorQueue implements FloorQueue {
  private readonly insert: Database.Statement;
  private readonly insertAll: (jobs: readonly Record<string, unknown>[]) => void;

  constructor(private readonly db: Database.Database) {
    this.insert = db.prepare(PLAINJOB_INSERT_SQL);
    this.insertAll = db.transaction((jobs: readonly Record<string, unknown>[]) => {
      for (const job of jobs) this.insert.run(job);
    });
  }

  private job(payload: Task, now: number): Record<string, unknown> {
    return { type: PLAINJOB_TYPE, data: JSON.stringify(payload), createdAt: now, nextRunAt: now };
  }

  /** `queue.add` runs its INSERT alone, in autocommit. */
  enqueue(payload: Task): void {
    this.insert.run(this.job(payload, Date.now()));
  }

  /** `queue.addMany` runs its INSERTs in one better-sqlite3 transaction. */
  enqueueBatch(payloads: readonly Task[]): void {
    const now = Date.now();
    this.insertAll(payloads.map((payload) => this.job(payload, now)));
  }

  async close(): Promise<void> {
    this.db.close();
  }
}

/** Options for reopening a floor's file, for tests that trace what runs. */
export type FloorDatabaseOptions = Pick<Database.Options, 'verbose'>;

/** Berth's layout: migrated by SqliteBackend, reopened with the pragmas the adapter sets. */
export function berthLayoutFloor(options: FloorDatabaseOptions = {}): FloorLayout {
  return {
    name: "floor, Berth's layout",
    library: berthPeer.name,
    async open(file) {
      const backend = new SqliteBackend({ filename: file });
      await backend.connect();
      await backend.close();
      const db = new Database(file, { ...options, timeout: 5_000 });
      db.pragma('journal_mode = WAL');
      db.pragma('synchronous = NORMAL');
      db.pragma('foreign_keys = ON');
      db.pragma('busy_timeout = 5000');
      return new BerthFloorQueue(db);
    },
  };
}

/** plainjob's layout: created by defineQueue, reopened with the pragmas defineQueue sets. */
export function plainjobLayoutFloor(options: FloorDatabaseOptions = {}): FloorLayout {
  return {
    name: "floor, plainjob's layout",
    library: 'plainjob',
    async open(file) {
      // close() stops its maintenance timer and closes the connection.
      defineQueue({ connection: better(new Database(file)), logger: silentLogger }).close();
      const db = new Database(file, options);
      db.pragma('journal_mode = WAL');
      db.pragma('synchronous = 1');
      db.pragma('busy_timeout = 5000');
      return new PlainjobFloorQueue(db);
    },
  };
}

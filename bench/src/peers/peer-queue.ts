/**
 * What the side-by-side queue benchmarks need from each job queue (Berth's
 * and its peers', on SQLite or on PostgreSQL), so every row drives them the
 * same way: the same payloads, a fresh file or schema each, the same way of
 * telling that a run is done.
 */

/** The payload every library enqueues. */
export interface Task {
  readonly kind: string;
  readonly n: number;
}

export const task = (n: number): Task => ({ kind: 'noop', n });

/** Enqueues `payloads` through `enqueueBatch`, 1 000 at a time: how `PeerQueue.fill` fills a queue before a run. */
export async function fillInChunks(
  payloads: readonly Task[],
  enqueueBatch: (chunk: readonly Task[]) => unknown,
): Promise<void> {
  for (let start = 0; start < payloads.length; start += 1_000) await enqueueBatch(payloads.slice(start, start + 1_000));
}

/** A running worker (or group of workers) of one library. */
export interface PeerWorker {
  /**
   * Resolves once the worker runs, for a library whose worker starts
   * asynchronously (graphile-worker's `run()` connects and checks its schema
   * first); throughput is timed from then, so a start-up is not counted as
   * processing time.
   */
  readonly ready?: Promise<unknown> | undefined;
  /** Stops taking jobs and resolves once the jobs in flight are done. */
  stop(): Promise<void>;
}

/** One library's queue, open on a file (SQLite) or schema (PostgreSQL) of its own. */
export interface PeerQueue {
  /** Enqueues one job the way the library's README does. */
  enqueue(payload: Task): unknown;
  /** Enqueues jobs together: the library's batch API, or one call each where it has none. */
  enqueueBatch(payloads: readonly Task[]): unknown;
  /** Fills the queue as fast as possible, outside any timing. */
  fill(payloads: readonly Task[]): Promise<void>;
  /** Starts handling jobs `concurrency` at a time; `onStart` runs at each handler's start. */
  work(concurrency: number, onStart: () => void): PeerWorker;
  /** Jobs neither finished nor failed, as stored. */
  remaining(): Promise<number>;
  /** What the engine reports of durability (SQLite's journal mode and synchronous; PostgreSQL's synchronous_commit). */
  durability(): string;
  close(): Promise<void>;
}

/** A library under test. */
export interface PeerLibrary {
  readonly name: string;
  /** The configuration it runs with, for the report. */
  readonly config: string;
  /** How `enqueueBatch` enqueues. */
  readonly batch: string;
  /** Opens a queue on a new file (SQLite) or in a new schema (PostgreSQL). */
  open(place: string): Promise<PeerQueue>;
}

/** `PRAGMA journal_mode` and `PRAGMA synchronous` of a better-sqlite3 connection, for the report. */
export function durabilityOf(db: { pragma(source: string, options: { simple: true }): unknown }): string {
  const synchronous = ['OFF', 'NORMAL', 'FULL', 'EXTRA'][Number(db.pragma('synchronous', { simple: true }))];
  return `journal_mode=${String(db.pragma('journal_mode', { simple: true })).toUpperCase()}, synchronous=${synchronous}`;
}

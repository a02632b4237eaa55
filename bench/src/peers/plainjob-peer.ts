/**
 * plainjob (better-sqlite3 connection) as the side-by-side benchmark drives
 * it. `defineQueue` sets WAL and synchronous = 1 (NORMAL) itself. A plainjob
 * worker handles one job at a time, so concurrency N is N workers on the
 * queue in this process (its README scales out with more workers). The
 * logger is silenced: the default one writes every claim to the console.
 */
import Database from 'better-sqlite3';
import { better, defineQueue, defineWorker, JobStatus, type Logger, type Queue } from 'plainjob';
import { durabilityOf, type PeerLibrary, type PeerQueue, type PeerWorker, type Task } from './peer-queue.js';

/** The job type every plainjob job of the benchmark has. */
export const PLAINJOB_TYPE = 'noop';
const FILL_CHUNK = 1_000;

/** plainjob's default logger writes every claim to the console. */
export const silentLogger: Logger = { error: () => {}, warn: () => {}, info: () => {}, debug: () => {} };

class PlainjobPeerQueue implements PeerQueue {
  constructor(
    private readonly db: Database.Database,
    private readonly queue: Queue,
    private readonly pollMs: number,
  ) {}

  enqueue(payload: Task): void {
    this.queue.add(PLAINJOB_TYPE, payload);
  }

  enqueueBatch(payloads: readonly Task[]): void {
    this.queue.addMany(PLAINJOB_TYPE, [...payloads]);
  }

  async fill(payloads: readonly Task[]): Promise<void> {
    for (let start = 0; start < payloads.length; start += FILL_CHUNK) {
      this.enqueueBatch(payloads.slice(start, start + FILL_CHUNK));
    }
  }

  work(concurrency: number, onStart: () => void): PeerWorker {
    const workers = Array.from({ length: concurrency }, () =>
      defineWorker(PLAINJOB_TYPE, () => onStart(), {
        queue: this.queue,
        logger: silentLogger,
        pollIntervall: this.pollMs,
      }),
    );
    const running = workers.map((worker) => worker.start());
    return {
      stop: async () => {
        await Promise.all(workers.map((worker) => worker.stop()));
        await Promise.all(running);
      },
    };
  }

  async remaining(): Promise<number> {
    return this.queue.countJobs({ status: JobStatus.Pending }) + this.queue.countJobs({ status: JobStatus.Processing });
  }

  durability(): string {
    return durabilityOf(this.db);
  }

  async close(): Promise<void> {
    this.queue.close();
  }
}

/** plainjob polling every `pollMs` when idle (its default is 1000 ms). */
export function plainjobPeer(pollMs: number): PeerLibrary {
  return {
    name: 'plainjob',
    config: `defineQueue defaults (it sets the pragmas), silent logger; N workers for concurrency N, pollIntervall ${pollMs} ms`,
    batch: 'addMany',
    async open(file) {
      const db = new Database(file);
      return new PlainjobPeerQueue(db, defineQueue({ connection: better(db), logger: silentLogger }), pollMs);
    },
  };
}

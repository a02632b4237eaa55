/**
 * Berth's SQLite job queue as the side-by-side benchmark drives it: the
 * adapter's defaults (WAL, synchronous = NORMAL) and the shared worker's
 * defaults (no prefetch; an idle worker is woken in-process by enqueues).
 */
import { SqliteBackend } from '@berth/adapter-sqlite';
import type { JobQueue } from '@berth/core';
import { durabilityOf, type PeerLibrary, type PeerQueue, type PeerWorker, type Task } from './peer-queue.js';

const FILL_CHUNK = 1_000;

/** The queue every Berth job of the benchmark is in. */
export const BERTH_QUEUE = 'bench';

class BerthPeerQueue implements PeerQueue {
  private readonly queue: JobQueue<Task>;

  constructor(private readonly backend: SqliteBackend) {
    this.queue = backend.queue<Task>(BERTH_QUEUE);
  }

  enqueue(payload: Task): Promise<unknown> {
    return this.queue.enqueue(payload);
  }

  enqueueBatch(payloads: readonly Task[]): Promise<unknown> {
    return this.queue.enqueueMany(payloads.map((payload) => ({ payload })));
  }

  async fill(payloads: readonly Task[]): Promise<void> {
    for (let start = 0; start < payloads.length; start += FILL_CHUNK) {
      await this.enqueueBatch(payloads.slice(start, start + FILL_CHUNK));
    }
  }

  work(concurrency: number, onStart: () => void): PeerWorker {
    const worker = this.queue.work(() => onStart(), { concurrency });
    return { stop: () => worker.close() };
  }

  async remaining(): Promise<number> {
    const stats = await this.queue.stats();
    return stats.waiting + stats.active;
  }

  durability(): string {
    return durabilityOf(this.backend.native());
  }

  close(): Promise<void> {
    return this.backend.close();
  }
}

export const berthPeer: PeerLibrary = {
  name: 'berth sqlite',
  config: 'adapter defaults; worker defaults (prefetch 0, woken in-process on enqueue)',
  batch: 'enqueueMany',
  async open(file) {
    const backend = new SqliteBackend({ filename: file });
    await backend.connect();
    return new BerthPeerQueue(backend);
  },
};

/**
 * A Berth `JobQueue` as the side-by-side benchmarks drive it, whatever the
 * backend: `enqueue`, `enqueueMany`, `work(handler, { concurrency,
 * prefetch })` and `stats()`, all through the port.
 */
import type { JobQueue } from '@berth/core';
import { fillInChunks, type PeerQueue, type PeerWorker, type Task } from './peer-queue.js';

export class BerthJobQueuePeer implements PeerQueue {
  constructor(
    private readonly queue: JobQueue<Task>,
    private readonly settings: {
      /** Jobs a worker leases ahead of free slots (the port's `prefetch`). */
      readonly prefetch: number;
      /** What the report says of the backend's durability. */
      readonly durability: () => string;
      readonly close: () => Promise<void>;
    },
  ) {}

  enqueue(payload: Task): Promise<unknown> {
    return this.queue.enqueue(payload);
  }

  enqueueBatch(payloads: readonly Task[]): Promise<unknown> {
    return this.queue.enqueueMany(payloads.map((payload) => ({ payload })));
  }

  fill(payloads: readonly Task[]): Promise<void> {
    return fillInChunks(payloads, (chunk) => this.enqueueBatch(chunk));
  }

  work(concurrency: number, onStart: () => void): PeerWorker {
    const options = this.settings.prefetch > 0 ? { concurrency, prefetch: this.settings.prefetch } : { concurrency };
    const worker = this.queue.work(() => onStart(), options);
    return { stop: () => worker.close() };
  }

  async remaining(): Promise<number> {
    const stats = await this.queue.stats();
    return stats.waiting + stats.active;
  }

  durability(): string {
    return this.settings.durability();
  }

  close(): Promise<void> {
    return this.settings.close();
  }
}

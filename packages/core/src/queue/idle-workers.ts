import type { IdleWorker } from './job-worker.js';

/**
 * The workers of one queue in this process that wait idle, oldest wait
 * first: what a notifier keeps for `JobNotifier.onIdle`, so an adapter's
 * write that makes jobs due can lease them for one of these workers.
 *
 * ### Examples
 * ```ts
 * import type { JobNotifier } from '@berth/core';
 * import { IdleWorkers } from '@berth/core/adapter';
 *
 * const idle = new IdleWorkers();
 * const notifier: JobNotifier = {
 *   onJobAvailable: () => () => {},
 *   onIdle: (worker) => idle.add(worker),
 * };
 * // In an enqueue: lease jobs for `idle.first()` in the same write, then `worker.take(leases)`.
 * ```
 */
export class IdleWorkers {
  private readonly waiting = new Set<IdleWorker>();

  /** Keeps `worker` until the returned function is called (the `onIdle` contract). */
  add(worker: IdleWorker): () => void {
    this.waiting.add(worker);
    return () => {
      this.waiting.delete(worker);
    };
  }

  /** The longest-waiting worker with free slots, left on the list (its offer ends when it wakes up). */
  first(): IdleWorker | undefined {
    for (const worker of this.waiting) if (worker.capacity > 0) return worker;
    return undefined;
  }

  clear(): void {
    this.waiting.clear();
  }
}

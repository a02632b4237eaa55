import type { Lease } from './job.js';
import type { JobQueue } from './job-queue.js';

// Internal: not exported from the package entry point. instrument() and
// core's worker share it; adapters pass worker options through untouched.

/**
 * How `instrument()` watches a worker without replacing the adapter's
 * notifier: passed under {@link WORKER_OBSERVER} in the worker options, which
 * adapters hand to `startWorker` unchanged. Not part of the public API.
 */
export interface WorkerObserver {
  /** The queue the worker's own traffic goes through (claims, renewals, settlements, releases). */
  wrap<T>(queue: JobQueue<T>): JobQueue<T>;
  /** One job's handling begins (handler, then settlement); the returned function ends it. */
  job(lease: Lease<unknown>): (failure: { readonly error: unknown } | undefined) => void;
  /** The worker has stopped: closed, or stopped by a backend that failed for good. */
  stopped(): void;
}

/** The key of {@link WorkerObserver} in `WorkerOptions`. */
export const WORKER_OBSERVER: unique symbol = Symbol('berth.workerObserver');

import type { DocumentValue } from '../values/document.js';
import type { Lease } from './job.js';
import type { JobContext, JobQueue, Settlement } from './job-queue.js';

/** How a job the worker stopped holding ended for it: its outcome is ignored from then on. */
export type DroppedAs = 'lost' | 'timedOut';

/**
 * One leased job inside the shared worker, from its claim to its settlement;
 * it is also the handler's `JobContext`, so a job costs one object.
 *
 * The `AbortController` is created only when the handler reads `signal` (an
 * abort before that is remembered and applied to the new controller), because
 * most handlers never look at it and a controller per job was a large part
 * of the worker's cost.
 */
export class JobRun<T> implements JobContext<T> {
  /** When the worker should renew the lease next (epoch ms). */
  renewAt: number;
  /** A third of the lease as last granted: how often it is renewed, also after a failed renewal. */
  renewEveryMs: number;
  /** When the attempt times out (epoch ms); `Infinity` without a timeout or before the handler starts. */
  deadline: number = Number.POSITIVE_INFINITY;
  renewing = false;
  started = false;
  dropped: DroppedAs | undefined;
  /** The finished attempt, while it waits for the next `settleAndClaim` call. */
  settlement: Settlement | undefined;
  /** What the observer's span ends with (the handler's error, or none). */
  failure: { readonly error: unknown } | undefined;
  /** Ends the observer's span of this job (set when the handler starts under `instrument()`). */
  endJob: ((failure: { readonly error: unknown } | undefined) => void) | undefined;
  private controller: AbortController | undefined;
  private abortReason: { readonly reason: unknown } | undefined;

  constructor(
    public lease: Lease<T>,
    private readonly queue: JobQueue<T>,
    now: number,
  ) {
    this.renewEveryMs = renewalDelay(lease, now);
    this.renewAt = now + this.renewEveryMs;
  }

  get signal(): AbortSignal {
    if (this.controller === undefined) {
      this.controller = new AbortController();
      if (this.abortReason !== undefined) this.controller.abort(this.abortReason.reason);
    }
    return this.controller.signal;
  }

  progress(progress: DocumentValue): Promise<void> {
    return this.queue.progress(this.lease, progress);
  }

  abort(reason: unknown): void {
    if (this.abortReason !== undefined) return;
    this.abortReason = { reason };
    this.controller?.abort(reason);
  }

  /** Ends the observer's span once; later calls do nothing. */
  end(failure: { readonly error: unknown } | undefined): void {
    const endJob = this.endJob;
    this.endJob = undefined;
    endJob?.(failure);
  }
}

/** A lease is renewed at a third of what is left of it, so two renewals can fail before it runs out. */
export function renewalDelay(lease: Lease<unknown>, now: number): number {
  return Math.max(1, Math.floor((lease.expiresAt.getTime() - now) / 3));
}

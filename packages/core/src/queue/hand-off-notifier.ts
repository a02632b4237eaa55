import { IdleWorkers } from './idle-workers.js';
import type { IdleWorker, JobNotifier } from './job-worker.js';

/**
 * A queue's `JobNotifier` for an adapter whose engine tells every process
 * when jobs fall due (PostgreSQL's NOTIFY, Redis's PUBLISH): it wakes the
 * idle workers of one queue in this process at once after a change made
 * here, when the engine's wake-up arrives (`woken`), and by a timer when a
 * job falls due later. Wake-ups are coalesced into one per turn of the
 * event loop. It also knows which workers wait idle, so an enqueue here can
 * lease jobs for one in its own write and hand them over (`handingOff`).
 *
 * ### Examples
 * ```ts
 * import { HandOffNotifier } from '@berth/core/adapter';
 *
 * // The first worker's listener makes the adapter LISTEN (or SUBSCRIBE) to the engine's wake-ups.
 * const notifier = new HandOffNotifier(() => console.log('start listening'));
 * const stop = notifier.onJobAvailable(() => console.log('a job may be due'));
 * notifier.woken(); // the engine said a job is due now
 * stop();
 * notifier.close();
 * ```
 */
export class HandOffNotifier implements JobNotifier {
  private readonly listeners = new Set<() => void>();
  private readonly idle = new IdleWorkers();
  /** Hand-offs in flight, and whether a wake-up for now came during them (see `handingOff`). */
  private handOffs = 0;
  private deferred = false;
  private scheduled = false;
  private timer: ReturnType<typeof setTimeout> | undefined;
  private timerAt = Number.POSITIVE_INFINITY;

  constructor(private readonly onFirstListener: () => void) {}

  onJobAvailable(listener: () => void): () => void {
    this.listeners.add(listener);
    this.onFirstListener();
    return () => {
      this.listeners.delete(listener);
      if (this.listeners.size === 0) this.clearTimer();
    };
  }

  onIdle(worker: IdleWorker): () => void {
    return this.idle.add(worker);
  }

  /** A worker waiting for a job (the longest waiting), without taking it off the list. */
  idleWorker(): IdleWorker | undefined {
    return this.idle.first();
  }

  /**
   * Runs `handOff`, an enqueue that leases jobs for an idle worker in its
   * own write and hands them over. Wake-ups for now that arrive meanwhile
   * wait until it is done: the write's own message may arrive before its
   * reply, and would wake the worker (withdrawing its offer) just before
   * the jobs leased for it are handed over.
   */
  async handingOff<R>(handOff: () => Promise<R>): Promise<R> {
    this.handOffs += 1;
    try {
      return await handOff();
    } finally {
      this.handOffs -= 1;
      if (this.handOffs === 0 && this.deferred) {
        this.deferred = false;
        this.notify();
      }
    }
  }

  /** The engine's wake-up arrived (a write of any process): jobs fall due after `delayMs` (0: now). */
  woken(delayMs = 0): void {
    if (this.handOffs > 0 && delayMs <= 0) this.deferred = true;
    else this.dueAt(Date.now() + delayMs);
  }

  /** Jobs may be due now. */
  notify(): void {
    if (this.listeners.size === 0 || this.scheduled) return;
    this.scheduled = true;
    // Listeners run after the current operation has returned, never inside it.
    queueMicrotask(() => {
      this.scheduled = false;
      for (const listener of this.listeners) listener();
    });
  }

  /** A job falls due at `time` (this process's clock): now, or later through the timer. */
  dueAt(time: number): void {
    if (this.listeners.size === 0) return;
    const now = Date.now();
    if (time <= now) {
      this.notify();
      return;
    }
    if (time >= this.timerAt) return;
    this.clearTimer();
    this.timerAt = time;
    this.timer = setTimeout(
      () => {
        this.timer = undefined;
        this.timerAt = Number.POSITIVE_INFINITY;
        this.notify();
      },
      time - now + 1,
    );
    this.timer.unref?.();
  }

  close(): void {
    this.clearTimer();
    this.listeners.clear();
    this.idle.clear();
  }

  private clearTimer(): void {
    clearTimeout(this.timer);
    this.timer = undefined;
    this.timerAt = Number.POSITIVE_INFINITY;
  }
}

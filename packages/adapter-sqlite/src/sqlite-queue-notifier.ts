import type { IdleWorker, JobNotifier } from '@berth/core';
import { IdleWorkers } from '@berth/core/adapter';

/** A min-heap of times, for the wake-ups a notifier has scheduled. */
class TimeHeap {
  private readonly items: number[] = [];

  get size(): number {
    return this.items.length;
  }

  peek(): number | undefined {
    return this.items[0];
  }

  push(time: number): void {
    const items = this.items;
    let index = items.push(time) - 1;
    while (index > 0) {
      const parent = (index - 1) >> 1;
      if ((items[parent] as number) <= time) break;
      items[index] = items[parent] as number;
      index = parent;
    }
    items[index] = time;
  }

  pop(): number | undefined {
    const items = this.items;
    const top = items[0];
    const last = items.pop();
    if (items.length === 0 || last === undefined) return top;
    let index = 0;
    for (;;) {
      const left = 2 * index + 1;
      if (left >= items.length) break;
      const right = left + 1;
      const child = right < items.length && (items[right] as number) < (items[left] as number) ? right : left;
      if ((items[child] as number) >= last) break;
      items[index] = items[child] as number;
      index = child;
    }
    items[index] = last;
    return top;
  }

  clear(): void {
    this.items.length = 0;
  }
}

/**
 * Wakes the workers of one queue that run in this process. SQLite has no
 * LISTEN/NOTIFY, so a notification is in-process only: commits made through
 * this backend (enqueue, release, retry) wake its idle workers at once, and a
 * timer wakes them when a job this process scheduled falls due or the next
 * lease runs out. Workers in other processes find those jobs by polling.
 */
export class SqliteQueueNotifier implements JobNotifier {
  private readonly listeners = new Set<() => void>();
  private readonly idle = new IdleWorkers();
  private readonly due = new TimeHeap();
  private timer: ReturnType<typeof setTimeout> | undefined;
  private timerAt = Number.POSITIVE_INFINITY;

  /**
   * `nextEvent(now)` reads the engine for the next time something may fall
   * due (a lease running out, a delayed job); `undefined` when nothing will.
   */
  constructor(private readonly nextEvent: (now: number, withDelayed: boolean) => number | undefined) {}

  onJobAvailable(listener: () => void): () => void {
    this.listeners.add(listener);
    if (this.listeners.size === 1) this.armFromEngine(true);
    return () => {
      this.listeners.delete(listener);
      if (this.listeners.size === 0) this.reset();
    };
  }

  onIdle(worker: IdleWorker): () => void {
    return this.idle.add(worker);
  }

  /** A worker waiting for a job (the longest waiting), without taking it off the list. */
  idleWorker(): IdleWorker | undefined {
    return this.idle.first();
  }

  /** Jobs may be due now (an enqueue, release or retry committed). */
  notify(): void {
    if (this.listeners.size === 0) return;
    // Listeners run after the current operation has returned, never inside it.
    queueMicrotask(() => {
      for (const listener of this.listeners) listener();
    });
  }

  /** A job falls due at `time`: now, or later through the timer. */
  dueAt(time: number): void {
    if (this.listeners.size === 0) return;
    if (time <= Date.now()) {
      this.notify();
      return;
    }
    this.due.push(time);
    this.arm(time);
  }

  /** A lease runs out at `time`; later leases are found again from the engine when the timer fires. */
  leaseEndsAt(time: number): void {
    if (this.listeners.size > 0) this.arm(time);
  }

  /** Stops the timer (the backend is closing). */
  close(): void {
    this.reset();
    this.listeners.clear();
    this.idle.clear();
  }

  private reset(): void {
    clearTimeout(this.timer);
    this.timer = undefined;
    this.timerAt = Number.POSITIVE_INFINITY;
    this.due.clear();
  }

  private arm(time: number): void {
    if (time >= this.timerAt) return;
    clearTimeout(this.timer);
    this.timerAt = time;
    this.timer = setTimeout(() => this.fire(), Math.max(0, time - Date.now()) + 1);
    // A pending wake-up must not keep the process alive on its own.
    this.timer.unref?.();
  }

  private fire(): void {
    this.timer = undefined;
    this.timerAt = Number.POSITIVE_INFINITY;
    const now = Date.now();
    for (let next = this.due.peek(); next !== undefined && next <= now; next = this.due.peek()) this.due.pop();
    this.notify();
    this.armFromEngine(false);
  }

  private armFromEngine(withDelayed: boolean): void {
    const now = Date.now();
    let next = this.due.peek();
    try {
      const fromEngine = this.nextEvent(now, withDelayed);
      if (fromEngine !== undefined && (next === undefined || fromEngine < next)) next = fromEngine;
    } catch {
      // A hint only (the backend may be closing); polling still finds the jobs.
    }
    if (next !== undefined) this.arm(Math.max(next, now));
  }
}

import { ValidationError } from '../errors.js';
import { type BerthLogger, consoleLogger } from '../operation/logger.js';
import { isPlainObject } from '../values/values.js';
import {
  JOB_EVENT_TYPES,
  type JobEvent,
  type JobEventListener,
  type JobEventType,
  type QueueEvent,
  type QueueEventsOptions,
  type SubscribeOptions,
} from './job-events.js';

interface Subscription {
  readonly listener: JobEventListener;
  readonly types: ReadonlySet<JobEventType> | undefined;
}

function checkTypes(options: SubscribeOptions | undefined): ReadonlySet<JobEventType> | undefined {
  if (options === undefined) return undefined;
  if (!isPlainObject(options)) throw new ValidationError('subscribe options must be an object', '');
  if (options.types === undefined) return undefined;
  if (!Array.isArray(options.types)) throw new ValidationError('types must be an array of event types', 'types');
  for (const type of options.types) {
    if (!JOB_EVENT_TYPES.includes(type)) {
      throw new ValidationError(
        `types: ${JSON.stringify(type)} is not an event type (${JOB_EVENT_TYPES.join(', ')})`,
        'types',
      );
    }
  }
  return new Set(options.types);
}

/**
 * What an adapter whose events are global does while a queue's hub has
 * subscribers: `start` on the first subscription (`subscribe` or
 * `events()`), `stop` when the last one ends. The adapter listens to its
 * engine (LISTEN, SUBSCRIBE, an event log) only meanwhile.
 *
 * ### Examples
 * ```ts
 * import { type HubListening, JobEventHub } from '@berth/core/adapter';
 *
 * const listening: HubListening = {
 *   start: () => console.log('LISTEN'),
 *   stop: () => console.log('UNLISTEN'),
 * };
 * const hub = new JobEventHub('mails', console, listening);
 * const unsubscribe = hub.subscribe(() => undefined); // LISTEN
 * unsubscribe(); // UNLISTEN
 * ```
 */
export interface HubListening {
  start(): void;
  stop(): void;
}

/**
 * The events of one queue in one process: adapters emit into it after each
 * change is stored, and `subscribe` and `events` read from it. Emitting
 * costs one check when nobody listens (`wants`).
 *
 * ### Examples
 * ```ts
 * import { JobEventHub } from '@berth/core/adapter';
 *
 * const hub = new JobEventHub('mails');
 * const unsubscribe = hub.subscribe((event) => console.log(event.type, event.jobId));
 * // After the adapter stored an enqueue:
 * if (hub.wants('enqueued')) hub.emit({ type: 'enqueued', queue: 'mails', jobId: 'j1', at: new Date(), runAt: new Date() });
 * unsubscribe();
 * ```
 */
export class JobEventHub {
  private readonly subscriptions = new Set<Subscription>();
  /** How many subscriptions want each type; an adapter skips building events nobody wants. */
  private readonly wanted = new Map<JobEventType, number>();

  /**
   * `logger` hears about listeners that throw (default `console`);
   * `listening` is told when the first subscription begins and the last ends.
   */
  constructor(
    readonly queue: string,
    private readonly logger: BerthLogger = consoleLogger,
    private readonly listening?: HubListening | undefined,
  ) {}

  /** Whether any subscriber wants events of `type`: check it before building an event. */
  wants(type: JobEventType): boolean {
    return this.subscriptions.size > 0 && (this.wanted.get(type) ?? 0) > 0;
  }

  /** Hands `event` to every subscriber that wants its type. */
  emit(event: JobEvent): void {
    for (const subscription of this.subscriptions) {
      if (subscription.types !== undefined && !subscription.types.has(event.type)) continue;
      try {
        subscription.listener(event);
      } catch (error) {
        this.logger.error(`berth: a listener of queue ${this.queue} events threw`, { error, queue: this.queue });
      }
    }
  }

  /** An event that names only the job (`released`, `cancelled`, `retried`), for each of `ids`. */
  emitEach(type: 'released' | 'cancelled' | 'retried', ids: readonly string[], at: Date = new Date()): void {
    if (ids.length === 0 || !this.wants(type)) return;
    for (const jobId of ids) this.emit({ type, queue: this.queue, jobId, at });
  }

  /**
   * `expired` for each settled lease, and `dead` (with the `lease expired`
   * error) for each that was its job's last attempt.
   */
  emitExpired(
    leases: readonly { readonly id: string; readonly attempt: number; readonly dead: boolean }[],
    at: Date,
  ): void {
    for (const { id: jobId, attempt, dead } of leases) {
      if (this.wants('expired')) this.emit({ type: 'expired', queue: this.queue, jobId, at, attempt });
      if (dead && this.wants('dead')) {
        const error = { attempt, message: 'lease expired', name: 'LEASE_EXPIRED', at };
        this.emit({ type: 'dead', queue: this.queue, jobId, at, attempt, error });
      }
    }
  }

  subscribe(listener: JobEventListener, options?: SubscribeOptions): () => void {
    if (typeof listener !== 'function') throw new ValidationError('subscribe needs a listener function', 'listener');
    const subscription: Subscription = { listener, types: checkTypes(options) };
    this.subscriptions.add(subscription);
    for (const type of subscription.types ?? JOB_EVENT_TYPES) this.wanted.set(type, (this.wanted.get(type) ?? 0) + 1);
    if (this.subscriptions.size === 1) this.listening?.start();
    let subscribed = true;
    return () => {
      if (!subscribed) return;
      subscribed = false;
      this.subscriptions.delete(subscription);
      for (const type of subscription.types ?? JOB_EVENT_TYPES) this.wanted.set(type, (this.wanted.get(type) ?? 1) - 1);
      if (this.subscriptions.size === 0) this.listening?.stop();
    };
  }

  events(options?: QueueEventsOptions): AsyncIterableIterator<QueueEvent> {
    const bufferSize = options?.bufferSize ?? 10_000;
    if (!Number.isSafeInteger(bufferSize) || bufferSize < 1 || bufferSize > 1_000_000) {
      throw new ValidationError(
        `bufferSize must be an integer from 1 to 1000000, got ${String(bufferSize)}`,
        'bufferSize',
      );
    }
    const signal = options?.signal;
    const buffer: QueueEvent[] = [];
    let dropped = 0;
    let done = signal?.aborted === true;
    let waiting: ((result: IteratorResult<QueueEvent>) => void) | undefined;
    const finish = (): void => {
      if (done) return;
      done = true;
      unsubscribe();
      signal?.removeEventListener('abort', finish);
      const resolve = waiting;
      waiting = undefined;
      resolve?.({ value: undefined, done: true });
    };
    const unsubscribe = this.subscribe(
      (event) => {
        if (done) return;
        if (waiting !== undefined) {
          const resolve = waiting;
          waiting = undefined;
          resolve({ value: event, done: false });
          return;
        }
        buffer.push(event);
        if (buffer.length > bufferSize) {
          buffer.shift();
          dropped += 1;
        }
      },
      options?.types === undefined ? undefined : { types: options.types },
    );
    if (done) unsubscribe();
    else signal?.addEventListener('abort', finish, { once: true });
    const queue = this.queue;
    const iterator: AsyncIterableIterator<QueueEvent> = {
      next(): Promise<IteratorResult<QueueEvent>> {
        if (dropped > 0) {
          const gap: QueueEvent = { type: 'gap', queue, dropped, at: new Date() };
          dropped = 0;
          return Promise.resolve({ value: gap, done: false });
        }
        const event = buffer.shift();
        if (event !== undefined) return Promise.resolve({ value: event, done: false });
        if (done) return Promise.resolve({ value: undefined, done: true });
        return new Promise((resolve) => {
          waiting = resolve;
        });
      },
      return(): Promise<IteratorResult<QueueEvent>> {
        buffer.length = 0;
        finish();
        return Promise.resolve({ value: undefined, done: true });
      },
      [Symbol.asyncIterator]() {
        return iterator;
      },
    };
    return iterator;
  }
}

import {
  type BerthLogger,
  type Capabilities,
  ConnectionError,
  consoleLogger,
  type DocumentValue,
  generateId,
  type JobQueue,
  type QueueOptions,
  UnsupportedError,
  ValidationError,
} from '@berth/core';
import { checkCollectionName, checkMaxBytes, HandOffNotifier, normalizeRetention } from '@berth/core/adapter';
import type { Cluster, Redis } from 'ioredis';
import { byCodePoint, namesInKeys } from '../redis-collections.js';
import { toBerthError } from '../redis-errors.js';
import { RedisJobQueue, type RedisJobQueueContext } from './redis-job-queue.js';
import { type RedisEventLog, RedisQueueEventFeed } from './redis-queue-events.js';
import { eventChannel, eventLogKey, queueKeyBase, wakeChannel } from './redis-queue-rows.js';
import { RedisQueueSubscriber } from './redis-queue-subscriber.js';

/**
 * What Redis's job queue offers: correct for workers on many machines (every
 * step is one atomic script on the server), no enqueue inside repository
 * transactions, durable as far as the server persists (AOF), idle workers
 * woken through pub/sub. Events are global: the scripts publish each
 * change's job events, so a subscriber hears those of every process.
 *
 * ### Examples
 * ```ts
 * import { REDIS_QUEUE_CAPABILITIES } from '@berth/adapter-redis';
 *
 * // Jobs must be enqueued outside repository transactions on Redis.
 * if (!REDIS_QUEUE_CAPABILITIES.transactionalEnqueue) console.log('enqueue after the transaction commits');
 * ```
 */
export const REDIS_QUEUE_CAPABILITIES: Capabilities['queue'] = {
  level: 'distributed',
  transactionalEnqueue: false,
  durable: true,
  notifications: true,
  events: 'global',
};

/**
 * What to do when the server may evict keys (`maxmemory-policy` is not
 * `noeviction`): eviction drops job hashes and index entries without a
 * trace, so by default the queues refuse to run; `warn` runs anyway and
 * reports through `onWarning`.
 *
 * ### Examples
 * ```ts
 * import { type EvictionPolicyCheck, RedisBackend } from '@berth/adapter-redis';
 *
 * // A cache server shared with the queues, whose eviction the team accepts knowingly.
 * const evictionPolicy: EvictionPolicyCheck = 'warn';
 * const backend = new RedisBackend({ url: 'redis://127.0.0.1:6379', evictionPolicy, onWarning: (message) => console.warn(message) });
 * ```
 */
export type EvictionPolicyCheck = 'refuse' | 'warn';

/**
 * Configuration of {@link RedisQueues}.
 *
 * ### Examples
 * ```ts
 * import { RedisQueues, type RedisQueuesConfig } from '@berth/adapter-redis';
 *
 * declare const client: RedisQueuesConfig['client']; // a connected ioredis Redis or Cluster
 * const config: RedisQueuesConfig = { client, keyPrefix: 'jobs:', maxPayloadBytes: 1024 * 1024 };
 * const queues = new RedisQueues(config);
 * ```
 */
export interface RedisQueuesConfig {
  /** A connected ioredis client (`Redis` or `Cluster`), owned by the caller: `close()` leaves it open. */
  readonly client: Redis | Cluster;
  /** Prepended to every key of every queue (the queue's hash tag follows it). */
  readonly keyPrefix: string;
  /** When `maxmemory-policy` is not `noeviction`: refuse (default) or warn. */
  readonly evictionPolicy?: EvictionPolicyCheck | undefined;
  /**
   * Receives warnings: an eviction policy accepted under `evictionPolicy:
   * 'warn'`, or a server that refuses `CONFIG GET` (a managed Redis), which
   * is reported once and not fatal. Default: the `logger`'s `warn`.
   */
  readonly onWarning?: ((message: string) => void) | undefined;
  /** Receives warnings without an `onWarning`, and queue listener and worker errors (default `console`). */
  readonly logger?: BerthLogger | undefined;
  /** Largest job payload or result, as bytes of JSON (default and ceiling 16 MiB). */
  readonly maxPayloadBytes?: number | undefined;
}

/**
 * The job queues of one Redis client under one key prefix, and what they
 * share: the event hubs and wake-up notifiers (one per queue name, so every
 * `queue(name)` object sees the same events), the pub/sub connection (a
 * duplicate of the client, open while a worker waits for wake-ups or a
 * subscriber listens to other processes' events), and the check of
 * the server's eviction policy, made once before the first operation.
 *
 * ### Examples
 * ```ts
 * import { RedisQueues, type RedisQueuesConfig } from '@berth/adapter-redis';
 *
 * // A connected ioredis `Redis` or `Cluster` of the application's own.
 * declare const client: RedisQueuesConfig['client'];
 * const queues = new RedisQueues({ client, keyPrefix: 'app:', evictionPolicy: 'warn' });
 * const reports = queues.queue<{ month: string }>('reports');
 * await reports.enqueue({ month: '2026-11' }, { priority: 10 });
 * console.log(await reports.stats());
 * await queues.close();
 * ```
 */
export class RedisQueues {
  /** What these queues support (see {@link REDIS_QUEUE_CAPABILITIES}). */
  readonly capabilities: Capabilities['queue'] = REDIS_QUEUE_CAPABILITIES;
  private readonly client: Redis | Cluster;
  private readonly keyPrefix: string;
  private readonly evictionPolicy: EvictionPolicyCheck;
  private readonly onWarning: (message: string) => void;
  private readonly logger: BerthLogger | undefined;
  private readonly maxPayloadBytes: number;
  private readonly subscriber: RedisQueueSubscriber;
  private readonly queues = new Map<string, RedisJobQueue<unknown>>();
  private readonly notifiers = new Map<string, HandOffNotifier>();
  private readonly hubs = new Map<string, RedisQueueEventFeed>();
  /** Tags the events these queues' scripts publish, so that their own copies are dropped. */
  private readonly origin = generateId();
  private checked: Promise<void> | undefined;
  private closed = false;

  constructor(config: RedisQueuesConfig) {
    if (typeof config.keyPrefix !== 'string' || config.keyPrefix.includes('{') || config.keyPrefix.includes('}')) {
      // A brace in the prefix would move the hash tag, and with it the slot of each key.
      throw new ValidationError('keyPrefix must be a string without "{" or "}"', 'keyPrefix');
    }
    if (config.evictionPolicy !== undefined && config.evictionPolicy !== 'refuse' && config.evictionPolicy !== 'warn') {
      throw new ValidationError('evictionPolicy must be "refuse" or "warn"', 'evictionPolicy');
    }
    if (config.client?.options?.keyPrefix) {
      throw new ValidationError('the client has an ioredis keyPrefix; pass it as keyPrefix instead', 'client');
    }
    this.client = config.client;
    this.keyPrefix = config.keyPrefix;
    this.evictionPolicy = config.evictionPolicy ?? 'refuse';
    this.logger = config.logger;
    const logger = config.logger ?? consoleLogger;
    this.onWarning = config.onWarning ?? ((message) => logger.warn(`berth: ${message}`));
    this.maxPayloadBytes = checkMaxBytes(config.maxPayloadBytes, 'maxPayloadBytes');
    if (config.maxPayloadBytes !== undefined) {
      this.capabilities = { ...REDIS_QUEUE_CAPABILITIES, maxPayloadBytes: this.maxPayloadBytes };
    }
    this.subscriber = new RedisQueueSubscriber(config.client, logger);
  }

  /**
   * Checks the server's `maxmemory-policy` (every master of a cluster);
   * the queues call it before their first operation. A server that may
   * evict keys is refused with `UNSUPPORTED` (or, under `evictionPolicy:
   * 'warn'`, reported); one that refuses `CONFIG` is reported once.
   */
  connect(): Promise<void> {
    if (this.closed) return Promise.reject(this.closedError());
    this.checked ??= this.checkEviction().catch((error: unknown) => {
      this.checked = undefined;
      throw error;
    });
    return this.checked;
  }

  private async checkEviction(): Promise<void> {
    if (this.client.isCluster) {
      // A cluster client knows its masters once it has loaded the slots: a first command waits for that.
      try {
        await this.client.ping();
      } catch (error) {
        throw toBerthError(error);
      }
    }
    const servers = this.client.isCluster ? (this.client as Cluster).nodes('master') : [this.client as Redis];
    for (const server of servers) {
      let policy: string;
      try {
        const reply = (await server.config('GET', 'maxmemory-policy')) as string[];
        policy = reply[1] ?? 'unknown';
      } catch (error) {
        const converted = toBerthError(error);
        if (converted !== error) throw converted;
        this.onWarning(
          `cannot read maxmemory-policy (${String((error as Error).message)}); make sure it is noeviction, or jobs may be lost`,
        );
        return;
      }
      if (policy === 'noeviction') continue;
      const message = `Redis maxmemory-policy is ${policy}: under memory pressure the server evicts keys, and jobs vanish without a trace; set maxmemory-policy noeviction`;
      if (this.evictionPolicy === 'refuse') {
        throw new UnsupportedError(`${message} (or pass evictionPolicy: 'warn' to run anyway)`);
      }
      this.onWarning(message);
      return;
    }
  }

  private closedError(): ConnectionError {
    return new ConnectionError('the Redis queues were closed', { retryable: false });
  }

  /**
   * The queue `name` (the collection-name rule); the same object for the
   * same name, so its events and wake-ups are shared. `options.retention`
   * is checked at once and applies from the first call that gives it.
   */
  queue<T = DocumentValue>(name: string, options?: QueueOptions): JobQueue<T> {
    checkCollectionName(name, 'queue');
    const retention = normalizeRetention(options?.retention);
    const existing = this.queues.get(name);
    if (existing !== undefined && options?.retention === undefined) return existing as unknown as JobQueue<T>;
    const queue = new RedisJobQueue<T>(name, { ...this.shared(name), retention });
    // A queue with a retention of its own is a separate object on the same hub and notifier.
    if (existing === undefined && options?.retention === undefined)
      this.queues.set(name, queue as RedisJobQueue<unknown>);
    return queue;
  }

  private shared(name: string): Omit<RedisJobQueueContext, 'retention'> {
    const base = queueKeyBase(this.keyPrefix, name);
    let notifier = this.notifiers.get(name);
    if (notifier === undefined) {
      const created = new HandOffNotifier(
        () =>
          void this.subscriber.listen(wakeChannel(base), {
            message: (delayMs) => created.woken(Number(delayMs) || 0),
            reconnected: () => created.woken(0),
          }),
      );
      notifier = created;
      this.notifiers.set(name, created);
    }
    let feed = this.hubs.get(name);
    if (feed === undefined) {
      feed = new RedisQueueEventFeed(name, this.logger ?? consoleLogger, this.origin, this.eventLog(name, base));
      this.hubs.set(name, feed);
    }
    const events = feed.hub;
    return {
      base,
      origin: this.origin,
      events,
      notifier,
      logger: this.logger,
      maxPayloadBytes: this.maxPayloadBytes,
      client: async () => {
        await this.connect();
        return this.client;
      },
      toBerthError: (error) => (this.closed ? this.closedError() : toBerthError(error)),
    };
  }

  /** The event log of the queue `name` at `base`, read through the client, announced through the subscriber. */
  private eventLog(name: string, base: string): RedisEventLog {
    const channel = eventChannel(base);
    const key = eventLogKey(base);
    return {
      listen: (onEntry) => this.subscriber.listen(channel, { message: onEntry, reconnected: onEntry, eventsOf: name }),
      unlisten: () => this.subscriber.unlisten(channel),
      serverTime: async () => {
        // On the queue's own node (a cluster's nodes each have a clock).
        const [seconds, micros] = (await this.client.eval("return redis.call('TIME')", 1, key)) as [string, string];
        return Number(seconds) * 1000 + Math.floor(Number(micros) / 1000);
      },
      read: async (start, count) => {
        if (this.closed) return [];
        return await this.client.xrange(key, start, '+', 'COUNT', count);
      },
    };
  }

  /**
   * The names of the queues under this prefix that hold jobs (any state)
   * or schedules, from any process, code-point sorted: a SCAN for the
   * queues' counters and schedule sets, then each candidate's counts, so a
   * queue whose jobs were all removed is not listed.
   */
  async names(signal?: AbortSignal): Promise<string[]> {
    await this.connect();
    try {
      const candidates = await namesInKeys(this.client, this.keyPrefix, 'q:', [':n', ':scs'], signal, 'queues');
      const names: string[] = [];
      for (const name of [...candidates].sort(byCodePoint)) {
        if (await this.holdsAnything(queueKeyBase(this.keyPrefix, name))) names.push(name);
      }
      return names;
    } catch (error) {
      throw this.closed ? this.closedError() : toBerthError(error);
    }
  }

  /** Whether the queue at `base` counts any job or has a schedule (one round trip, one slot). */
  private async holdsAnything(base: string): Promise<boolean> {
    const replies = await this.client
      .pipeline()
      .hmget(`${base}n`, 'waiting', 'active', 'completed', 'dead', 'cancelled')
      .zcard(`${base}scs`)
      .exec();
    const [[countsError, counts], [schedulesError, schedules]] = (replies ?? []) as [
      [Error | null, (string | null)[]],
      [Error | null, number],
    ];
    if (countsError) throw countsError;
    if (schedulesError) throw schedulesError;
    return schedules > 0 || counts.some((count) => Number(count ?? 0) > 0);
  }

  /**
   * Stops the wake-ups and the listening to other processes' events, and
   * closes the pub/sub connection; the client stays open (it is the caller's).
   */
  async close(): Promise<void> {
    this.closed = true;
    for (const notifier of this.notifiers.values()) notifier.close();
    this.subscriber.close();
  }
}

/**
 * Berth's Redis job queue as the side-by-side queue benchmark drives it,
 * until `RedisBackend` (which exposes `backend.queue(name)` over the same
 * `RedisQueues`) is merged: `new RedisQueues({ client, keyPrefix })` on an
 * ioredis client this peer opens and closes, driven through the port by
 * `BerthJobQueuePeer` like every other Berth queue row. Its shape follows
 * the `queue` part of berth-redis-peer.ts, so switching the row to
 * `RedisBackend` is one line in redis-queue-peers.bench.ts (take
 * `loaded.peer.queue` instead of this).
 *
 * Retention: BullMQ's row deletes completed jobs as they finish
 * (`removeOnComplete: { count: 0 }`); this row asks for the same through
 * the port, `retention: { completed: { maxCount: 0 } }`. The port applies a
 * retention by pruning (the worker's `prune()` at start, then every
 * `retentionIntervalMs`, 60 s), never at completion: the conformance suite
 * holds every adapter to finished jobs staying visible until a prune. So
 * each completion here still writes the finished job (a hash write and two
 * index entries more than BullMQ's delete), and the option changes nothing
 * within a run; it is there so the rows ask for the same thing.
 */
import { RedisQueues } from '@berth/adapter-redis';
import { Redis } from 'ioredis';
import { BerthJobQueuePeer } from '../peers/berth-job-queue-peer.js';
import type { PeerLibrary, PeerQueue, PeerWorker, Task } from '../peers/peer-queue.js';
import { describeRedisAt, redisUrl } from './redis-server.js';

export const berthRedisQueuePeer: PeerLibrary = {
  name: 'berth',
  config:
    "RedisQueues defaults, retention { completed: { maxCount: 0 } } (applied by the worker's prune, not per job); " +
    'work(handler, { concurrency })',
  batch: 'enqueueMany',
  async open(prefix) {
    const client = new Redis(redisUrl(), { lazyConnect: true });
    const queues = new RedisQueues({ client, keyPrefix: prefix });
    const close = async (): Promise<void> => {
      await queues.close();
      client.disconnect();
    };
    try {
      await client.connect();
      const queue = queues.queue<Task>('jobs', { retention: { completed: { maxCount: 0 } } });
      await queues.connect();
      const server = await describeRedisAt();
      return new BerthJobQueuePeer(queue, { prefetch: 0, durability: () => server, close });
    } catch (error) {
      await close();
      throw error;
    }
  },
};

/** Enqueues through one queue object and works through another: two processes, as far as the queue can tell. */
class SplitPeerQueue implements PeerQueue {
  constructor(
    private readonly enqueuer: PeerQueue,
    private readonly worker: PeerQueue,
  ) {}

  enqueue(payload: Task): unknown {
    return this.enqueuer.enqueue(payload);
  }

  enqueueBatch(payloads: readonly Task[]): unknown {
    return this.enqueuer.enqueueBatch(payloads);
  }

  fill(payloads: readonly Task[]): Promise<void> {
    return this.enqueuer.fill(payloads);
  }

  work(concurrency: number, onStart: () => void): PeerWorker {
    return this.worker.work(concurrency, onStart);
  }

  remaining(): Promise<number> {
    return this.enqueuer.remaining();
  }

  durability(): string {
    return this.enqueuer.durability();
  }

  async close(): Promise<void> {
    try {
      await this.worker.close();
    } finally {
      await this.enqueuer.close();
    }
  }
}

/**
 * Berth's queue with its worker on a second `RedisQueues` and client (the
 * same keys): what a worker in another process sees. An enqueue here
 * cannot hand its job to that worker inside its script, as it does to an
 * idle worker of its own `RedisQueues`; the worker is woken by the script's
 * PUBLISH and claims in a call of its own. BullMQ's row always takes that
 * path (its worker blocks on a connection of its own), so this row is the
 * like-for-like figure for workers that run apart from the enqueuers.
 */
export const berthRedisQueueRemoteWorkerPeer: PeerLibrary = {
  name: 'berth, worker on another RedisQueues',
  config: `${berthRedisQueuePeer.config}; enqueues through one RedisQueues and client, works through another`,
  batch: berthRedisQueuePeer.batch,
  async open(prefix) {
    const enqueuer = await berthRedisQueuePeer.open(prefix);
    try {
      return new SplitPeerQueue(enqueuer, await berthRedisQueuePeer.open(prefix));
    } catch (error) {
      await enqueuer.close();
      throw error;
    }
  },
};

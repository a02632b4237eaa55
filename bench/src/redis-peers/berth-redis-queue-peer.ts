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
import type { PeerLibrary, Task } from '../peers/peer-queue.js';
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

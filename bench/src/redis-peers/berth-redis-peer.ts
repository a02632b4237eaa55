/**
 * Berth's side of the Redis benchmarks, through the ports of a
 * `RedisBackend` only (`new RedisBackend({ url, keyPrefix })`, every key
 * under the run's prefix, the backend's defaults otherwise):
 *
 * - repositories with a number index on `level`, driven by `get`,
 *   `insert`, `update` with `$inc`, `find` and `insertMany`
 *   (redis-repository.bench.ts);
 * - the job queue `backend.queue('jobs', { retention })`, driven by
 *   `enqueue`, `enqueueMany`, `work(handler, { concurrency })` and
 *   `stats()` (peers/berth-job-queue-peer.ts), and the same with its worker
 *   on a second backend (redis-queue-peers.bench.ts).
 *
 * Retention: BullMQ's row deletes completed jobs as they finish
 * (`removeOnComplete: { count: 0 }`); the queue row asks for the same
 * through the port, `retention: { completed: { maxCount: 0 } }`. The port
 * applies a retention by pruning (the worker's `prune()` at start, then
 * every `retentionIntervalMs`, 60 s), never at completion: the conformance
 * suite holds every adapter to finished jobs staying visible until a prune.
 * So each completion here still writes the finished job (a hash write and
 * two index entries more than BullMQ's delete), and the option changes
 * nothing within a run; it is there so the rows ask for the same thing.
 */
import { RedisBackend } from '@berth/adapter-redis';
import type { Repository } from '@berth/core';
import type { Hero } from '../heroes.js';
import { BerthJobQueuePeer } from '../peers/berth-job-queue-peer.js';
import type { PeerLibrary, PeerQueue, PeerWorker, Task } from '../peers/peer-queue.js';
import { describeRedisAt, redisUrl } from './redis-server.js';

const indexes = [{ field: 'level', type: 'number' }] as const;

/** Berth repositories on one `RedisBackend`, keys under one prefix. */
export interface BerthRedisRepositories {
  /** `backend.repository<Hero>(name, { indexes: [{ field: 'level', type: 'number' }] })`, opened once per name. */
  repository(name: string): Repository<Hero>;
  close(): Promise<void>;
}

/** A backend whose keys all lie under `keyPrefix` (a prefix of the run's own); call `close()` when done. */
export async function openBerthRedisRepositories(keyPrefix: string): Promise<BerthRedisRepositories> {
  const backend = new RedisBackend({ url: redisUrl(), keyPrefix });
  try {
    await backend.connect();
  } catch (error) {
    await backend.close();
    throw error;
  }
  const opened = new Map<string, Repository<Hero>>();
  return {
    repository(name) {
      const existing = opened.get(name);
      if (existing !== undefined) return existing;
      const repository = backend.repository<Hero>(name, { indexes });
      opened.set(name, repository);
      return repository;
    },
    close: () => backend.close(),
  };
}

/**
 * Berth's queue on a `RedisBackend` at its defaults, worked by
 * `work(handler, { concurrency, prefetch })`: `prefetch` jobs leased ahead
 * of free slots (0: none, the port's default). The option documented for
 * throughput: one `settleAndClaim` call carries the next jobs while the
 * handlers of the last ones still run.
 */
export function berthRedisQueue(prefetch: number): PeerLibrary {
  return {
    name: prefetch === 0 ? 'berth' : `berth, prefetch ${prefetch}`,
    config:
      "RedisBackend defaults, queue retention { completed: { maxCount: 0 } } (applied by the worker's prune, not per job); " +
      `work(handler, { concurrency${prefetch === 0 ? '' : `, prefetch: ${prefetch}`} })`,
    batch: 'enqueueMany',
    async open(prefix) {
      const backend = new RedisBackend({ url: redisUrl(), keyPrefix: prefix });
      try {
        const queue = backend.queue<Task>('jobs', { retention: { completed: { maxCount: 0 } } });
        await backend.connect();
        const server = await describeRedisAt();
        return new BerthJobQueuePeer(queue, { prefetch, durability: () => server, close: () => backend.close() });
      } catch (error) {
        await backend.close();
        throw error;
      }
    },
  };
}

/** The row the targets compare: the worker without prefetch. */
export const berthRedisQueuePeer: PeerLibrary = berthRedisQueue(0);

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
 * Berth's queue with its worker on a second `RedisBackend` on the same
 * prefix (the same keys, a client of its own): what a worker in another
 * process sees. An enqueue here cannot hand its job to that worker inside
 * its script, as it does to an idle worker of its own backend; the worker
 * is woken by the script's PUBLISH and claims in a call of its own.
 * BullMQ's row always takes that path (its worker blocks on a connection of
 * its own), so this row is the like-for-like figure for workers that run
 * apart from the enqueuers.
 */
export const berthRedisQueueRemoteWorkerPeer: PeerLibrary = {
  name: 'berth, worker on another RedisBackend',
  config: `${berthRedisQueuePeer.config}; enqueues through one RedisBackend, works through another on the same prefix`,
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

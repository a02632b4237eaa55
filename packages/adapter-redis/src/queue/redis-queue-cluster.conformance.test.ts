import { type CleanupInfo, queueConformance } from '@berth/conformance-tests';
import {
  type Capabilities,
  type DocumentValue,
  type HealthStatus,
  isBerthError,
  type JobQueue,
  type Lease,
  type QueueBackend,
  type QueueOptions,
} from '@berth/core';
import { Cluster } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PrivateRedisCluster } from '../fixtures/redis-cluster.js';
import { forEachKeyBatch, prefixPattern, unlinkKeys } from '../redis-scan.js';
import { queueKeyBase } from './redis-queue-rows.js';
import { REDIS_QUEUE_CAPABILITIES, RedisQueues } from './redis-queues.js';

// The whole queue suite on a three-master cluster of the file's own: each
// queue's keys share one hash tag, so every script runs on one slot, and
// different queues land on different masters.
let cluster: PrivateRedisCluster;
const clients = new Set<Cluster>();
const keyPrefix = 'berth_cluster_queue:';

beforeAll(async () => {
  cluster = await PrivateRedisCluster.start();
}, 60_000);

afterAll(async () => {
  for (const client of clients) client.disconnect();
  await cluster?.stop();
});

const capabilities: Capabilities = {
  repository: { transactions: 'none', uniqueIndexes: false, durable: true },
  queue: REDIS_QUEUE_CAPABILITIES,
};

/** A stand-in for RedisBackend on the cluster: a Cluster client of its own and RedisQueues over it. */
class ClusterQueueBackend implements QueueBackend {
  readonly kind = 'redis';
  readonly capabilities = capabilities;
  // The suite probes a backend while tests are registered, before the cluster runs: a client that never connects.
  readonly client: Cluster =
    cluster === undefined ? new Cluster([{ host: '127.0.0.1', port: 1 }], { lazyConnect: true }) : cluster.client();
  private readonly queues = new RedisQueues({ client: this.client, keyPrefix });

  constructor() {
    clients.add(this.client);
  }

  connect(): Promise<void> {
    return this.queues.connect();
  }

  async close(): Promise<void> {
    await this.queues.close();
    this.client.disconnect();
    clients.delete(this.client);
  }

  async health(): Promise<HealthStatus> {
    const started = performance.now();
    await this.client.ping();
    return { ok: true, latencyMs: performance.now() - started };
  }

  queue<T = DocumentValue>(name: string, options?: QueueOptions): JobQueue<T> {
    return this.queues.queue<T>(name, options);
  }

  [Symbol.asyncDispose](): Promise<void> {
    return this.close();
  }
}

/** Deletes the test's keys on every master, after checking that nothing is left of a queue it did not name. */
async function cleanup({ queues }: CleanupInfo<QueueBackend>): Promise<void> {
  const client = cluster.client();
  try {
    const bases = queues.map((name) => queueKeyBase(keyPrefix, name));
    const strays: string[] = [];
    await forEachKeyBatch(
      client,
      prefixPattern(keyPrefix),
      async (server, keys) => {
        const named = keys.filter((key) => bases.some((base) => key.toString().startsWith(base)));
        for (const key of keys) if (!named.includes(key)) strays.push(key.toString());
        return named.length === 0 ? 0 : unlinkKeys(server, named);
      },
      undefined,
      'cleanup',
    );
    if (strays.length > 0) throw new Error(`the test left keys of queues it did not name: ${strays.join(', ')}`);
  } finally {
    client.disconnect();
  }
}

queueConformance({
  name: 'redis cluster',
  createBackend: () => new ClusterQueueBackend(),
  capabilities,
  cleanup,
  openSameStorage: () => new ClusterQueueBackend(),
  timeoutMs: 40_000,
});

describe('RedisQueues on a cluster', () => {
  it('queues spread over the masters, each queue on one slot', async () => {
    const backend = new ClusterQueueBackend();
    const names = Array.from({ length: 12 }, (_, index) => `spread_${index}`);
    try {
      for (const name of names) await backend.queue(name).enqueue({ name }, { dedupeKey: 'k' });
      const slots = await Promise.all(
        names.map((name) => backend.client.cluster('KEYSLOT', queueKeyBase(keyPrefix, name)) as Promise<number>),
      );
      const perNode = await Promise.all(backend.client.nodes('master').map((node) => node.dbsize()));
      expect(
        perNode.every((count) => count > 0),
        String(perNode),
      ).toBe(true);
      expect(new Set(slots).size).toBeGreaterThan(1);
      for (const name of names) expect(await backend.queue(name).stats()).toMatchObject({ waiting: 1 });
    } finally {
      await cleanup({ backend, collections: [], queues: names });
      await backend.close();
    }
  });

  it('every key of a queue, whatever operations made it, hashes to the slot of the queue', async () => {
    const backend = new ClusterQueueBackend();
    const queue = backend.queue<string>('one_slot');
    try {
      await queue.enqueue('a', { dedupeKey: 'k' });
      await queue.enqueue('b', { delayMs: 60_000 });
      await queue.enqueue('c');
      const [first, second] = await queue.dequeueMany(2);
      await queue.fail(first as Lease<string>, new Error('no'), { retry: false });
      await queue.complete(second as Lease<string>, 'ok');
      await queue.putSchedule({
        name: 'nightly',
        spec: { everyMs: 60_000 },
        payload: 'd',
        jobOptions: {},
        missed: 'once',
        overlap: 'allow',
        paused: false,
        nextRunAt: new Date(Date.now() + 60_000),
      });
      const base = queueKeyBase(keyPrefix, 'one_slot');
      const slot = await backend.client.cluster('KEYSLOT', base);
      const keys: string[] = [];
      await forEachKeyBatch(
        backend.client,
        prefixPattern(base),
        (_server, batch) => {
          keys.push(...batch.map((key) => key.toString()));
          return batch.length;
        },
        undefined,
        'scan',
      );
      expect(keys.length).toBeGreaterThan(8);
      for (const key of keys) expect([key, await backend.client.cluster('KEYSLOT', key)]).toStrictEqual([key, slot]);
    } finally {
      await cleanup({ backend, collections: [], queues: ['one_slot'] });
      await backend.close();
    }
  });

  it('an idle worker on one cluster client is woken by an enqueue through another (pub/sub across nodes)', async () => {
    const [workerSide, producerSide] = [new ClusterQueueBackend(), new ClusterQueueBackend()];
    const started: number[] = [];
    const worker = workerSide.queue<number>('wake').work(
      (job) => {
        started[job.payload] = performance.now();
      },
      { pollIntervalMs: 60_000 },
    );
    try {
      await new Promise((resolve) => setTimeout(resolve, 300));
      for (let n = 0; n < 5; n++) {
        const sent = performance.now();
        await producerSide.queue<number>('wake').enqueue(n);
        const deadline = Date.now() + 2_000;
        while (started[n] === undefined && Date.now() < deadline)
          await new Promise((resolve) => setTimeout(resolve, 1));
        expect(started[n], `job ${n} never started`).toBeDefined();
        expect((started[n] as number) - sent).toBeLessThan(500);
      }
    } finally {
      await worker.close();
      await cleanup({ backend: workerSide, collections: [], queues: ['wake'] });
      await workerSide.close();
      await producerSide.close();
    }
  });

  it('a master that may evict keys is found and refused, whichever master it is', async () => {
    const admin = cluster.client();
    await admin.ping();
    const last = admin.nodes('master').at(-1);
    expect(last).toBeDefined();
    try {
      await last?.config('SET', 'maxmemory-policy', 'volatile-lru');
      const backend = new ClusterQueueBackend();
      try {
        const error = await backend.connect().then(
          () => undefined,
          (refused: unknown) => refused,
        );
        expect(isBerthError(error, 'UNSUPPORTED'), String(error)).toBe(true);
        expect((error as Error).message).toContain('volatile-lru');
      } finally {
        await backend.close();
      }
    } finally {
      await last?.config('SET', 'maxmemory-policy', 'noeviction');
      admin.disconnect();
    }
  });
});

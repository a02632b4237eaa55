import { type CleanupInfo, queueConformance } from '@berth/conformance-tests';
import type { Capabilities, DocumentValue, HealthStatus, JobQueue, QueueBackend, QueueOptions } from '@berth/core';
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
});

import { type CleanupInfo, queueConformance } from '@berth/conformance-tests';
import { isBerthError, type Lease, type QueueBackend } from '@berth/core';
import { Cluster } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PrivateRedisCluster } from '../fixtures/redis-cluster.js';
import { collectionBases, dropTestKeys } from '../fixtures/redis-server.js';
import { RedisBackend } from '../redis-backend.js';
import { forEachKeyBatch, prefixPattern } from '../redis-scan.js';
import { queueKeyBase } from './redis-queue-rows.js';

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

/** A backend whose given cluster client is disconnected when it closes, so a run does not pile up connections. */
class ClusterTestBackend extends RedisBackend {
  override async close(): Promise<void> {
    await super.close();
    const client = this.native() as Cluster;
    client.disconnect();
    clients.delete(client);
  }
}

/**
 * A backend on a cluster client of its own, as another process would have.
 * The suite probes a backend while tests are registered, before the cluster
 * runs: its client never connects.
 */
function openOnCluster(): RedisBackend {
  const client =
    cluster === undefined ? new Cluster([{ host: '127.0.0.1', port: 1 }], { lazyConnect: true }) : cluster.client();
  clients.add(client);
  return new ClusterTestBackend({ client, keyPrefix });
}

/** The backend's cluster client. */
const clientOf = (backend: RedisBackend): Cluster => backend.native() as Cluster;

/** Deletes the test's keys on every master, after checking that nothing is left of a queue or collection it did not name. */
async function cleanup({ queues, collections }: CleanupInfo<QueueBackend>): Promise<void> {
  const client = cluster.client();
  try {
    const bases = [...queues.map((name) => queueKeyBase(keyPrefix, name)), ...collectionBases(keyPrefix, collections)];
    await dropTestKeys(client, keyPrefix, bases);
  } finally {
    client.disconnect();
  }
}

queueConformance({
  name: 'redis cluster',
  createBackend: openOnCluster,
  capabilities: openOnCluster().capabilities,
  cleanup,
  openSameStorage: openOnCluster,
  timeoutMs: 40_000,
});

describe('RedisQueues on a cluster', () => {
  it('queues spread over the masters, each queue on one slot', async () => {
    const backend = openOnCluster();
    const names = Array.from({ length: 12 }, (_, index) => `spread_${index}`);
    try {
      for (const name of names) await backend.queue(name).enqueue({ name }, { dedupeKey: 'k' });
      const slots = await Promise.all(
        names.map((name) => clientOf(backend).cluster('KEYSLOT', queueKeyBase(keyPrefix, name)) as Promise<number>),
      );
      const perNode = await Promise.all(
        clientOf(backend)
          .nodes('master')
          .map((node) => node.dbsize()),
      );
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
    const backend = openOnCluster();
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
      const slot = await clientOf(backend).cluster('KEYSLOT', base);
      const keys: string[] = [];
      await forEachKeyBatch(
        clientOf(backend),
        prefixPattern(base),
        (_server, batch) => {
          keys.push(...batch.map((key) => key.toString()));
          return batch.length;
        },
        undefined,
        'scan',
      );
      expect(keys.length).toBeGreaterThan(8);
      for (const key of keys) expect([key, await clientOf(backend).cluster('KEYSLOT', key)]).toStrictEqual([key, slot]);
    } finally {
      await cleanup({ backend, collections: [], queues: ['one_slot'] });
      await backend.close();
    }
  });

  it('an idle worker on one cluster client is woken by an enqueue through another (pub/sub across nodes)', async () => {
    const [workerSide, producerSide] = [openOnCluster(), openOnCluster()];
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
      const backend = openOnCluster();
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

import { type CleanupInfo, cacheConformance, repositoryConformance } from '@berth/conformance-tests';
import type { RepositoryBackend } from '@berth/core';
import type { Cluster } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PrivateRedisCluster } from './fixtures/redis-cluster.js';
import { collectionBases, dropTestKeys, uniqueKeyPrefix } from './fixtures/redis-server.js';
import { REDIS_QUEUE_CAPABILITIES } from './queue/redis-queues.js';
import { RedisBackend } from './redis-backend.js';
import { RedisCache } from './redis-cache.js';
import { readAtomically } from './redis-collection-loader.js';
import { RedisCollectionKeys } from './redis-keys.js';
import { forEachKeyBatch, prefixPattern } from './redis-scan.js';

// A three-master cluster of the file's own: the cache on a `Cluster` client,
// whose keys spread over the slots and nodes, SCAN and UNLINK on every master.
let cluster: PrivateRedisCluster;
let client: Cluster;

beforeAll(async () => {
  cluster = await PrivateRedisCluster.start();
  client = cluster.client();
}, 60_000);

/** Clients of the second backends the shared-storage cases open (as another process would). */
const others: Cluster[] = [];

afterAll(async () => {
  client?.disconnect();
  for (const other of others) other.disconnect();
  await cluster?.stop();
});

cacheConformance({
  name: 'redis cluster',
  createCache: ({ namespace }) => new RedisCache({ client, keyPrefix: namespace }),
  capabilities: { lru: false },
});

/** What the cluster client declares: transactions cover one collection (one slot). */
const clusterCapabilities = (): RedisBackend['capabilities'] => ({
  repository: {
    transactions: 'single-collection',
    uniqueIndexes: true,
    durable: true,
    concurrentBackends: true,
    maxDocumentBytes: 16 * 1024 * 1024,
  },
  queue: REDIS_QUEUE_CAPABILITIES,
});

/** Fails when a test left keys outside the collections it named, and removes its keys. */
async function cleanup({ backend, collections }: CleanupInfo<RepositoryBackend>): Promise<void> {
  const { keyPrefix } = backend as RedisBackend;
  await dropTestKeys(client, keyPrefix, collectionBases(keyPrefix, collections), { dropStrays: true });
}

repositoryConformance({
  name: 'redis cluster',
  createBackend: () => new RedisBackend({ client, keyPrefix: uniqueKeyPrefix('cluster') }),
  capabilities: clusterCapabilities(),
  cleanup,
  openSameStorage: (first) => {
    const other = cluster.client();
    others.push(other);
    return new RedisBackend({ client: other, keyPrefix: (first as RedisBackend).keyPrefix });
  },
});

describe('RedisBackend on a cluster', () => {
  it('declares single-collection transactions, as the conformance run above assumes', () => {
    expect(new RedisBackend({ client, keyPrefix: 'caps:' }).capabilities).toStrictEqual(clusterCapabilities());
  });

  it('every key of a collection is in one slot (CLUSTER KEYSLOT) and under the prefix', async () => {
    const keyPrefix = uniqueKeyPrefix('slots');
    const backend = new RedisBackend({ client, keyPrefix });
    const users = backend.repository('users', {
      indexes: [
        { field: 'email', type: 'string', unique: true },
        { field: 'team', type: 'string' },
      ],
    });
    await users.insertMany(
      Array.from({ length: 20 }, (_, index) => ({
        id: `u${index}`,
        email: `${index}@example.com`,
        team: `t${index % 4}`,
      })),
    );
    await users.updateMany({ team: 't1' }, { team: 't2' });
    const keys: string[] = [];
    await forEachKeyBatch(
      client,
      prefixPattern(keyPrefix),
      (_, batch) => {
        for (const key of batch) keys.push(key.toString());
        return batch.length;
      },
      undefined,
      'keys',
    );
    expect(keys.length).toBeGreaterThan(20);
    const slots = new Set<number>();
    for (const key of keys) {
      expect(key.startsWith(`${keyPrefix}{users}:`)).toBe(true);
      slots.add((await client.call('CLUSTER', 'KEYSLOT', key)) as number);
    }
    expect(slots.size).toBe(1);
    await backend.close();
  });
});

describe('RedisBackend atomic reads on a cluster', () => {
  it('the one-script read (the fallback under constant writes) reaches the documents of its collection slot', async () => {
    const keyPrefix = uniqueKeyPrefix('atomic');
    const backend = new RedisBackend({ client, keyPrefix });
    const users = backend.repository('users', { indexes: [{ field: 'team', type: 'string' }] });
    await users.insertMany(Array.from({ length: 30 }, (_, index) => ({ id: `u${index}`, team: `t${index % 3}` })));
    const keys = new RedisCollectionKeys(keyPrefix, 'users');
    const all = await readAtomically(client, keys, { kind: 'all' });
    expect(all.records.map((record) => record.document.id).sort()).toStrictEqual(
      (await users.find()).map((user) => user.id).sort(),
    );
    const some = await readAtomically(client, keys, { kind: 'ids', ids: ['u1', 'u2', 'missing'] });
    expect(some.records.map((record) => record.document.id)).toStrictEqual(['u1', 'u2']);
    await backend.close();
  });
});

describe('RedisCache on a cluster', () => {
  it('keys spread over every master, and deleteByPrefix and size reach them all', async () => {
    const cache = new RedisCache({ client, keyPrefix: 'spread:' });
    for (let index = 0; index < 300; index++) await cache.set(`k${index}`, index);
    const perNode = await Promise.all(client.nodes('master').map((node) => node.dbsize()));
    expect(
      perNode.every((count) => count > 0),
      String(perNode),
    ).toBe(true);
    expect((await cache.stats()).size).toBe(300);
    expect(await cache.deleteByPrefix('k1')).toBe(111);
    expect(await cache.deleteByPrefix('')).toBe(189);
    await cache.close();
  });
});

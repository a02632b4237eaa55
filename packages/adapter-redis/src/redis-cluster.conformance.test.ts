import { cacheConformance } from '@berth/conformance-tests';
import type { Cluster } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PrivateRedisCluster } from './fixtures/redis-cluster.js';
import { RedisCache } from './redis-cache.js';

// A three-master cluster of the file's own: the cache on a `Cluster` client,
// whose keys spread over the slots and nodes, SCAN and UNLINK on every master.
let cluster: PrivateRedisCluster;
let client: Cluster;

beforeAll(async () => {
  cluster = await PrivateRedisCluster.start();
  client = cluster.client();
}, 60_000);

afterAll(async () => {
  client?.disconnect();
  await cluster?.stop();
});

cacheConformance({
  name: 'redis cluster',
  createCache: ({ namespace }) => new RedisCache({ client, keyPrefix: namespace }),
  capabilities: { lru: false },
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

import { setTimeout as sleep } from 'node:timers/promises';
import { RedisBackend } from '@berth/adapter-redis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { hero, heroId, SIZE } from '../heroes.js';
import { type PeerLibrary, task } from '../peers/peer-queue.js';
import { handoffs, payloads } from '../peers/peer-runs.js';
import {
  berthRedisQueue,
  berthRedisQueuePeer,
  berthRedisQueueRemoteWorkerPeer,
  openBerthRedisRepositories,
} from './berth-redis-peer.js';
import { BenchPrefixes, checkedPrefix, redisUrl, scanKeys } from './redis-server.js';

// Berth's peers must really do the work the rows time (documents stored
// and found through the index, every job handled once, nothing left
// waiting), and keep every key under the prefix the bench deletes.

const prefixes = new BenchPrefixes();
beforeAll(() => prefixes.reachable());
afterAll(() => prefixes.dropAll());

describe.each([
  ['berthRedisQueuePeer', berthRedisQueuePeer],
  ['berthRedisQueuePrefetch100', berthRedisQueue(100)],
  ['berthRedisQueueRemoteWorkerPeer', berthRedisQueueRemoteWorkerPeer],
] as [string, PeerLibrary][])('%s', (label, library) => {
  it('handles every job of a filled queue once at concurrency 10, all its keys under its prefix', async () => {
    const prefix = prefixes.next(`test_${label}`);
    const queue = await library.open(prefix);
    try {
      await queue.fill(payloads(500));
      await queue.enqueue(task(500));
      await queue.enqueueBatch(payloads(99, 501));
      expect(await queue.remaining()).toBe(600);
      let starts = 0;
      const worker = queue.work(10, () => {
        starts += 1;
      });
      await worker.ready;
      while ((await queue.remaining()) > 0) await sleep(5);
      await worker.stop();
      expect(starts).toBe(600);
      // 600 starts and 600 completions: each job ran once, none twice while another never did.
      const observer = new RedisBackend({ url: redisUrl(), keyPrefix: prefix });
      try {
        expect(await observer.queue('jobs').stats()).toEqual({
          waiting: 0,
          active: 0,
          completed: 600,
          dead: 0,
          cancelled: 0,
        });
      } finally {
        await observer.close();
      }
      expect(queue.durability()).toMatch(/^Redis \d/);
      const tagged = await scanKeys(prefixes.redis, `*${prefix.slice('bench:'.length, -1)}*`);
      expect(tagged.length).toBeGreaterThan(0);
      expect(tagged.filter((key) => !key.startsWith(prefix))).toEqual([]);
    } finally {
      await queue.close();
    }
    await prefixes.drop(prefix);
    expect(await scanKeys(prefixes.redis, `${checkedPrefix(prefix)}*`)).toEqual([]);
  });

  it('hands each job to an idle worker', async () => {
    const prefix = prefixes.next(`test_idle_${label}`);
    const queue = await library.open(prefix);
    try {
      const latencies = await handoffs(queue, 5);
      expect(latencies).toHaveLength(5);
      for (const ns of latencies) expect(ns).toBeGreaterThan(0);
    } finally {
      await queue.close();
      await prefixes.drop(prefix);
    }
  });
});

describe('openBerthRedisRepositories', () => {
  it('stores, updates and finds by the level index what the bench asks, every key under its prefix', async () => {
    const prefix = prefixes.next('test_berth_repo');
    const berth = await openBerthRedisRepositories(prefix);
    try {
      const heroes = berth.repository('heroes');
      expect(berth.repository('heroes')).toBe(heroes);
      const documents = Array.from({ length: SIZE }, (_, i) => hero(i));
      await heroes.insertMany(documents);
      expect(await heroes.count()).toBe(SIZE);
      expect(await heroes.get(heroId(7))).toEqual(hero(7));
      expect(await heroes.get('missing')).toBeNull();
      const expected = documents.filter((h) => h.level === 42);
      expect(expected).toHaveLength(100);
      expect(await heroes.find({ where: { level: 42 } })).toEqual(expected);
      expect(await heroes.explain({ where: { level: 42 } })).toMatchObject({ strategy: 'index' });
      const updated = await heroes.update(heroId(42), { $inc: { level: 1 } });
      expect(updated.level).toBe(hero(42).level + 1);
      expect((await heroes.find({ where: { level: 42 } })).map((h) => h.id)).not.toContain(heroId(42));
      await heroes.insert(hero(SIZE * 10));
      await expect(heroes.insert(hero(SIZE * 10))).rejects.toMatchObject({ code: 'ALREADY_EXISTS' });
      const tagged = await scanKeys(prefixes.redis, `*${prefix.slice('bench:'.length, -1)}*`);
      expect(tagged.length).toBeGreaterThan(SIZE);
      expect(tagged.filter((key) => !key.startsWith(prefix))).toEqual([]);
    } finally {
      await berth.close();
    }
    await prefixes.drop(prefix);
    expect(await scanKeys(prefixes.redis, `${checkedPrefix(prefix)}*`)).toEqual([]);
  });
});

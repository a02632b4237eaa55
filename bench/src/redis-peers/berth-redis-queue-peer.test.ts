import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type PeerLibrary, task } from '../peers/peer-queue.js';
import { handoffs, payloads } from '../peers/peer-runs.js';
import { berthRedisQueuePeer, berthRedisQueueRemoteWorkerPeer } from './berth-redis-queue-peer.js';
import { BenchPrefixes, checkedPrefix, scanKeys } from './redis-server.js';

// Berth's queue peers must really process what they are given, leave
// nothing waiting, and keep every key under the prefix the bench deletes.

const prefixes = new BenchPrefixes();
beforeAll(() => prefixes.reachable());
afterAll(() => prefixes.dropAll());

describe.each([
  ['berthRedisQueuePeer', berthRedisQueuePeer],
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

import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { task } from '../peers/peer-queue.js';
import { handoffs, payloads } from '../peers/peer-runs.js';
import { bullmqPeer } from './bullmq-peer.js';
import { BenchPrefixes, checkedPrefix, scanKeys } from './redis-server.js';

// The BullMQ peer must really process what it is given, leave nothing
// waiting, and keep every key under the prefix the bench deletes.

const prefixes = new BenchPrefixes();
beforeAll(() => prefixes.reachable());
afterAll(() => prefixes.dropAll());

describe('bullmqPeer', () => {
  it('handles every job of a filled queue once at concurrency 10, all its keys under its prefix', async () => {
    const prefix = prefixes.next('test_bullmq');
    const queue = await bullmqPeer().open(prefix);
    try {
      await queue.fill(payloads(500));
      await queue.enqueue(task(500));
      await queue.enqueueBatch(payloads(99, 501));
      expect(await queue.remaining()).toBe(600);
      let handled = 0;
      const worker = queue.work(10, () => {
        handled += 1;
      });
      await worker.ready;
      while ((await queue.remaining()) > 0) await sleep(5);
      await worker.stop();
      expect(handled).toBe(600);
      expect(queue.durability()).toMatch(/^Redis \d/);
      // The run tag is in the prefix; any key holding it must lie under the prefix.
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
    const prefix = prefixes.next('test_idle');
    const queue = await bullmqPeer().open(prefix);
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

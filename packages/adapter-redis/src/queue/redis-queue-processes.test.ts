import type { ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { checkKilledWorkerLedger, type QueueProcess, startQueueProcess } from '@berth/conformance-tests/processes';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { REDIS_URL, rawClient, requireRedis, uniqueKeyPrefix } from '../fixtures/redis-server.js';
import { forEachKeyBatch, prefixPattern, unlinkKeys } from '../redis-scan.js';
import { RedisQueues } from './redis-queues.js';

const directory = mkdtempSync(join(tmpdir(), 'berth-redis-queue-processes-'));
const started = new Set<ChildProcess>();
const keyPrefix = uniqueKeyPrefix('queue_processes');
beforeAll(requireRedis);
afterAll(async () => {
  // A case that failed or timed out leaves no worker behind.
  for (const child of started) if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  rmSync(directory, { recursive: true, force: true });
  const client = rawClient();
  await client.connect();
  await forEachKeyBatch(client, prefixPattern(keyPrefix), unlinkKeys, undefined, 'cleanup');
  client.disconnect();
});

const fixture = fileURLToPath(new URL('../fixtures/redis-queue-worker.ts', import.meta.url));
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

const JOBS = 20_000;
const CONCURRENCY = 8;
const LEASE_MS = 3_000;
const VICTIM = 'B';

describe('RedisJobQueue across processes', () => {
  it(`4 worker processes process ${JOBS} jobs; only the jobs in flight in a SIGKILLed worker run twice`, async () => {
    const ledger = join(directory, 'ledger.txt');
    writeFileSync(ledger, '');
    const client = rawClient();
    await client.connect();
    const queues = new RedisQueues({ client, keyPrefix });
    const queue = queues.queue<{ n: number }>('jobs');
    const ids: string[] = [];
    for (let start = 0; start < JOBS; start += 1_000) {
      const batch = Array.from({ length: 1_000 }, (_, k) => ({ payload: { n: start + k } }));
      for (const result of await queue.enqueueMany(batch)) ids.push(result.id);
    }

    const children = ['A', VICTIM, 'C', 'D'].map((name) => {
      const child = startQueueProcess(
        fixture,
        [REDIS_URL, keyPrefix, ledger, name, String(CONCURRENCY), String(LEASE_MS)],
        name,
      );
      started.add(child.process);
      return child;
    });
    const victim = children[1] as QueueProcess;
    try {
      // Start together: a worker still loading must not find the jobs gone.
      await Promise.all(children.map((child) => child.waitFor('READY', 90_000)));
      for (const child of children) child.process.stdin?.write('go\n');
      // Kill the victim mid-stream, with jobs in its hands.
      await victim.waitFor('RUNS 1000', 90_000);
      victim.process.kill('SIGKILL');
      await victim.exited;
      expect(victim.process.signalCode).toBe('SIGKILL');

      const deadline = Date.now() + 120_000;
      while ((await queue.stats()).completed < JOBS && Date.now() < deadline) await sleep(100);
      expect(await queue.stats()).toStrictEqual({ waiting: 0, active: 0, completed: JOBS, dead: 0, cancelled: 0 });
    } finally {
      for (const child of children) child.process.stdin?.end('stop\n');
      await Promise.all(children.map((child) => child.exited));
    }
    // The survivors closed their workers and clients cleanly.
    expect(children.filter((child) => child !== victim).map((child) => child.process.exitCode)).toStrictEqual([
      0, 0, 0,
    ]);

    const summary = await checkKilledWorkerLedger({ queue, ids, ledger, victim: VICTIM, concurrency: CONCURRENCY });
    console.log(
      `ledger: ${summary.totalRuns} runs for ${JOBS} jobs; ${summary.twice} ran twice (in flight in the killed worker), ` +
        `${summary.claimedNeverStarted} leased by it but never started; runs per worker: ${JSON.stringify(summary.runsPerWorker)}`,
    );
    await queues.close();
    client.disconnect();
  }, 300_000);
});

import type { ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { startQueueProcess } from '@berth/conformance-tests/processes';
import type { JobEvent } from '@berth/core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { eventually, REDIS_URL, rawClient, requireRedis, uniqueKeyPrefix } from '../fixtures/redis-server.js';
import { forEachKeyBatch, prefixPattern, unlinkKeys } from '../redis-scan.js';
import { eventChannel, queueKeyBase } from './redis-queue-rows.js';
import { RedisQueues } from './redis-queues.js';

const directory = mkdtempSync(join(tmpdir(), 'berth-redis-queue-events-'));
const started = new Set<ChildProcess>();
const keyPrefix = uniqueKeyPrefix('queue_events_processes');
beforeAll(requireRedis);
afterAll(async () => {
  for (const child of started) if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  rmSync(directory, { recursive: true, force: true });
  const client = rawClient();
  await client.connect();
  await forEachKeyBatch(client, prefixPattern(keyPrefix), unlinkKeys, undefined, 'cleanup');
  client.disconnect();
});

const fixture = fileURLToPath(new URL('../fixtures/redis-queue-event-worker.ts', import.meta.url));

describe('RedisJobQueue global events across processes', () => {
  it('a subscriber in this process sees the events of the jobs a worker process drives, as that process saw them', async () => {
    const file = join(directory, 'events.json');
    const client = rawClient();
    await client.connect();
    const queues = new RedisQueues({ client, keyPrefix });
    const seen: JobEvent[] = [];
    const stop = queues.queue<string>('watched').subscribe((event) => seen.push(event));
    const child = startQueueProcess(fixture, [REDIS_URL, keyPrefix, file], 'events');
    started.add(child.process);
    try {
      await child.waitFor('READY', 90_000);
      // Both this process and the worker listen (the worker drops its own copies).
      const channel = eventChannel(queueKeyBase(keyPrefix, 'watched'));
      await eventually(async () => expect(await client.pubsub('NUMSUB', channel)).toStrictEqual([channel, 2]), 5_000);
      child.process.stdin?.write('go\n');
      await child.waitFor('DONE', 60_000);
      const theirs = JSON.parse(readFileSync(file, 'utf8')) as unknown[];
      // Fine: started, progress, completed; flaky: started, progress, failed, then the same as fine; broken: started, progress, dead.
      const counts: Record<string, number> = {};
      for (const { type } of theirs as JobEvent[]) counts[type] = (counts[type] ?? 0) + 1;
      expect(counts).toStrictEqual({ enqueued: 3, started: 4, progress: 4, completed: 2, failed: 1, dead: 1 });
      await eventually(async () => expect(seen).toHaveLength(theirs.length), 5_000);
      expect(JSON.parse(JSON.stringify(seen))).toStrictEqual(theirs);
      expect(seen.every((event) => event.at instanceof Date)).toBe(true);
      const failed = seen.find((event) => event.type === 'failed');
      expect(failed?.type === 'failed' && failed.retryAt).toBeInstanceOf(Date);
      expect(failed?.type === 'failed' && failed.error.at).toBeInstanceOf(Date);
    } finally {
      child.process.stdin?.end();
      await child.exited;
      stop();
      await queues.close();
      client.disconnect();
    }
    expect(child.process.exitCode).toBe(0);
  }, 120_000);
});

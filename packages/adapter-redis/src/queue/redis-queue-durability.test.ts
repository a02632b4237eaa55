import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Lease } from '@berth/core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PrivateRedis, rawClient } from '../fixtures/redis-server.js';
import { RedisQueues } from './redis-queues.js';

describe('RedisJobQueue durability (a private server with appendfsync always)', () => {
  const directory = mkdtempSync(join(tmpdir(), 'berth-redis-aof-'));
  let server: PrivateRedis;

  beforeAll(async () => {
    server = await PrivateRedis.start({ appendOnlyDir: directory });
  }, 30_000);

  afterAll(async () => {
    await server?.kill();
    rmSync(directory, { recursive: true, force: true });
  });

  it('after SIGKILL and a restart, every acknowledged enqueue, completion and failure is there, counters included', async () => {
    const open = async () => {
      const client = rawClient(server.url);
      await client.connect();
      return { client, queues: new RedisQueues({ client, keyPrefix: 'aof:' }) };
    };
    const before = await open();
    const queue = before.queues.queue<{ n: number }>('jobs');
    const ids = (await queue.enqueueMany(Array.from({ length: 500 }, (_, n) => ({ payload: { n } })))).map(
      (result) => result.id,
    );
    for (let n = 0; n < 100; n++) await queue.enqueue({ n: 500 + n }, { dedupeKey: `k${n}` });
    const leases = (await queue.dequeueMany(300)) as Lease<{ n: number }>[];
    const settled = await queue.settleAndClaim?.(
      leases
        .slice(0, 200)
        .map((lease, n) =>
          n % 2 === 0
            ? { lease, outcome: 'complete' as const, result: { n } }
            : { lease, outcome: 'fail' as const, error: new Error('boom'), retry: false },
        ),
      0,
    );
    expect(settled?.outcomes.every((outcome) => outcome.error === undefined)).toBe(true);
    const stats = await queue.stats();
    expect(stats).toStrictEqual({ waiting: 300, active: 100, completed: 100, dead: 100, cancelled: 0 });
    const first = await queue.get(ids[0] as string);

    await server.kill();
    before.client.disconnect();
    await server.start();

    const after = await open();
    try {
      const reopened = after.queues.queue<{ n: number }>('jobs');
      expect(await reopened.stats()).toStrictEqual(stats);
      expect(await reopened.get(ids[0] as string)).toStrictEqual(first);
      // The dedupe keys and the fencing counter survived: no second job for a key, no reused token.
      expect((await reopened.enqueue({ n: -1 }, { dedupeKey: 'k7' })).deduplicated).toBe(true);
      const held = leases[250] as Lease<{ n: number }>;
      await reopened.complete(held, 'after restart');
      const fresh = await reopened.dequeueMany(10);
      const tokens = new Set(leases.map((lease) => lease.token));
      expect(fresh.every((lease) => !tokens.has(lease.token))).toBe(true);
    } finally {
      await after.queues.close();
      after.client.disconnect();
    }
  }, 60_000);
});

import { type BerthErrorCode, isBerthError, type JobQueue, type Lease } from '@berth/core';
import type { Redis } from 'ioredis';
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { PrivateRedis, rawClient, rejection, requireRedis, uniqueKeyPrefix } from '../fixtures/redis-server.js';
import { forEachKeyBatch, prefixPattern, unlinkKeys } from '../redis-scan.js';
import { RedisQueues, type RedisQueuesConfig } from './redis-queues.js';

const keyPrefix = uniqueKeyPrefix('job_queue');
const opened: { queues: RedisQueues; client: Redis }[] = [];

/** RedisQueues on a client of its own, as another process would have; closed after the test. */
async function open(config: Partial<RedisQueuesConfig> = {}, url?: string): Promise<RedisQueues> {
  const client = rawClient(url);
  await client.connect();
  const queues = new RedisQueues({ client, keyPrefix, ...config });
  opened.push({ queues, client });
  return queues;
}

function expectCode(error: unknown, code: BerthErrorCode): void {
  expect(isBerthError(error, code), String(error)).toBe(true);
}

beforeAll(requireRedis);

afterEach(async () => {
  for (const { queues, client } of opened.splice(0)) {
    await queues.close();
    client.disconnect();
  }
});

afterAll(async () => {
  const client = rawClient();
  await client.connect();
  await forEachKeyBatch(client, prefixPattern(keyPrefix), unlinkKeys, undefined, 'cleanup');
  client.disconnect();
});

describe('RedisJobQueue leases', () => {
  it('two processes racing on one queue claim each job once, and each lease completes', async () => {
    const [first, second] = [await open(), await open()];
    const name = 'race';
    const ids = (
      await first.queue<number>(name).enqueueMany(Array.from({ length: 600 }, (_, n) => ({ payload: n })))
    ).map((result) => result.id);
    const claimed: Lease<number>[][] = [[], []];
    await Promise.all(
      [first, second].map(async (queues, index) => {
        const queue = queues.queue<number>(name);
        for (;;) {
          const leases = await queue.dequeueMany(7);
          if (leases.length === 0) return;
          claimed[index]?.push(...leases);
        }
      }),
    );
    const all = [...(claimed[0] ?? []), ...(claimed[1] ?? [])];
    expect(all.map((lease) => lease.job.id).sort()).toStrictEqual([...ids].sort());
    expect(new Set(all.map((lease) => lease.token)).size).toBe(all.length);
    expect(claimed[0]?.length).toBeGreaterThan(0);
    expect(claimed[1]?.length).toBeGreaterThan(0);
    // Completing through the other process's client works: the token is the fence, not the connection.
    await Promise.all(all.map((lease, n) => (n % 2 === 0 ? first : second).queue(name).complete(lease, n)));
    expect(await first.queue(name).stats()).toStrictEqual({
      waiting: 0,
      active: 0,
      completed: 600,
      dead: 0,
      cancelled: 0,
    });
  });

  it('enqueues racing on one dedupe key from two processes create exactly one job', async () => {
    const [first, second] = [await open(), await open()];
    const results = await Promise.all(
      Array.from({ length: 40 }, (_, n) =>
        (n % 2 === 0 ? first : second).queue<number>('dedupe').enqueue(n, { dedupeKey: 'one' }),
      ),
    );
    const created = results.filter((result) => !result.deduplicated);
    expect(created).toHaveLength(1);
    expect(new Set(results.map((result) => result.id))).toStrictEqual(new Set([created[0]?.id]));
    expect(await first.queue('dedupe').stats()).toMatchObject({ waiting: 1 });
  });

  it('an expired lease goes to the next claimer; the old holder can neither complete, extend, fail nor release', async () => {
    const [first, second] = [await open(), await open()];
    const queueA = first.queue<string>('expiry');
    const queueB = second.queue<string>('expiry');
    const { id } = await queueA.enqueue('x', { leaseMs: 40 });
    const stale = (await queueA.dequeue()) as Lease<string>;
    expect(stale.job.attempts).toBe(1);
    await new Promise((resolve) => setTimeout(resolve, 80));
    const fresh = (await queueB.dequeue()) as Lease<string>;
    expect(fresh.job.id).toBe(id);
    expect(fresh.job.attempts).toBe(2);
    expect(fresh.token).not.toBe(stale.token);
    expect(fresh.job.errors.map((error) => error.message)).toStrictEqual(['lease expired']);
    for (const attempt of [
      () => queueA.complete(stale, 'late'),
      () => queueA.extendLease(stale),
      () => queueA.fail(stale, new Error('late')),
      () => queueA.release(stale),
      () => queueA.progress(stale, 1),
    ]) {
      const error = await rejection(attempt());
      expectCode(error, 'CONFLICT');
      expect((error as Error).message).toContain('leased again');
    }
    await queueB.complete(fresh, 'done');
    expect(await queueA.get(id)).toMatchObject({ state: 'completed', result: 'done', attempts: 2 });
  });

  it('an idle worker of another process starts a job within milliseconds of the enqueue (pub/sub, no polling)', async () => {
    const [workerSide, producerSide] = [await open(), await open()];
    const started: number[] = [];
    const worker = workerSide.queue<number>('wake').work(
      (job) => {
        started[job.payload] = performance.now();
      },
      { pollIntervalMs: 60_000 },
    );
    try {
      // The first claim (on an empty queue) and the subscription settle before measuring.
      await new Promise((resolve) => setTimeout(resolve, 200));
      const latencies: number[] = [];
      for (let n = 0; n < 20; n++) {
        const sent = performance.now();
        await producerSide.queue<number>('wake').enqueue(n);
        const deadline = Date.now() + 2_000;
        while (started[n] === undefined && Date.now() < deadline) await new Promise((resolve) => setImmediate(resolve));
        expect(started[n], `job ${n} never started`).toBeDefined();
        latencies.push((started[n] as number) - sent);
      }
      latencies.sort((a, b) => a - b);
      const p50 = latencies[10] as number;
      console.log(`idle latency across clients: p50 ${p50.toFixed(2)} ms, max ${latencies.at(-1)?.toFixed(2)} ms`);
      // Without the wake-up the worker would sleep for its 60 s poll interval.
      expect(p50).toBeLessThan(50);
    } finally {
      await worker.close();
    }
  });
});

describe('RedisJobQueue active listing', () => {
  /** Every page of `state` in `order`, `limit` at a time, as ids. */
  async function pagedIds(queue: JobQueue<number>, state: 'waiting' | 'active', order: 'oldest' | 'newest') {
    const ids: string[] = [];
    let cursor: string | undefined;
    do {
      const page = await queue.listJobs({ state, order, limit: 3, cursor });
      ids.push(...page.jobs.map((job) => job.id));
      cursor = page.cursor;
    } while (cursor !== undefined);
    return ids;
  }

  it('pages active jobs in the order and with the cursors of the waiting listing, and drops them as they settle', async () => {
    // Active jobs are listed from the lease set (no listing set of their own): the waiting listing, served by
    // its own set, is the reference order, with createdAt ties (one enqueueMany) broken by id.
    const queue = (await open()).queue<number>('active_listing');
    await queue.enqueueMany(Array.from({ length: 11 }, (_, n) => ({ payload: n })));
    for (let n = 11; n < 14; n += 1) await queue.enqueue(n);
    const oldest = await pagedIds(queue, 'waiting', 'oldest');
    const newest = await pagedIds(queue, 'waiting', 'newest');
    expect(oldest).toHaveLength(14);
    expect(newest).toStrictEqual([...oldest].reverse());
    const leases = await queue.dequeueMany(14, { leaseMs: 60_000 });
    expect(leases).toHaveLength(14);
    expect(await pagedIds(queue, 'waiting', 'oldest')).toStrictEqual([]);
    expect(await pagedIds(queue, 'active', 'oldest')).toStrictEqual(oldest);
    expect(await pagedIds(queue, 'active', 'newest')).toStrictEqual(newest);
    const all = await queue.listJobs({ order: 'oldest', limit: 20 });
    expect(all.jobs.map((job) => [job.id, job.state])).toStrictEqual(oldest.map((id) => [id, 'active']));
    const settled = new Set<string>();
    for (const [n, lease] of leases.entries()) {
      if (n % 3 !== 0) continue;
      await (n % 2 === 0 ? queue.complete(lease) : queue.release(lease));
      settled.add(lease.job.id);
    }
    const still = oldest.filter((id) => !settled.has(id));
    expect(await pagedIds(queue, 'active', 'oldest')).toStrictEqual(still);
    expect(await pagedIds(queue, 'active', 'newest')).toStrictEqual([...still].reverse());
    expect((await queue.stats()).active).toBe(still.length);
  });
});

describe('RedisJobQueue due times', () => {
  it('runAt at the ends of the Date range is stored as given and ordered by it', async () => {
    const queue = (await open()).queue<string>('extremes');
    const first = new Date(-8_640_000_000_000_000);
    const last = new Date(8_640_000_000_000_000);
    await queue.enqueue('now');
    await queue.enqueue('ancient', { runAt: first });
    await queue.enqueue('before now', { runAt: new Date(Date.now() - 1_000) });
    const { id } = await queue.enqueue('never', { runAt: last });
    expect((await queue.get(id))?.runAt).toStrictEqual(last);
    const leases = await queue.dequeueMany(10);
    expect(leases.map((lease) => lease.job.payload)).toStrictEqual(['ancient', 'before now', 'now']);
    expect(leases[0]?.job.runAt).toStrictEqual(first);
    expect(await queue.stats()).toMatchObject({ waiting: 1, active: 3 });
  });
});

describe('RedisJobQueue input stays data', () => {
  it('injection-shaped names are VALIDATION; payloads, dedupe keys and ids round-trip or miss as plain data', async () => {
    const queues = await open();
    for (const name of ['a}b', "q'); redis.call('FLUSHALL') --", '{q:x}', 'a:b', 'x*', '']) {
      expectCode(await rejection(Promise.resolve().then(() => queues.queue(name))), 'VALIDATION');
    }
    const queue: JobQueue<unknown> = queues.queue('inject');
    const hostile = [
      "') redis.call('FLUSHALL') --",
      ']] .. redis.call("DEL", KEYS[1]) .. [[',
      '{q:other}:j:x',
      '\u0000nul\u0000',
      '😀 astral 𝄞',
      'e\u0301 é É e ',
      '__proto__',
    ];
    // U+0000 is refused by core's value rules (VALIDATION), before anything is written.
    expectCode(await rejection(queue.enqueue({ text: '\u0000' })), 'VALIDATION');
    expectCode(await rejection(queue.enqueue('x', { dedupeKey: 'a\u0000b' })), 'VALIDATION');
    expectCode(await rejection(queue.enqueue(JSON.parse('{"__proto__":{"polluted":true}}'))), 'VALIDATION');
    expect(await queue.stats()).toMatchObject({ waiting: 0 });
    const payload = {
      strings: hostile.filter((text) => !text.includes('\u0000')),
      own: { constructor: 'prototype', prototype: { toString: 'x' }, hasOwnProperty: 1 },
      numbers: [2 ** 53 + 2, -0, 5e-324, 1e308, -1e308],
      nested: JSON.parse(`${'['.repeat(60)}1${']'.repeat(60)}`),
      when: new Date(Date.UTC(2026, 10, 26)),
    };
    const ids: string[] = [];
    for (const key of hostile.filter((text) => !text.includes('\u0000'))) {
      const first = await queue.enqueue(payload, { dedupeKey: key });
      const again = await queue.enqueue('other', { dedupeKey: key });
      expect(again).toStrictEqual({ id: first.id, deduplicated: true });
      ids.push(first.id);
    }
    const job = await queue.get(ids[0] as string);
    // docs/semantics.md: -0 is stored as 0; every other number comes back exactly.
    expect(job?.payload).toStrictEqual({ ...payload, numbers: [2 ** 53 + 2, 0, 5e-324, 1e308, -1e308] });
    expect(job?.dedupeKey).toBe(hostile[0]);
    for (const id of hostile) {
      expect(await queue.get(id)).toBeNull();
      expect(await queue.cancel(id)).toBe(false);
      expect(await queue.retry(id)).toBe(false);
      expectCode(await rejection(queue.complete({ job: { id }, token: id })), 'CONFLICT');
    }
    expect(await queue.stats()).toMatchObject({ waiting: ids.length });
  });

  it('every key of a queue sits under the prefix and carries its hash tag', async () => {
    const queues = await open();
    const queue = queues.queue<string>('layout');
    await queue.enqueue('a', { dedupeKey: 'k' });
    await queue.enqueue('b', { delayMs: 60_000 });
    const lease = (await queue.dequeue()) as Lease<string>;
    await queue.fail(lease, new Error('no'), { retry: false });
    await queue.putSchedule({
      name: 'nightly',
      spec: { everyMs: 60_000 },
      payload: 'c',
      jobOptions: {},
      missed: 'once',
      overlap: 'allow',
      paused: false,
      nextRunAt: new Date(Date.now() + 60_000),
    });
    const client = rawClient();
    await client.connect();
    const keys: string[] = [];
    await forEachKeyBatch(
      client,
      prefixPattern(`${keyPrefix}{q:layout}`),
      (_server, batch) => {
        keys.push(...batch.map((key) => key.toString()));
        return batch.length;
      },
      undefined,
      'scan',
    );
    client.disconnect();
    expect(keys.length).toBeGreaterThan(5);
    for (const key of keys) expect(key.startsWith(`${keyPrefix}{q:layout}:`), key).toBe(true);
  });
});

describe('maxmemory-policy check (a private server)', () => {
  let server: PrivateRedis;

  beforeAll(async () => {
    server = await PrivateRedis.start();
    const admin = rawClient(server.url);
    await admin.connect();
    await admin.config('SET', 'maxmemory-policy', 'allkeys-lru');
    // A user without CONFIG, as on a managed Redis that refuses it.
    await admin.call('ACL', 'SETUSER', 'limited', 'on', 'nopass', '~*', '&*', '+@all', '-config');
    admin.disconnect();
  }, 30_000);

  afterAll(() => server?.kill());

  it('a server that may evict keys is refused with UNSUPPORTED by default, and nothing is written', async () => {
    const queues = await open({}, server.url);
    const error = await rejection(queues.queue('evict').enqueue('x'));
    expectCode(error, 'UNSUPPORTED');
    expect((error as Error).message).toContain('allkeys-lru');
    expectCode(await rejection(queues.connect()), 'UNSUPPORTED');
    const admin = rawClient(server.url);
    await admin.connect();
    expect(await admin.dbsize()).toBe(0);
    admin.disconnect();
  });

  it("evictionPolicy 'warn' runs with one warning through onWarning", async () => {
    const warnings: string[] = [];
    const queues = await open({ evictionPolicy: 'warn', onWarning: (message) => warnings.push(message) }, server.url);
    const queue = queues.queue<string>('evict');
    await queue.enqueue('x');
    await queue.enqueue('y');
    expect(await queue.stats()).toMatchObject({ waiting: 2 });
    expect(warnings).toHaveLength(1);
    expect(warnings[0]).toContain('allkeys-lru');
  });

  it("without onWarning, the warning and a throwing listener's error go to the logger, not the console", async () => {
    const lines: [string, string][] = [];
    const logger = {
      warn: (message: string) => lines.push(['warn', message]),
      error: (message: string) => lines.push(['error', message]),
    };
    const printed = vi.spyOn(console, 'warn').mockImplementation(() => undefined);
    const printedError = vi.spyOn(console, 'error').mockImplementation(() => undefined);
    try {
      const queues = await open({ evictionPolicy: 'warn', logger }, server.url);
      const queue = queues.queue<string>('logged');
      queue.subscribe(() => {
        throw new Error('listener bug');
      });
      await queue.enqueue('x');
      expect(lines[0]?.[0]).toBe('warn');
      expect(lines[0]?.[1]).toContain('allkeys-lru');
      expect(lines).toContainEqual(['error', 'berth: a listener of queue logged events threw']);
      expect(printed).not.toHaveBeenCalled();
      expect(printedError).not.toHaveBeenCalled();
    } finally {
      printed.mockRestore();
      printedError.mockRestore();
    }
  });

  it('a server that refuses CONFIG GET is warned about once, not fatal', async () => {
    const warnings: string[] = [];
    const url = server.url.replace('redis://', 'redis://limited@');
    const queues = await open({ onWarning: (message) => warnings.push(message) }, url);
    const queue = queues.queue<string>('managed');
    await queue.enqueue('x');
    await queue.enqueue('y');
    expect(await queue.stats()).toMatchObject({ waiting: 2 });
    expect(warnings).toHaveLength(1);
    expect(warnings[0]).toContain('cannot read maxmemory-policy');
  });

  it('an unknown evictionPolicy or a prefix with a brace is VALIDATION', async () => {
    const client = rawClient(server.url);
    expect(() => new RedisQueues({ client, keyPrefix: 'a{b' })).toThrow(/keyPrefix/);
    expect(
      () => new RedisQueues({ client, keyPrefix: 'a', evictionPolicy: 'maybe' as RedisQueuesConfig['evictionPolicy'] }),
    ).toThrow(/evictionPolicy/);
    client.disconnect();
  });
});

import type { BerthLogger, JobEvent, JobQueue, Lease } from '@berth/core';
import { Redis as IORedis, type Redis } from 'ioredis';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import {
  eventually,
  PrivateRedis,
  REDIS_URL,
  rawClient,
  requireRedis,
  uniqueKeyPrefix,
} from '../fixtures/redis-server.js';
import { forEachKeyBatch, prefixPattern, unlinkKeys } from '../redis-scan.js';
import { eventChannel, eventLogKey, queueKeyBase } from './redis-queue-rows.js';
import { RedisQueues, type RedisQueuesConfig } from './redis-queues.js';

const keyPrefix = uniqueKeyPrefix('queue_events');
const opened: { queues: RedisQueues; client: Redis }[] = [];
let checks: Redis;

/** RedisQueues on a client of its own, as another process would have; closed after the test. */
async function open(config: Partial<RedisQueuesConfig> = {}, url?: string): Promise<RedisQueues> {
  const client = rawClient(url);
  await client.connect();
  const queues = new RedisQueues({ client, keyPrefix, ...config });
  opened.push({ queues, client });
  return queues;
}

/** How many connections of the server listen to the events of queue `name` (under `prefix`). */
async function listeners(name: string, server: Redis = checks, prefix: string = keyPrefix): Promise<number> {
  const [, count] = (await server.pubsub('NUMSUB', eventChannel(queueKeyBase(prefix, name)))) as [string, number];
  return count;
}

/** Waits until `count` connections listen to queue `name`: a subscription reaches the server a moment later. */
async function untilListeners(name: string, count: number, server?: Redis, prefix?: string): Promise<void> {
  await eventually(async () => expect(await listeners(name, server, prefix)).toBe(count), 5_000);
}

function record(queue: JobQueue<unknown>, types?: JobEvent['type'][]): { events: JobEvent[]; stop: () => void } {
  const events: JobEvent[] = [];
  const stop = queue.subscribe((event) => events.push(event), types === undefined ? undefined : { types });
  return { events, stop };
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

async function dequeueNow<T>(queue: JobQueue<T>): Promise<Lease<T>> {
  const lease = await queue.dequeue();
  if (lease === null) throw new Error('no job to dequeue');
  return lease;
}

beforeAll(async () => {
  await requireRedis();
  checks = rawClient();
  await checks.connect();
});

afterEach(async () => {
  for (const { queues, client } of opened.splice(0)) {
    await queues.close();
    client.disconnect();
  }
});

afterAll(async () => {
  await forEachKeyBatch(checks, prefixPattern(keyPrefix), unlinkKeys, undefined, 'cleanup');
  checks.disconnect();
});

describe('RedisJobQueue global events', () => {
  it('declares global events', async () => {
    expect((await open()).capabilities.events).toBe('global');
  });

  it('a subscriber on backend B receives every event of the jobs A drives, once each, in order, equal to A’s own', async () => {
    const a = (await open()).queue<string>('all');
    const b = (await open()).queue<string>('all');
    const local = record(a);
    const remote = record(b);
    const completedOnly = record(b, ['completed']);
    const iterator = b.events({ types: ['dead'] });
    await untilListeners('all', 2);

    const big = { blob: 'x'.repeat(100 * 1024), at: new Date('2026-11-27T04:00:00.000Z') };
    const message = 'm'.repeat(60 * 1024);
    const { id: happy } = await a.enqueue('happy', { maxAttempts: 2, backoff: { type: 'fixed', delayMs: 0 } });
    const first = await dequeueNow(a);
    await a.progress(first, big);
    await a.fail(first, new RangeError(message));
    await a.complete(await dequeueNow(a), 'done');
    const { id: fatal } = await a.enqueue('fatal');
    await a.fail(await dequeueNow(a), new Error('fatal'), { retry: false });
    const { id: stalled } = await a.enqueue('stalled', { leaseMs: 30, maxAttempts: 1 });
    await dequeueNow(a);
    await sleep(60);
    await a.stats();
    const { id: other } = await a.enqueue('released');
    await a.release(await dequeueNow(a));
    await a.cancel(other);
    await a.retry(other);
    await a.enqueue('later', { runAt: new Date(Date.now() + 60_000) });

    const types = local.events.map((event) => event.type);
    expect(types).toStrictEqual([
      'enqueued',
      'started',
      'progress',
      'failed',
      'started',
      'completed',
      'enqueued',
      'started',
      'dead',
      'enqueued',
      'started',
      'expired',
      'dead',
      'enqueued',
      'started',
      'released',
      'cancelled',
      'retried',
      'enqueued',
    ]);
    await eventually(async () => expect(remote.events).toHaveLength(local.events.length), 5_000);
    await sleep(50);
    // Each event once (A dropped its own copies from the channel), equal to what A emitted.
    expect(local.events).toHaveLength(types.length);
    expect(remote.events).toStrictEqual(local.events);
    const progress = remote.events.find((event) => event.type === 'progress');
    expect(progress?.type === 'progress' && progress.progress).toStrictEqual(big);
    const failed = remote.events.find((event) => event.type === 'failed');
    expect(failed?.type === 'failed' && failed.error.message).toBe(message);
    expect(failed?.type === 'failed' && failed.error.at).toBeInstanceOf(Date);
    expect(completedOnly.events.map((event) => event.jobId)).toStrictEqual([happy]);
    const dead = [await iterator.next(), await iterator.next()].map((result) => (result.value as JobEvent).jobId);
    expect(dead).toStrictEqual([fatal, stalled]);
    await iterator.return?.();
  });

  it('a subscriber hears at once: what another backend does right after subscribe() returns is read back from the event log', async () => {
    const a = (await open()).queue<string>('at_once');
    await a.stats();
    const b = (await open()).queue<string>('at_once');
    const { events } = record(b);
    const { id } = await a.enqueue('right away');
    await eventually(async () => expect(events.map((event) => event.type)).toStrictEqual(['enqueued']), 5_000);
    expect(events[0]?.jobId).toBe(id);
  });

  it('a script with thousands of events: a big enqueueMany and a cancelJobs, each one log entry', async () => {
    const a = (await open()).queue<number>('many');
    const b = (await open()).queue<number>('many');
    const local = record(a);
    const remote = record(b);
    await untilListeners('many', 2);
    const ids = (await a.enqueueMany(Array.from({ length: 2_000 }, (_, n) => ({ payload: n })))).map((r) => r.id);
    await a.release(await dequeueNow(a));
    expect((await a.cancelJobs({ limit: 2_000 })).changed).toBe(2_000);
    await eventually(async () => expect(remote.events).toHaveLength(local.events.length), 10_000);
    expect(local.events).toHaveLength(4_002);
    expect(remote.events).toStrictEqual(local.events);
    expect(remote.events.slice(0, 2_000).map((event) => event.jobId)).toStrictEqual(ids);
    // Entries: the enqueue's, the dequeue's, the release's and the cancel's.
    expect(await checks.xlen(eventLogKey(queueKeyBase(keyPrefix, 'many')))).toBe(4);
  });

  it('events of another queue, and of the same queue name under another prefix, are not delivered', async () => {
    const a = await open();
    const elsewhere = await open({ keyPrefix: `${keyPrefix}other:` });
    const b = (await open()).queue<string>('mine');
    const seen = record(b);
    await untilListeners('mine', 1);
    await a.queue<string>('theirs').enqueue('not mine');
    await elsewhere.queue<string>('mine').enqueue('not mine either');
    const { id } = await a.queue<string>('mine').enqueue('mine');
    await eventually(async () => expect(seen.events.map((event) => event.jobId)).toStrictEqual([id]), 5_000);
    await sleep(50);
    expect(seen.events).toHaveLength(1);
    await forEachKeyBatch(checks, prefixPattern(`${keyPrefix}other:`), unlinkKeys, undefined, 'cleanup');
  });

  it('listens only while there are subscribers: the last unsubscribe and close() stop it', async () => {
    const a = (await open()).queue<string>('listening');
    const queues = await open();
    const b = queues.queue<string>('listening');
    expect(await listeners('listening')).toBe(0);
    const one = record(b);
    const controller = new AbortController();
    b.events({ signal: controller.signal });
    await untilListeners('listening', 1);
    one.stop();
    await sleep(50);
    expect(await listeners('listening')).toBe(1);
    controller.abort();
    await untilListeners('listening', 0);
    await a.enqueue('unheard');
    await sleep(50);
    expect(one.events).toStrictEqual([]);

    const again = record(b);
    await untilListeners('listening', 1);
    const { id } = await a.enqueue('heard');
    await eventually(async () => expect(again.events.map((event) => event.jobId)).toStrictEqual([id]), 5_000);
    // close() ends the listening at once, subscribers or not, and does not wait for them.
    await queues.close();
    await untilListeners('listening', 0);
    await a.enqueue('after close');
    await sleep(50);
    expect(again.events).toHaveLength(1);
    again.stop();
  });

  it('a subscriber of a worker-less queue keeps no connection open once it unsubscribes', async () => {
    // The subscriber connection duplicates the client, its name included.
    const name = `berth-events-test-${process.pid}`;
    const client = new IORedis(REDIS_URL, { connectionName: name, lazyConnect: true });
    await client.connect();
    const queues = new RedisQueues({ client, keyPrefix });
    opened.push({ queues, client });
    const subscribers = async () => {
      const list = (await checks.call('CLIENT', 'LIST', 'TYPE', 'pubsub')) as string;
      return list.split('\n').filter((line) => line.includes(` name=${name} `)).length;
    };
    const { stop } = record(queues.queue<string>('idle'));
    await eventually(async () => expect(await subscribers()).toBe(1), 5_000);
    stop();
    await eventually(async () => expect(await subscribers()).toBe(0), 5_000);
  });
});

describe('RedisJobQueue global events, connection loss (a private server)', () => {
  let server: PrivateRedis;

  beforeAll(async () => {
    server = await PrivateRedis.start();
  });

  afterAll(() => server?.kill());

  it('a lost subscriber connection is reported through the logger; once it is back, the events announced meanwhile are read from the log', async () => {
    const warnings: string[] = [];
    const logger: BerthLogger = { warn: (message) => warnings.push(message), error: () => undefined };
    const prefix = 'loss:';
    const admin = rawClient(server.url);
    await admin.connect();
    const a = (await open({ keyPrefix: prefix }, server.url)).queue<string>('lossy');
    const b = (await open({ keyPrefix: prefix, logger }, server.url)).queue<string>('lossy');
    try {
      const seen = record(b);
      await untilListeners('lossy', 1, admin, prefix);
      await admin.client('KILL', 'TYPE', 'pubsub');
      // Announced while nobody listens: read back from the event log once the connection is back.
      const { id: during } = await a.enqueue('during the loss');
      await eventually(async () => expect(warnings.join('\n')).toMatch(/was lost.*lossy/), 5_000);
      // ioredis reconnects and subscribes again by itself.
      await untilListeners('lossy', 1, admin, prefix);
      await eventually(async () => expect(warnings.join('\n')).toMatch(/is back.*lossy/), 5_000);
      const { id: after } = await a.enqueue('after the loss');
      await eventually(
        async () => expect(seen.events.map((event) => event.jobId)).toStrictEqual([during, after]),
        5_000,
      );
      seen.stop();
    } finally {
      admin.disconnect();
    }
  }, 30_000);
});

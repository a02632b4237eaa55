import { isBerthError } from '@berth/core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { eventually, PrivateRedis, rawClient, rejection } from '../fixtures/redis-server.js';
import { RedisQueues } from './redis-queues.js';

describe('RedisJobQueue faults (a private server)', () => {
  let server: PrivateRedis;

  beforeAll(async () => {
    server = await PrivateRedis.start();
  });

  afterAll(() => server?.kill());

  it('a server restarted mid-run: retryable CONNECTION errors, then the scripts load again and an idle worker resumes on a wake-up', async () => {
    const client = rawClient(server.url);
    await client.connect();
    const queues = new RedisQueues({ client, keyPrefix: 'restart:' });
    const queue = queues.queue<number>('jobs');
    // Another process enqueues: only a published wake-up can reach the worker.
    const producerClient = rawClient(server.url);
    await producerClient.connect();
    const producer = new RedisQueues({ client: producerClient, keyPrefix: 'restart:' }).queue<number>('jobs');
    const handled: number[] = [];
    const errors: unknown[] = [];
    const worker = queue.work((job) => void handled.push(job.payload), {
      pollIntervalMs: 60_000,
      onError: (error) => errors.push(error),
    });
    try {
      await new Promise((resolve) => setTimeout(resolve, 100));
      await producer.enqueue(1);
      await eventually(async () => expect(handled).toStrictEqual([1]));
      await server.kill();
      const error = await rejection(producer.enqueue(2));
      expect(isBerthError(error, 'CONNECTION'), String(error)).toBe(true);
      expect((error as { retryable: boolean }).retryable).toBe(true);
      await server.start();
      // The server came back empty (no persistence) and without the scripts: EVALSHA's NOSCRIPT loads them again.
      await eventually(() => producer.enqueue(3));
      // The subscriber reconnected and resubscribed: the worker, polling only once a minute, is woken.
      await eventually(async () => expect(handled).toStrictEqual([1, 3]));
      expect(await queue.stats()).toMatchObject({ completed: 1, waiting: 0, active: 0 });
      expect(errors.every((error) => isBerthError(error, 'CONNECTION'))).toBe(true);
    } finally {
      await worker.close();
      await queues.close();
      client.disconnect();
      producerClient.disconnect();
    }
  }, 40_000);
});

import { type CleanupInfo, queueConformance } from '@berth/conformance-tests';
import type { Capabilities, DocumentValue, HealthStatus, JobQueue, QueueBackend, QueueOptions } from '@berth/core';
import { Redis } from 'ioredis';
import { beforeAll } from 'vitest';
import { REDIS_URL, rawClient, requireRedis, uniqueKeyPrefix } from '../fixtures/redis-server.js';
import { forEachKeyBatch, prefixPattern, unlinkKeys } from '../redis-scan.js';
import { REDIS_QUEUE_CAPABILITIES, RedisQueues } from './redis-queues.js';

// A stand-in for RedisBackend until the repository side lands: a client of
// its own and RedisQueues over it. Every backend of this file shares one key
// prefix; tests keep apart by queue name.
const keyPrefix = uniqueKeyPrefix('queue');

const capabilities: Capabilities = {
  repository: { transactions: 'none', uniqueIndexes: false, durable: true },
  queue: REDIS_QUEUE_CAPABILITIES,
};

class QueueOnlyBackend implements QueueBackend {
  readonly kind = 'redis';
  readonly capabilities = capabilities;
  readonly client = new Redis(REDIS_URL, { maxRetriesPerRequest: 0 });
  private readonly queues = new RedisQueues({ client: this.client, keyPrefix });

  constructor() {
    this.client.on('error', () => {});
  }

  connect(): Promise<void> {
    return this.queues.connect();
  }

  async close(): Promise<void> {
    await this.queues.close();
    this.client.disconnect();
  }

  async health(): Promise<HealthStatus> {
    const started = performance.now();
    await this.client.ping();
    return { ok: true, latencyMs: performance.now() - started };
  }

  queue<T = DocumentValue>(name: string, options?: QueueOptions): JobQueue<T> {
    return this.queues.queue<T>(name, options);
  }

  [Symbol.asyncDispose](): Promise<void> {
    return this.close();
  }
}

beforeAll(requireRedis);

/** The queue a key belongs to: `<prefix>{q:<name>}:...`. */
function queueOf(key: string): string | undefined {
  return /^\{q:([^}]*)\}:/.exec(key.slice(keyPrefix.length))?.[1];
}

/**
 * Deletes the test's keys, through a client of its own (the test may have
 * closed its backend), after checking with SCAN that nothing is left of a
 * queue the test was not handed.
 */
async function cleanup({ queues }: CleanupInfo<QueueBackend>): Promise<void> {
  const client = rawClient();
  await client.connect();
  try {
    const strays = new Set<string>();
    await forEachKeyBatch(
      client,
      prefixPattern(keyPrefix),
      async (server, keys) => {
        const named = keys.filter((key) => queues.includes(queueOf(key.toString()) ?? ''));
        for (const key of keys) if (!named.includes(key)) strays.add(key.toString());
        return named.length === 0 ? 0 : unlinkKeys(server, named);
      },
      undefined,
      'cleanup',
    );
    if (strays.size > 0) throw new Error(`the test left keys of queues it did not name: ${[...strays].join(', ')}`);
  } finally {
    client.disconnect();
  }
}

queueConformance({
  name: 'redis',
  createBackend: () => new QueueOnlyBackend(),
  capabilities,
  cleanup,
  openSameStorage: () => new QueueOnlyBackend(),
});

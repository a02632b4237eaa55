import { type CleanupInfo, queueConformance } from '@berth/conformance-tests';
import type { QueueBackend } from '@berth/core';
import { beforeAll } from 'vitest';
import {
  collectionBases,
  dropTestKeys,
  REDIS_URL,
  rawClient,
  requireRedis,
  uniqueKeyPrefix,
} from '../fixtures/redis-server.js';
import { RedisBackend } from '../redis-backend.js';
import { queueKeyBase } from './redis-queue-rows.js';

// Every backend of this file shares one key prefix; tests keep apart by queue name.
const keyPrefix = uniqueKeyPrefix('queue');
const open = (): RedisBackend => new RedisBackend({ url: REDIS_URL, keyPrefix });

beforeAll(requireRedis);

/**
 * Deletes the test's keys, through a client of its own (the test may have
 * closed its backend), after checking with SCAN that nothing is left of a
 * queue or collection the test was not handed.
 */
async function cleanup({ queues, collections }: CleanupInfo<QueueBackend>): Promise<void> {
  const client = rawClient();
  await client.connect();
  try {
    const bases = [...queues.map((name) => queueKeyBase(keyPrefix, name)), ...collectionBases(keyPrefix, collections)];
    await dropTestKeys(client, keyPrefix, bases);
  } finally {
    client.disconnect();
  }
}

queueConformance({
  name: 'redis',
  createBackend: open,
  capabilities: open().capabilities,
  cleanup,
  openSameStorage: open,
});

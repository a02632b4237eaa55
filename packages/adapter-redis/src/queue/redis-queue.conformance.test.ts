import { type CleanupInfo, queueConformance } from '@berth/conformance-tests';
import type { QueueBackend } from '@berth/core';
import { beforeAll } from 'vitest';
import { REDIS_URL, rawClient, requireRedis, uniqueKeyPrefix } from '../fixtures/redis-server.js';
import { RedisBackend } from '../redis-backend.js';
import { forEachKeyBatch, prefixPattern, unlinkKeys } from '../redis-scan.js';

// Every backend of this file shares one key prefix; tests keep apart by queue name.
const keyPrefix = uniqueKeyPrefix('queue');
const open = (): RedisBackend => new RedisBackend({ url: REDIS_URL, keyPrefix });

beforeAll(requireRedis);

/** Whether a key belongs to a queue (`<prefix>{q:<name>}:...`) or a collection (`<prefix>{<name>}:...`) the test named. */
function named(key: string, queues: readonly string[], collections: readonly string[]): boolean {
  const [, queue, collection] = /^\{(?:q:([^}]*)|([^}:]*))\}:/.exec(key.slice(keyPrefix.length)) ?? [];
  return (
    (queue !== undefined && queues.includes(queue)) || (collection !== undefined && collections.includes(collection))
  );
}

/**
 * Deletes the test's keys, through a client of its own (the test may have
 * closed its backend), after checking with SCAN that nothing is left of a
 * queue or collection the test was not handed.
 */
async function cleanup({ queues, collections }: CleanupInfo<QueueBackend>): Promise<void> {
  const client = rawClient();
  await client.connect();
  try {
    const strays = new Set<string>();
    await forEachKeyBatch(
      client,
      prefixPattern(keyPrefix),
      async (server, keys) => {
        const ours = keys.filter((key) => named(key.toString(), queues, collections));
        for (const key of keys) if (!ours.includes(key)) strays.add(key.toString());
        return ours.length === 0 ? 0 : unlinkKeys(server, ours);
      },
      undefined,
      'cleanup',
    );
    if (strays.size > 0)
      throw new Error(`the test left keys of queues or collections it did not name: ${[...strays].join(', ')}`);
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

import { throwIfAborted } from '@berth/core/adapter';
import type { Cluster, Redis } from 'ioredis';

/** Keys asked of each SCAN step (a hint to the server, not a bound). */
const SCAN_COUNT = 1000;

/**
 * The glob pattern matching exactly the keys that start with `prefix`: the
 * characters SCAN's MATCH treats specially (`* ? [ ] \`) are escaped, so a
 * prefix `a*` matches `a*b` and never `ab`.
 */
export function prefixPattern(prefix: string): string {
  return `${prefix.replace(/[*?[\]\\]/g, '\\$&')}*`;
}

/**
 * The servers holding keys: the client itself, or every master of a
 * cluster (SCAN walks one server's keys only).
 */
function keyServers(client: Redis | Cluster): Redis[] {
  return client.isCluster ? (client as Cluster).nodes('master') : [client as Redis];
}

/**
 * Walks every key matching `pattern` with SCAN (never KEYS), a batch at a
 * time, on every server holding keys, and returns the sum of what `onBatch`
 * returns. Keys come as bytes, so a key that is not UTF-8 is still handed back
 * intact. The signal is checked between batches.
 */
export async function forEachKeyBatch(
  client: Redis | Cluster,
  pattern: string,
  onBatch: (server: Redis, keys: Buffer[]) => Promise<number> | number,
  signal: AbortSignal | undefined,
  what: string,
): Promise<number> {
  let total = 0;
  for (const server of keyServers(client)) {
    let cursor = '0';
    do {
      throwIfAborted(signal, what);
      const [next, keys] = await server.scanBuffer(cursor, 'MATCH', pattern, 'COUNT', SCAN_COUNT);
      cursor = next.toString();
      if (keys.length > 0) total += await onBatch(server, keys);
    } while (cursor !== '0');
  }
  return total;
}

/**
 * Unlinks a batch of keys found on `server` and returns how many were there.
 * One UNLINK per key, pipelined: one round trip, and on a cluster node the
 * keys of a batch lie in many slots, which one multi-key UNLINK refuses.
 */
export async function unlinkKeys(server: Redis, keys: Buffer[]): Promise<number> {
  const pipeline = server.pipeline();
  for (const key of keys) pipeline.unlink(key);
  let removed = 0;
  for (const [error, count] of (await pipeline.exec()) ?? []) {
    if (error !== null) throw error;
    removed += count as number;
  }
  return removed;
}

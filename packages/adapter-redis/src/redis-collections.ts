import type { CollectionInfo } from '@berth/core';
import { checkCollectionName, indexDefinitionOf } from '@berth/core/adapter';
import type { Cluster, Redis } from 'ioredis';
import { specsOf } from './redis-indexes.js';
import { RedisCollectionKeys } from './redis-keys.js';
import { forEachKeyBatch, prefixPattern } from './redis-scan.js';

/** Whether `name` passes core's collection (and queue) name rule: such a name never holds `{`, `}` or `:`. */
function isCollectionName(name: string): boolean {
  try {
    checkCollectionName(name);
    return true;
  } catch {
    return false;
  }
}

/** Documents whose MEMORY USAGE one collection's size estimate samples. */
const SIZE_SAMPLE = 8;

/**
 * The names found in keys `<prefix>{<tag><name>}<suffix>`: a key matched by
 * the glob whose name is not a valid collection name (a document id holding
 * `}:m`, a key written by something else) is no collection and is skipped,
 * so nothing read from the server reaches another key unchecked.
 */
export async function namesInKeys(
  client: Redis | Cluster,
  prefix: string,
  tag: string,
  suffixes: readonly string[],
  signal: AbortSignal | undefined,
  what: string,
): Promise<Set<string>> {
  const names = new Set<string>();
  const head = `${prefix}{${tag}`;
  for (const suffix of suffixes) {
    // The suffixes (`:m`, `:n`, `:scs`) hold no glob character.
    const pattern = `${prefixPattern(head)}}${suffix}`;
    await forEachKeyBatch(
      client,
      pattern,
      (_server, keys) => {
        for (const raw of keys) {
          const key = raw.toString();
          if (!key.startsWith(head) || !key.endsWith(`}${suffix}`)) continue;
          const name = key.slice(head.length, key.length - suffix.length - 1);
          if (isCollectionName(name)) names.add(name);
        }
        return 0;
      },
      signal,
      what,
    );
  }
  return names;
}

/** Code point order (collection names are ASCII, where UTF-16 order is the same). */
export function byCodePoint(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

/**
 * The collections under `prefix`: every collection has a meta hash
 * (`<prefix>{<name>}:m`) from its first write or index declaration on,
 * whichever backend made it, so one SCAN for those finds them all. Each
 * comes with its declared indexes (the registry in that hash) and a size
 * estimate sampled with MEMORY USAGE (see {@link approximateBytes}).
 */
export async function listCollections(
  client: Redis | Cluster,
  prefix: string,
  signal: AbortSignal | undefined,
): Promise<CollectionInfo[]> {
  const names = [...(await namesInKeys(client, prefix, '', [':m'], signal, 'collections'))].sort(byCodePoint);
  const collections: CollectionInfo[] = [];
  for (const name of names) {
    const keys = new RedisCollectionKeys(prefix, name);
    const [stored, count, sample] = await collectionFacts(client, keys);
    // A meta hash removed since the SCAN (the prefix cleared) is no collection any more.
    if (stored === undefined) continue;
    collections.push({
      name,
      indexes: specsOf(name, stored).map(indexDefinitionOf),
      approximateBytes: await approximateBytes(client, keys, count, sample),
    });
  }
  return collections;
}

/** The stored declarations (`undefined`: no meta hash), the document count and a sample of ids, in one round trip (one slot). */
async function collectionFacts(
  client: Redis | Cluster,
  keys: RedisCollectionKeys,
): Promise<[string | null | undefined, number, string[]]> {
  const replies = await client
    .pipeline()
    .exists(keys.meta)
    .hget(keys.meta, 's')
    .zcard(keys.ids)
    .zrandmember(keys.ids, SIZE_SAMPLE)
    .exec();
  const values = (replies ?? []).map(([error, value]) => {
    if (error) throw error;
    return value;
  });
  const [exists, stored, count, sample] = values as [number, string | null, number, string[]];
  return [exists === 0 ? undefined : stored, count, sample];
}

/**
 * A cheap estimate of a collection's bytes: the mean MEMORY USAGE of up to
 * {@link SIZE_SAMPLE} random documents times their count (index entries are
 * not counted). `undefined` for a server that refuses MEMORY (some managed
 * Redis services do); 0 for an empty collection.
 */
async function approximateBytes(
  client: Redis | Cluster,
  keys: RedisCollectionKeys,
  count: number,
  sample: readonly string[],
): Promise<number | undefined> {
  if (count === 0 || sample.length === 0) return 0;
  const pipeline = client.pipeline();
  for (const id of sample) pipeline.memory('USAGE', keys.document(id));
  let total = 0;
  let measured = 0;
  for (const [error, bytes] of (await pipeline.exec()) ?? []) {
    if (error) return undefined;
    if (typeof bytes === 'number') {
      total += bytes;
      measured++;
    }
  }
  return measured === 0 ? 0 : Math.round((total / measured) * count);
}

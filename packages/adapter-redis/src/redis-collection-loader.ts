import type { FilterNode, IndexSpec } from '@berth/core/adapter';
import type { Cluster, Redis } from 'ioredis';
import { valueKey } from './redis-indexes.js';
import type { RedisCollectionKeys } from './redis-keys.js';
import { RECORD_FIELDS, type RedisRecord, readRecord } from './redis-record.js';

/** Ids asked of each ZRANGE step and documents of each pipelined batch of HMGETs. */
export const LOAD_BATCH = 500;

/** Which stored documents a query has to look at. */
export type Candidates =
  | { readonly kind: 'all' }
  | { readonly kind: 'id'; readonly id: string }
  | { readonly kind: 'unique'; readonly spec: IndexSpec; readonly key: string; readonly member: string }
  | { readonly kind: 'set'; readonly spec: IndexSpec; readonly key: string };

/**
 * The equality conditions that must hold for `filter` to match: the node
 * itself, or those of a top-level `$and` (what an `$or` or `$not` holds may
 * not be required, so it is never used to narrow).
 */
function requiredEqualities(filter: FilterNode): { path: readonly string[]; value: unknown }[] {
  const nodes = filter.kind === 'and' ? filter.nodes : [filter];
  const found: { path: readonly string[]; value: unknown }[] = [];
  for (const node of nodes) {
    if (node.kind === 'eq') found.push({ path: node.path, value: node.value });
  }
  return found;
}

/**
 * Picks the documents to load for `filter`: the holder of a unique value or
 * the members of an equality set when the filter requires a field (indexed
 * alone) to equal an indexable scalar; otherwise every document (a scan).
 * The full filter is evaluated on what is loaded either way, so the index
 * only narrows. A unique index is preferred: it names at most one document.
 */
export function chooseCandidates(
  keys: RedisCollectionKeys,
  specs: readonly IndexSpec[],
  filter: FilterNode,
): Candidates {
  let best: Candidates = { kind: 'all' };
  for (const { path, value } of requiredEqualities(filter)) {
    // The id is the document's key: the most selective index of all.
    if (path.length === 1 && path[0] === 'id') {
      if (typeof value === 'string') return { kind: 'id', id: value };
      continue;
    }
    const member = valueKey(value);
    if (member === undefined) continue;
    const spec = specs.find(
      (candidate) =>
        !candidate.compound &&
        candidate.path.length === path.length &&
        candidate.path.every((segment, index) => segment === path[index]),
    );
    if (spec === undefined) continue;
    if (spec.unique) return { kind: 'unique', spec, key: keys.unique(spec.key), member };
    if (best.kind === 'all') best = { kind: 'set', spec, key: keys.equality(spec.key, member) };
  }
  return best;
}

/** The stored ids `candidates` names, and the collection's write counter read before them. */
async function candidateIds(
  client: Redis | Cluster,
  keys: RedisCollectionKeys,
  candidates: Candidates,
): Promise<{ counter: string; ids: string[] }> {
  const pipeline = client.pipeline().hget(keys.meta, 'n');
  if (candidates.kind === 'id') pipeline.exists(keys.document(candidates.id));
  else if (candidates.kind === 'unique') pipeline.hget(candidates.key, candidates.member);
  else if (candidates.kind === 'set') pipeline.smembers(candidates.key);
  else pipeline.zrangebylex(keys.ids, '-', '+', 'LIMIT', 0, LOAD_BATCH);
  const [counterReply, idsReply] = (await pipeline.exec()) ?? [];
  if (counterReply?.[0]) throw counterReply[0];
  if (idsReply?.[0]) throw idsReply[0];
  const counter = (counterReply?.[1] as string | null) ?? '0';
  if (candidates.kind === 'id') return { counter, ids: [candidates.id] };
  const found = idsReply?.[1] as string | string[] | null;
  if (candidates.kind !== 'all') return { counter, ids: found === null ? [] : Array.isArray(found) ? found : [found] };
  // The rest of the ids, a chunk at a time after the last one seen (never one reply of the whole set).
  const ids = [...(found as string[])];
  let chunk = found as string[];
  while (chunk.length === LOAD_BATCH) {
    chunk = await client.zrangebylex(keys.ids, `(${chunk.at(-1) as string}`, '+', 'LIMIT', 0, LOAD_BATCH);
    ids.push(...chunk);
  }
  return { counter, ids };
}

/** Reads documents by id with pipelined HMGETs, a batch at a time; missing ones are left out. */
export async function loadRecords(
  client: Redis | Cluster,
  keys: RedisCollectionKeys,
  ids: readonly string[],
): Promise<Map<string, RedisRecord | undefined>> {
  const records = new Map<string, RedisRecord | undefined>();
  for (let start = 0; start < ids.length; start += LOAD_BATCH) {
    const batch = ids.slice(start, start + LOAD_BATCH);
    const pipeline = client.pipeline();
    for (const id of batch) pipeline.hmget(keys.document(id), ...RECORD_FIELDS);
    const replies = (await pipeline.exec()) ?? [];
    batch.forEach((id, index) => {
      const [error, fields] = replies[index] ?? [null, null];
      if (error) throw error;
      records.set(id, readRecord(fields as (string | null)[], keys.document(id)));
    });
  }
  return records;
}

/**
 * The committed documents a query has to look at, and the write counter
 * read before any of them: a commit expecting that counter proves nothing
 * was written since, so what was loaded is one consistent state.
 */
export async function loadCandidates(
  client: Redis | Cluster,
  keys: RedisCollectionKeys,
  candidates: Candidates,
): Promise<{ counter: string; records: RedisRecord[] }> {
  const { counter, ids } = await candidateIds(client, keys, candidates);
  const loaded = await loadRecords(client, keys, ids);
  const records: RedisRecord[] = [];
  for (const record of loaded.values()) if (record !== undefined) records.push(record);
  return { counter, records };
}

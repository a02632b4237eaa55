import type { FilterNode, IndexSpec } from '@berth/core/adapter';
import type { Cluster, Redis } from 'ioredis';
import { defineScript, runScript } from './redis-commit-script.js';
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

/**
 * Reads documents by id with pipelined HMGETs, a batch at a time (missing:
 * `undefined`). With `counterKey`, the last batch also reads the write
 * counter after the documents: when it equals one read before them, no
 * commit landed in between (each commit bumps it in the same script), so the
 * batches show one state although they are not one atomic read.
 */
export async function loadRecords(
  client: Redis | Cluster,
  keys: RedisCollectionKeys,
  ids: readonly string[],
  counterKey?: string,
): Promise<{ records: Map<string, RedisRecord | undefined>; counterAfter: string | undefined }> {
  const records = new Map<string, RedisRecord | undefined>();
  let counterAfter: string | undefined;
  for (let start = 0; start < ids.length; start += LOAD_BATCH) {
    const batch = ids.slice(start, start + LOAD_BATCH);
    const pipeline = client.pipeline();
    for (const id of batch) pipeline.hmget(keys.document(id), ...RECORD_FIELDS);
    const last = start + LOAD_BATCH >= ids.length;
    if (last && counterKey !== undefined) pipeline.hget(counterKey, 'n');
    const replies = (await pipeline.exec()) ?? [];
    batch.forEach((id, index) => {
      const [error, fields] = replies[index] ?? [null, null];
      if (error) throw error;
      records.set(id, readRecord(fields as (string | null)[], keys.document(id)));
    });
    if (last && counterKey !== undefined) {
      const [error, counter] = replies[batch.length] ?? [null, null];
      if (error) throw error;
      counterAfter = (counter as string | null) ?? '0';
    }
  }
  return { records, counterAfter };
}

/**
 * The committed documents a query has to look at, the write counter read
 * before any of them, and whether nothing was committed while they were
 * read (`stable`): then they are one consistent state, and a commit
 * expecting that counter proves nothing was written since.
 */
export async function loadCandidates(
  client: Redis | Cluster,
  keys: RedisCollectionKeys,
  candidates: Candidates,
): Promise<{ counter: string; records: RedisRecord[]; stable: boolean }> {
  const { counter, ids } = await candidateIds(client, keys, candidates);
  const loaded = await loadRecords(client, keys, ids, keys.meta);
  const records: RedisRecord[] = [];
  for (const record of loaded.records.values()) if (record !== undefined) records.push(record);
  return { counter, records, stable: loaded.counterAfter === undefined || loaded.counterAfter === counter };
}

/**
 * Reads the candidates and their documents in one script call: one state,
 * at the price of holding the server for the whole read. Used only when
 * reading in batches kept overlapping commits ({@link readCandidates}).
 * KEYS: the meta hash, then the ids zset, the unique hash or the equality
 * set (a lone id needs none); ARGV: the kind, the document key prefix, then
 * the unique member or the ids. Document keys are the prefix and an id, in
 * the collection's slot by construction.
 */
const READ_SCRIPT = defineScript(`
local kind = ARGV[1]
local ids
if kind == 'all' then
  ids = redis.call('ZRANGE', KEYS[2], 0, -1)
elseif kind == 'set' then
  ids = redis.call('SMEMBERS', KEYS[2])
elseif kind == 'unique' then
  local holder = redis.call('HGET', KEYS[2], ARGV[3])
  ids = {}
  if holder then ids[1] = holder end
else
  ids = {}
  for i = 3, #ARGV do ids[#ids + 1] = ARGV[i] end
end
local out = { redis.call('HGET', KEYS[1], 'n') or '0' }
for _, id in ipairs(ids) do
  local fields = redis.call('HMGET', ARGV[2] .. id, 'j', 'v', 'c', 'u')
  if fields[1] then
    out[#out + 1] = id
    out[#out + 1] = fields[1]
    out[#out + 1] = fields[2]
    out[#out + 1] = fields[3]
    out[#out + 1] = fields[4]
  end
end
return out
`);

/** What {@link readAtomically} reads: the candidates of a query, or documents by id. */
export type AtomicRead = Candidates | { readonly kind: 'ids'; readonly ids: readonly string[] };

/** Reads candidates or ids and their documents in one script call (one state); missing documents are left out. */
export async function readAtomically(
  client: Redis | Cluster,
  keys: RedisCollectionKeys,
  read: AtomicRead,
): Promise<{ counter: string; records: RedisRecord[] }> {
  const documentPrefix = keys.document('');
  let scriptKeys: string[];
  let args: string[];
  switch (read.kind) {
    case 'all':
      [scriptKeys, args] = [
        [keys.meta, keys.ids],
        ['all', documentPrefix],
      ];
      break;
    case 'set':
      [scriptKeys, args] = [
        [keys.meta, read.key],
        ['set', documentPrefix],
      ];
      break;
    case 'unique':
      [scriptKeys, args] = [
        [keys.meta, read.key],
        ['unique', documentPrefix, read.member],
      ];
      break;
    case 'id':
      [scriptKeys, args] = [[keys.meta], ['ids', documentPrefix, read.id]];
      break;
    default:
      [scriptKeys, args] = [[keys.meta], ['ids', documentPrefix, ...read.ids]];
  }
  const reply = (await runScript(client, READ_SCRIPT, scriptKeys, args)) as (string | null)[];
  const records: RedisRecord[] = [];
  for (let index = 1; index + 4 < reply.length; index += 5) {
    const id = reply[index] as string;
    const record = readRecord(reply.slice(index + 1, index + 5), keys.document(id));
    if (record !== undefined) records.push(record);
  }
  return { counter: (reply[0] as string | null) ?? '0', records };
}

/** Batched reads tried before one atomic script call. */
const BATCHED_READ_ATTEMPTS = 3;

/**
 * The candidates' documents as one state: read in batches (which never hold
 * the server long) while no commit lands in between, else, after a few tries
 * under constant writes, in one script call, so a read always finishes.
 */
export async function readCandidates(
  client: Redis | Cluster,
  keys: RedisCollectionKeys,
  candidates: Candidates,
): Promise<{ counter: string; records: RedisRecord[] }> {
  for (let attempt = 1; attempt <= BATCHED_READ_ATTEMPTS; attempt++) {
    const loaded = await loadCandidates(client, keys, candidates);
    if (loaded.stable) return loaded;
  }
  return readAtomically(client, keys, candidates);
}

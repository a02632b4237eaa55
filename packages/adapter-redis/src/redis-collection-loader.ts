import { type FilterNode, matchesNode } from '@berth/core/adapter';
import type { Cluster, Redis } from 'ioredis';
import type { RedisCollectionKeys } from './redis-keys.js';
import type { Candidates, IdBounds } from './redis-query-planner.js';
import { RECORD_FIELDS, type RedisRecord, readRecord } from './redis-record.js';
import { defineScript, runScript } from './redis-script.js';

/** Ids asked of each ZRANGE step and documents of each pipelined batch of HMGETs. */
const LOAD_BATCH = 500;

/** The id in a string range member `value NUL id` (a value never holds NUL). */
function idOfLexMember(member: string): string {
  return member.slice(member.indexOf('\u0000') + 1);
}

/**
 * The stored ids `candidates` names, and the collection's write counter and
 * index generation read before them (the generation tells a reader whether
 * the index it used is still the one declared).
 */
async function candidateIds(
  client: Redis | Cluster,
  keys: RedisCollectionKeys,
  candidates: Candidates,
): Promise<{ counter: string; generation: string; ids: string[] }> {
  if (candidates.kind === 'ids') {
    const [counter, generation] = await client.hmget(keys.meta, 'n', 'g');
    return { counter: counter ?? '0', generation: generation ?? '0', ids: [...candidates.ids] };
  }
  const pipeline = client.pipeline().hmget(keys.meta, 'n', 'g');
  switch (candidates.kind) {
    case 'unique':
      pipeline.hmget(candidates.key, ...candidates.members); // at most MAX_IN_LIST (1000) values
      break;
    case 'sets':
      pipeline.sunion([...candidates.keys]);
      break;
    case 'score':
      pipeline.zrangebyscore(candidates.key, candidates.min, candidates.max);
      break;
    case 'lex':
      pipeline.zrangebylex(candidates.key, candidates.min, candidates.max);
      break;
    default:
      pipeline.zrangebylex(keys.ids, '-', '+', 'LIMIT', 0, LOAD_BATCH);
  }
  const [counterReply, idsReply] = (await pipeline.exec()) ?? [];
  if (counterReply?.[0]) throw counterReply[0];
  if (idsReply?.[0]) throw idsReply[0];
  const [counterField, generationField] = (counterReply?.[1] ?? []) as (string | null)[];
  const counter = counterField ?? '0';
  const generation = generationField ?? '0';
  const found = (idsReply?.[1] ?? []) as (string | null)[];
  if (candidates.kind === 'unique') {
    return { counter, generation, ids: found.filter((id): id is string => id !== null) };
  }
  if (candidates.kind === 'lex') return { counter, generation, ids: (found as string[]).map(idOfLexMember) };
  if (candidates.kind !== 'all') return { counter, generation, ids: found as string[] };
  // The rest of the ids, a chunk at a time after the last one seen (never one reply of the whole set).
  const ids = [...(found as string[])];
  let chunk = found as string[];
  while (chunk.length === LOAD_BATCH) {
    chunk = await client.zrangebylex(keys.ids, `(${chunk.at(-1) as string}`, '+', 'LIMIT', 0, LOAD_BATCH);
    ids.push(...chunk);
  }
  return { counter, generation, ids };
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
): Promise<{ counter: string; generation: string; records: RedisRecord[]; stable: boolean }> {
  const { counter, generation, ids } = await candidateIds(client, keys, candidates);
  const loaded = await loadRecords(client, keys, ids, keys.meta);
  const records: RedisRecord[] = [];
  for (const record of loaded.records.values()) if (record !== undefined) records.push(record);
  return {
    counter,
    generation,
    records,
    stable: loaded.counterAfter === undefined || loaded.counterAfter === counter,
  };
}

/**
 * Reads the candidates and their documents in one script call: one state,
 * at the price of holding the server for the whole read. Used only when
 * reading in batches kept overlapping commits ({@link readCandidates}).
 * KEYS: the meta hash, then the ids zset, the unique hash, the equality
 * sets or the range index (ids need none); ARGV: the kind, the document key
 * prefix, then the unique members, the range's bounds or the ids. Document keys are the prefix and an id, in
 * the collection's slot by construction.
 */
const READ_SCRIPT = defineScript(`
local kind = ARGV[1]
local ids
if kind == 'all' then
  ids = redis.call('ZRANGE', KEYS[2], 0, -1)
elseif kind == 'sets' then
  ids = redis.call('SUNION', unpack(KEYS, 2))
elseif kind == 'unique' then
  ids = {}
  for _, holder in ipairs(redis.call('HMGET', KEYS[2], unpack(ARGV, 3))) do
    if holder then ids[#ids + 1] = holder end
  end
elseif kind == 'score' then
  ids = redis.call('ZRANGEBYSCORE', KEYS[2], ARGV[3], ARGV[4])
elseif kind == 'lex' then
  ids = {}
  for _, member in ipairs(redis.call('ZRANGEBYLEX', KEYS[2], ARGV[3], ARGV[4])) do
    ids[#ids + 1] = string.sub(member, string.find(member, '\\0', 1, true) + 1)
  end
else
  ids = {}
  for i = 3, #ARGV do ids[#ids + 1] = ARGV[i] end
end
local out = { redis.call('HGET', KEYS[1], 'n') or '0', redis.call('HGET', KEYS[1], 'g') or '0' }
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

/** Reads candidates and their documents in one script call (one state); missing documents are left out. */
export async function readAtomically(
  client: Redis | Cluster,
  keys: RedisCollectionKeys,
  read: Candidates,
): Promise<{ counter: string; generation: string; records: RedisRecord[] }> {
  const documentPrefix = keys.document('');
  let scriptKeys: string[];
  let args: (string | Buffer)[];
  switch (read.kind) {
    case 'all':
      [scriptKeys, args] = [
        [keys.meta, keys.ids],
        ['all', documentPrefix],
      ];
      break;
    case 'sets':
      [scriptKeys, args] = [
        [keys.meta, ...read.keys],
        ['sets', documentPrefix],
      ];
      break;
    case 'unique':
      [scriptKeys, args] = [
        [keys.meta, read.key],
        ['unique', documentPrefix, ...read.members],
      ];
      break;
    case 'score':
    case 'lex':
      [scriptKeys, args] = [
        [keys.meta, read.key],
        [read.kind, documentPrefix, read.min, read.max],
      ];
      break;
    default:
      [scriptKeys, args] = [[keys.meta], ['ids', documentPrefix, ...read.ids]];
  }
  const reply = (await runScript(client, READ_SCRIPT, scriptKeys, args)) as (string | null)[];
  const records: RedisRecord[] = [];
  for (let index = 2; index + 4 < reply.length; index += 5) {
    const id = reply[index] as string;
    const record = readRecord(reply.slice(index + 1, index + 5), keys.document(id));
    if (record !== undefined) records.push(record);
  }
  return { counter: (reply[0] as string | null) ?? '0', generation: (reply[1] as string | null) ?? '0', records };
}

/** Where an id walk starts: after the cursor's id, or at the filter's lower bound when that is further on. */
function walkStart(afterId: string | undefined, min: string | Buffer): string | Buffer {
  if (afterId === undefined) return min;
  if (min === '-') return `(${afterId}`;
  // Both are a one-byte marker then UTF-8: byte order is code-point order.
  const bound = Buffer.from(min).subarray(1);
  return Buffer.compare(bound, Buffer.from(afterId, 'utf8')) > 0 ? min : `(${afterId}`;
}

/**
 * The first `wanted` documents matching `filter` in id order after
 * `afterId`, read by walking the ids a chunk at a time and stopping once
 * enough matched: a page of an id-ordered query without reading the rest of
 * the collection. Only the id range the filter requires is read (`bounds`).
 * `stable`: no commit landed during the walk (the write
 * counter before equals the one after), so the documents show one state.
 */
export async function walkInIdOrder(
  client: Redis | Cluster,
  keys: RedisCollectionKeys,
  filter: FilterNode,
  afterId: string | undefined,
  wanted: number,
  bounds: IdBounds = { min: '-', max: '+' },
): Promise<{ records: RedisRecord[]; stable: boolean }> {
  const before = (await client.hget(keys.meta, 'n')) ?? '0';
  const matched: RedisRecord[] = [];
  let start = walkStart(afterId, bounds.min);
  for (;;) {
    // Twice what is still missing (at least a few): a selective filter reads on, a page of everything stops soon.
    const size = Math.min(LOAD_BATCH, Math.max(32, (wanted - matched.length) * 2));
    const chunk = await client.zrangebylex(keys.ids, start, bounds.max, 'LIMIT', 0, size);
    const { records } = await loadRecords(client, keys, chunk);
    for (const record of records.values()) {
      if (record === undefined || !matchesNode(record.document, filter, record.meta)) continue;
      matched.push(record);
      if (matched.length >= wanted) break;
    }
    if (matched.length >= wanted || chunk.length < size) break;
    start = `(${chunk.at(-1) as string}`;
  }
  const after = (await client.hget(keys.meta, 'n')) ?? '0';
  return { records: matched, stable: before === after };
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
): Promise<{ counter: string; generation: string; records: RedisRecord[] }> {
  for (let attempt = 1; attempt <= BATCHED_READ_ATTEMPTS; attempt++) {
    const loaded = await loadCandidates(client, keys, candidates);
    if (loaded.stable) return loaded;
  }
  return readAtomically(client, keys, candidates);
}

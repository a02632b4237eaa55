import {
  type CursorPosition,
  compareSortTuples,
  compareValues,
  type FilterNode,
  matchesNode,
  type SortSpec,
  sortValues,
} from '@berth/core/adapter';
import type { Cluster, Redis } from 'ioredis';
import { loadRecords } from './redis-collection-loader.js';
import { otherScore, scoreOf } from './redis-indexes.js';
import type { RedisCollectionKeys } from './redis-keys.js';
import type { RedisRecord } from './redis-record.js';

/** Most ids read per step of a walk. */
const STEP = 200;

/** One part of a sorted index: a set of one type, in core's order (ascending). */
interface Segment {
  readonly key: string;
  readonly lex: boolean;
  /** Score bounds (ascending) for a scored set; lexicographic bounds for strings. */
  readonly min: string;
  readonly max: string;
}

/** Which segment a sort value belongs to, by core's type order. */
function segmentOf(value: unknown): number {
  if (value === null || value === undefined || typeof value === 'boolean') return 0;
  if (typeof value === 'number') return 1;
  if (typeof value === 'string') return 2;
  if (value instanceof Date) return 3;
  return 4;
}

/**
 * The segments of a single-field index in core's ascending order: missing,
 * null and booleans, numbers, strings, Dates, arrays and objects. With a
 * cursor, the segments before its value's are left out and its own starts
 * (or, descending, ends) at the value, ties included.
 */
function segments(
  keys: RedisCollectionKeys,
  indexKey: string,
  after: CursorPosition | undefined,
  descending: boolean,
): Segment[] {
  const all: Segment[] = [
    { key: keys.range(indexKey, 'o'), lex: false, min: '0', max: '2' },
    { key: keys.range(indexKey, 'n'), lex: false, min: '-inf', max: '+inf' },
    { key: keys.range(indexKey, 's'), lex: true, min: '-', max: '+' },
    { key: keys.range(indexKey, 'd'), lex: false, min: '-inf', max: '+inf' },
    { key: keys.range(indexKey, 'o'), lex: false, min: '5', max: '6' },
  ];
  if (after === undefined) return descending ? all.reverse() : all;
  const value = after.values[0];
  const at = segmentOf(value);
  let bound: string;
  if (typeof value === 'number') bound = scoreOf(value);
  else if (value instanceof Date) bound = scoreOf(value.getTime());
  else if (typeof value === 'string') bound = descending ? `(${value}\u0001` : `[${value}`;
  else bound = String(otherScore(value));
  const own = all[at] as Segment;
  const bounded = descending ? { ...own, max: bound } : { ...own, min: bound };
  return descending ? [bounded, ...all.slice(0, at).reverse()] : [bounded, ...all.slice(at + 1)];
}

/** One step of `size` ids from a segment, `offset` ids in, in the walk's direction. */
async function step(
  client: Redis | Cluster,
  segment: Segment,
  descending: boolean,
  offset: number,
  size: number,
): Promise<string[]> {
  if (segment.lex) {
    const members = descending
      ? await client.zrevrangebylex(segment.key, segment.max, segment.min, 'LIMIT', offset, size)
      : await client.zrangebylex(segment.key, segment.min, segment.max, 'LIMIT', offset, size);
    return members.map((member) => member.slice(member.indexOf('\u0000') + 1));
  }
  return descending
    ? client.zrevrangebyscore(segment.key, segment.max, segment.min, 'LIMIT', offset, size)
    : client.zrangebyscore(segment.key, segment.min, segment.max, 'LIMIT', offset, size);
}

/**
 * The first `wanted` documents matching `filter` in the order of `sort` (one
 * key, on a single-field index) after the cursor, read by walking the index's
 * sets from the cursor's value on and stopping once enough matched and the
 * next value differs from the last one kept (ties are then all read, and are
 * put in id order by core's comparator, as a descending walk of Redis meets
 * them in reverse). `stable`: no commit landed during the walk, and the
 * index generation is `generation` (the index is the one writers keep).
 */
export async function walkInIndexOrder(
  client: Redis | Cluster,
  keys: RedisCollectionKeys,
  indexKey: string,
  sort: readonly SortSpec[],
  filter: FilterNode,
  after: CursorPosition | undefined,
  wanted: number,
  generation: string,
): Promise<{ records: RedisRecord[]; stable: boolean }> {
  const [counterBefore, generationBefore] = await client.hmget(keys.meta, 'n', 'g');
  const descending = sort[0]?.direction === 'desc';
  const kept: { record: RedisRecord; values: unknown[] }[] = [];
  let boundary: unknown[] | undefined;
  walk: for (const segment of segments(keys, indexKey, after, descending)) {
    for (let offset = 0; ; ) {
      // Twice what is still missing (at least a few): a selective filter reads on, a plain top-N stops soon.
      const size = Math.min(STEP, Math.max(16, (wanted - kept.length) * 2));
      const ids = await step(client, segment, descending, offset, size);
      offset += ids.length;
      const { records } = await loadRecords(client, keys, ids);
      for (const id of ids) {
        const record = records.get(id);
        if (record === undefined) continue;
        const values = sortValues(record.document, sort, record.meta);
        if (boundary !== undefined && compareValues(values[0], boundary[0]) !== 0) break walk;
        if (after !== undefined && compareSortTuples(values, id, after.values, after.id, sort) <= 0) continue;
        if (!matchesNode(record.document, filter, record.meta)) continue;
        kept.push({ record, values });
        if (kept.length === wanted) boundary = values;
      }
      if (ids.length < size) break;
    }
  }
  const [counterAfter, generationAfter] = await client.hmget(keys.meta, 'n', 'g');
  kept.sort((a, b) => compareSortTuples(a.values, a.record.document.id, b.values, b.record.document.id, sort));
  return {
    records: kept.map((entry) => entry.record),
    stable:
      counterBefore === counterAfter &&
      generationBefore === generationAfter &&
      (generationBefore ?? '0') === generation,
  };
}

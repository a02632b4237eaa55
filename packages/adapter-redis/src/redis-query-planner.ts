import type { QueryPlan } from '@berth/core';
import type { FieldNode, FilterNode, IndexSpec } from '@berth/core/adapter';
import { scoreOf, valueKey } from './redis-indexes.js';
import type { RedisCollectionKeys } from './redis-keys.js';

/**
 * Which stored documents a query has to look at: every one (a scan), or the
 * ids an index names. An index only narrows: the full filter, the sort and
 * the paging run on what is loaded, with core's reference evaluator.
 */
export type Candidates =
  | { readonly kind: 'all' }
  | { readonly kind: 'ids'; readonly ids: readonly string[] }
  /** Holders of values of a unique index (HMGET on its hash). */
  | { readonly kind: 'unique'; readonly spec: IndexSpec; readonly key: string; readonly members: readonly string[] }
  /** Members of equality sets (SUNION). */
  | { readonly kind: 'sets'; readonly spec: IndexSpec; readonly keys: readonly string[] }
  /** A score range of a number or Date range index (ZRANGEBYSCORE). */
  | {
      readonly kind: 'score';
      readonly spec: IndexSpec;
      readonly key: string;
      readonly min: string;
      readonly max: string;
    }
  /** A lexicographic range of a string range index (ZRANGEBYLEX over `value NUL id`). */
  | {
      readonly kind: 'lex';
      readonly spec: IndexSpec;
      readonly key: string;
      readonly min: Buffer;
      readonly max: Buffer;
    };

const ALL: Candidates = { kind: 'all' };

/** The conditions `filter` requires: the node itself, or those of a top-level `$and` (never inside `$or`/`$not`). */
function requiredNodes(filter: FilterNode): FieldNode[] {
  const nodes = filter.kind === 'and' ? filter.nodes : [filter];
  return nodes.filter((node): node is FieldNode => node.kind !== 'and' && node.kind !== 'or' && node.kind !== 'not');
}

function samePath(a: readonly string[], b: readonly string[]): boolean {
  return a.length === b.length && a.every((segment, index) => segment === b[index]);
}

const utf8 = (text: string): Buffer => Buffer.from(text, 'utf8');

/** Bounds of a string range: members are `value NUL id`, and U+0001 is the smallest character a value may hold after NUL. */
function lexBounds(nodes: readonly FieldNode[]): { min: Buffer; max: Buffer } | undefined {
  let min: Buffer | undefined;
  let max: Buffer | undefined;
  for (const node of nodes) {
    if (node.kind === 'startsWith') {
      min ??= utf8(`[${node.value}`);
      // No UTF-8 text holds the byte 0xFF: every value starting with the prefix sorts before prefix + 0xFF.
      max ??= Buffer.concat([utf8(`(${node.value}`), Buffer.from([0xff])]);
      continue;
    }
    if (typeof (node as { value?: unknown }).value !== 'string') continue;
    const value = (node as { value: string }).value;
    if (node.kind === 'gt') min ??= utf8(`[${value}\u0001`);
    else if (node.kind === 'gte') min ??= utf8(`[${value}`);
    else if (node.kind === 'lt') max ??= utf8(`(${value}`);
    else if (node.kind === 'lte') max ??= utf8(`(${value}\u0001`);
  }
  if (min === undefined && max === undefined) return undefined;
  return { min: min ?? utf8('-'), max: max ?? utf8('+') };
}

/** Bounds of a number or Date range on scores (`(` excludes). */
function scoreBounds(nodes: readonly FieldNode[], type: 'n' | 'd'): { min: string; max: string } | undefined {
  let min: string | undefined;
  let max: string | undefined;
  for (const node of nodes) {
    if (node.kind !== 'gt' && node.kind !== 'gte' && node.kind !== 'lt' && node.kind !== 'lte') continue;
    const operand = node.value;
    let score: string;
    if (type === 'n' && typeof operand === 'number') score = scoreOf(operand);
    else if (type === 'd' && operand instanceof Date) score = scoreOf(operand.getTime());
    else continue;
    if (node.kind === 'gt') min ??= `(${score}`;
    else if (node.kind === 'gte') min ??= score;
    else if (node.kind === 'lt') max ??= `(${score}`;
    else max ??= score;
  }
  if (min === undefined && max === undefined) return undefined;
  return { min: min ?? '-inf', max: max ?? '+inf' };
}

/**
 * Picks the documents to load for `filter`, most selective first: ids the
 * filter requires (`id` equal to or in a list), the holder of a unique value,
 * an equality set, holders or sets of an `$in` list, a range (number, Date or
 * string, `$gt`…`$lte` and `$startsWith`) of a single-field index; otherwise
 * every document. Only conditions the filter requires narrow: one inside
 * `$or` or `$not` never does, and `null` (which matches missing) never does.
 */
export function chooseCandidates(
  keys: RedisCollectionKeys,
  specs: readonly IndexSpec[],
  filter: FilterNode,
): Candidates {
  const required = requiredNodes(filter);
  let equality: Candidates | undefined;
  let list: Candidates | undefined;
  let range: Candidates | undefined;
  for (const node of required) {
    if (samePath(node.path, ['id'])) {
      if (node.kind === 'eq' && typeof node.value === 'string') return { kind: 'ids', ids: [node.value] };
      if (node.kind === 'in' && node.values.every((value) => typeof value === 'string')) {
        return { kind: 'ids', ids: [...new Set(node.values as string[])] };
      }
      continue;
    }
    const spec = specs.find((candidate) => !candidate.compound && samePath(candidate.path, node.path));
    if (spec === undefined) continue;
    if (node.kind === 'eq') {
      const member = valueKey(node.value);
      if (member === undefined) continue;
      if (spec.unique) return { kind: 'unique', spec, key: keys.unique(spec.key), members: [member] };
      equality ??= { kind: 'sets', spec, keys: [keys.equality(spec.key, member)] };
    } else if (node.kind === 'in') {
      const members = node.values.map(valueKey);
      if (members.some((member) => member === undefined)) continue;
      const unique = [...new Set(members as string[])];
      // An empty list matches nothing.
      if (unique.length === 0) return { kind: 'ids', ids: [] };
      list ??= spec.unique
        ? { kind: 'unique', spec, key: keys.unique(spec.key), members: unique }
        : { kind: 'sets', spec, keys: unique.map((member) => keys.equality(spec.key, member)) };
    } else if (range === undefined) {
      const onPath = required.filter((other) => samePath(other.path, node.path));
      const operand = node.kind === 'startsWith' ? '' : (node as { value?: unknown }).value;
      if (typeof operand === 'string') {
        const bounds = lexBounds(onPath);
        if (bounds !== undefined) range = { kind: 'lex', spec, key: keys.range(spec.key, 's'), ...bounds };
      } else if (typeof operand === 'number' || operand instanceof Date) {
        const type = typeof operand === 'number' ? 'n' : 'd';
        const bounds = scoreBounds(onPath, type);
        if (bounds !== undefined) range = { kind: 'score', spec, key: keys.range(spec.key, type), ...bounds };
      }
    }
  }
  return equality ?? list ?? range ?? ALL;
}

/** ZRANGEBYLEX bounds of the ids set: `-`/`+`, or an id with `[` (inclusive) or `(` (exclusive). */
export interface IdBounds {
  readonly min: string | Buffer;
  readonly max: string | Buffer;
}

/**
 * The id range `filter` requires, as bounds of the ids set (plain ids in
 * byte order, which is code-point order): from a `$gt`/`$gte`/`$startsWith`
 * on `id`, up to a `$lt`/`$lte`/`$startsWith`. An id walk reads only this
 * range; the filter is still evaluated on every record read, so one bound
 * per side is enough.
 */
export function idBounds(filter: FilterNode): IdBounds {
  let min: string | Buffer | undefined;
  let max: string | Buffer | undefined;
  for (const node of requiredNodes(filter)) {
    if (!samePath(node.path, ['id'])) continue;
    if (node.kind === 'startsWith') {
      min ??= `[${node.value}`;
      // No UTF-8 text holds the byte 0xFF: every id starting with the prefix sorts before prefix + 0xFF.
      max ??= Buffer.concat([utf8(`(${node.value}`), Buffer.from([0xff])]);
    } else if ('value' in node && typeof node.value === 'string') {
      if (node.kind === 'gt' || node.kind === 'gte') min ??= `${node.kind === 'gt' ? '(' : '['}${node.value}`;
      if (node.kind === 'lt' || node.kind === 'lte') max ??= `${node.kind === 'lt' ? '(' : '['}${node.value}`;
    }
  }
  return { min: min ?? '-', max: max ?? '+' };
}

const THEN = 'then the full filter, sort and paging by the reference evaluator';

/** What `explain` says of the candidates a query loads. */
export function describeCandidates(collection: string, candidates: Candidates): QueryPlan {
  switch (candidates.kind) {
    case 'all':
      return { strategy: 'scan', detail: `scan of every document of ${collection} (ZRANGE BYLEX in chunks), ${THEN}` };
    case 'ids':
      return { strategy: 'index', index: 'id', detail: `${candidates.ids.length} document key(s) by id, ${THEN}` };
    case 'unique':
      return {
        strategy: 'index',
        index: candidates.spec.name,
        detail: `HMGET ${candidates.key} (unique ${candidates.spec.field}, ${candidates.members.length} value(s)), ${THEN}`,
      };
    case 'sets':
      return {
        strategy: 'index',
        index: candidates.spec.name,
        detail: `SUNION of ${candidates.keys.length} equality set(s) of ${candidates.spec.field}, ${THEN}`,
      };
    case 'score':
      return {
        strategy: 'index',
        index: candidates.spec.name,
        detail: `ZRANGEBYSCORE ${candidates.key} ${candidates.min} ${candidates.max} (range on ${candidates.spec.field}), ${THEN}`,
      };
    case 'lex':
      return {
        strategy: 'index',
        index: candidates.spec.name,
        detail: `ZRANGEBYLEX ${candidates.key} (string range on ${candidates.spec.field}), ${THEN}`,
      };
  }
}

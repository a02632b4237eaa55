import type { QueryPlan } from '@berth/core';
import {
  compareSortTuples,
  compareValues,
  type FilterNode,
  matchesNode,
  type PreparedQuery,
  sortValues,
  typeRank,
} from '@berth/core/adapter';
import type { SortedEntry } from './memory-sorted-index.js';
import { indexKey, type MemoryCollection, type MemoryIndex, type MemoryRecord } from './memory-store.js';

interface IndexLookup {
  readonly index: MemoryIndex;
  readonly keys: readonly string[];
}

interface Bound {
  readonly value: unknown;
  readonly inclusive: boolean;
}

/**
 * A region of one index's sorted entries: equality on its first fields
 * (`prefix`), then optionally a range on the next one, and whether walking
 * the region yields the query's sort order (so a `limit` can stop early).
 */
interface RangePlan {
  readonly index: MemoryIndex;
  readonly prefix: readonly unknown[];
  readonly lower: Bound | undefined;
  readonly upper: Bound | undefined;
  /** The top-level AND terms the region decides on its own. */
  readonly used: ReadonlySet<FilterNode>;
  readonly servesSort: boolean;
  readonly backwards: boolean;
}

function samePath(a: readonly string[], b: readonly string[]): boolean {
  return a.length === b.length && a.every((segment, index) => segment === b[index]);
}

function termsOf(filter: FilterNode): readonly FilterNode[] {
  return filter.kind === 'and' ? filter.nodes : [filter];
}

/**
 * Finds an equality (or `$in`) condition on an indexed field among the
 * filter's top-level AND terms. Null operands are not served by this lookup,
 * since missing values have no key.
 */
function findLookup(collection: MemoryCollection, filter: FilterNode): IndexLookup | undefined {
  for (const term of termsOf(filter)) {
    if (term.kind !== 'eq' && term.kind !== 'in') continue;
    const index = collection.indexes.get(term.path.join('.'));
    if (index === undefined) continue;
    const operands = 'values' in term ? term.values : [term.value];
    const keys = operands.map(indexKey);
    if (keys.every((key) => key !== undefined)) return { index, keys: keys as string[] };
  }
  return undefined;
}

/** The region of `index` the filter's terms (and the sort) call for, or `undefined` when it serves nothing. */
function rangePlan(index: MemoryIndex, prepared: PreparedQuery): RangePlan | undefined {
  const terms = termsOf(prepared.filter);
  const fields = index.spec.fields;
  const used = new Set<FilterNode>();
  const prefix: unknown[] = [];
  for (const field of fields) {
    const term = terms.find((candidate) => candidate.kind === 'eq' && samePath(candidate.path, field.path));
    if (term === undefined || term.kind !== 'eq') break;
    prefix.push(term.value);
    used.add(term);
  }
  let lower: Bound | undefined;
  let upper: Bound | undefined;
  const next = fields[prefix.length];
  if (next !== undefined) {
    for (const term of terms) {
      if (!('path' in term) || !samePath(term.path, next.path)) continue;
      if ((term.kind === 'gt' || term.kind === 'gte') && lower === undefined) {
        lower = { value: term.value, inclusive: term.kind === 'gte' };
        used.add(term);
      } else if ((term.kind === 'lt' || term.kind === 'lte') && upper === undefined) {
        upper = { value: term.value, inclusive: term.kind === 'lte' };
        used.add(term);
      }
    }
  }
  // The sort is served when its keys are the index's next fields, all in one direction.
  const sort = prepared.sort;
  const rest = fields.slice(prefix.length);
  const servesSort =
    sort.length > 0 &&
    sort.length <= rest.length &&
    sort.every((key, position) => samePath(key.path, (rest[position] as (typeof rest)[number]).path)) &&
    sort.every((key) => key.direction === sort[0]?.direction);
  if (prefix.length === 0 && lower === undefined && upper === undefined && !servesSort) return undefined;
  return { index, prefix, lower, upper, used, servesSort, backwards: servesSort && sort[0]?.direction === 'desc' };
}

function score(plan: RangePlan, prepared: PreparedQuery): number {
  const early = plan.servesSort && prepared.limit !== undefined ? 100 : 0;
  return early + 2 * plan.prefix.length + (plan.lower !== undefined || plan.upper !== undefined ? 1 : 0);
}

function bestPlan(collection: MemoryCollection, prepared: PreparedQuery): RangePlan | undefined {
  let best: RangePlan | undefined;
  for (const index of collection.indexes.values()) {
    const plan = rangePlan(index, prepared);
    if (plan === undefined || (plan.servesSort && prepared.limit === undefined && plan.used.size === 0)) continue;
    if (best === undefined || score(plan, prepared) > score(best, prepared)) best = plan;
  }
  return best;
}

/** Compares an entry's prefix values with the plan's equality prefix. */
function comparePrefix(entry: SortedEntry, prefix: readonly unknown[]): number {
  for (let index = 0; index < prefix.length; index++) {
    const order = compareValues(entry.values[index], prefix[index]);
    if (order !== 0) return order;
  }
  return 0;
}

/** `[start, end)`: the positions of the plan's region in the index. Ranges are type-strict, as the reference is. */
function region(plan: RangePlan): { start: number; end: number } {
  const k = plan.prefix.length;
  const { lower, upper } = plan;
  const before = (entry: SortedEntry): boolean => {
    const order = comparePrefix(entry, plan.prefix);
    if (order !== 0) return order < 0;
    const value = entry.values[k];
    if (lower !== undefined) {
      const rank = typeRank(value);
      const bound = typeRank(lower.value);
      if (rank !== bound) return rank < bound;
      const position = compareValues(value, lower.value);
      return position < 0 || (position === 0 && !lower.inclusive);
    }
    return upper !== undefined && typeRank(value) < typeRank(upper.value);
  };
  const beyond = (entry: SortedEntry): boolean => {
    const order = comparePrefix(entry, plan.prefix);
    if (order !== 0) return order > 0;
    const value = entry.values[k];
    if (upper !== undefined) {
      const rank = typeRank(value);
      const bound = typeRank(upper.value);
      if (rank !== bound) return rank > bound;
      const position = compareValues(value, upper.value);
      return position > 0 || (position === 0 && !upper.inclusive);
    }
    return lower !== undefined && typeRank(value) > typeRank(lower.value);
  };
  const sorted = plan.index.sorted;
  const start = sorted.lowerBound(before);
  const end = Math.max(
    start,
    sorted.lowerBound((entry) => !beyond(entry)),
  );
  return { start, end };
}

function* lookupRecords(collection: MemoryCollection, lookup: IndexLookup): IterableIterator<MemoryRecord> {
  const seen = new Set<string>();
  for (const key of lookup.keys) {
    for (const id of lookup.index.entries.get(key) ?? []) {
      if (seen.has(id)) continue;
      seen.add(id);
      const record = collection.records.get(id);
      if (record !== undefined) yield record;
    }
  }
}

/**
 * Walks the region in sort order and stops once it holds `offset + limit + 1`
 * matches and the tie group of the last one is complete: the reference
 * evaluation of these candidates then gives the same page (and knows
 * whether more remain) as it would on the whole collection.
 */
function* orderedRecords(
  collection: MemoryCollection,
  plan: RangePlan,
  prepared: PreparedQuery,
): IterableIterator<MemoryRecord> {
  const { start, end } = region(plan);
  const wanted = prepared.offset + (prepared.limit ?? Number.POSITIVE_INFINITY) + 1;
  const k = plan.prefix.length;
  const width = prepared.sort.length;
  let matched = 0;
  let last: SortedEntry | undefined;
  for (const entry of plan.index.sorted.range(start, end, plan.backwards)) {
    if (last !== undefined) {
      let tie = true;
      for (let index = k; index < k + width && tie; index++) {
        tie = compareValues(entry.values[index], last.values[index]) === 0;
      }
      if (!tie) return;
    }
    const record = collection.records.get(entry.id);
    if (record === undefined || !matchesNode(record.document, prepared.filter, record.meta)) continue;
    const after = prepared.after;
    if (
      after !== undefined &&
      compareSortTuples(
        sortValues(record.document, prepared.sort, record.meta),
        entry.id,
        after.values,
        after.id,
        prepared.sort,
      ) <= 0
    ) {
      continue;
    }
    yield record;
    matched += 1;
    if (matched >= wanted) last = entry;
  }
}

function* regionRecords(collection: MemoryCollection, plan: RangePlan): IterableIterator<MemoryRecord> {
  const { start, end } = region(plan);
  for (const entry of plan.index.sorted.range(start, end, false)) {
    const record = collection.records.get(entry.id);
    if (record !== undefined) yield record;
  }
}

/**
 * The records a query has to look at: a region of a sorted index (cut short
 * when it yields the query's order and there is a limit), an index's hits
 * for `$in`, or every record. The caller evaluates the query on them.
 */
export function memoryCandidates(collection: MemoryCollection, prepared: PreparedQuery): Iterable<MemoryRecord> {
  const plan = bestPlan(collection, prepared);
  if (plan !== undefined && (plan.used.size > 0 || plan.servesSort)) {
    return plan.servesSort && prepared.limit !== undefined
      ? orderedRecords(collection, plan, prepared)
      : regionRecords(collection, plan);
  }
  const lookup = findLookup(collection, prepared.filter);
  return lookup === undefined ? collection.records.values() : lookupRecords(collection, lookup);
}

/**
 * Counts the matches without looking at documents when it can (no filter:
 * the collection's size; a filter an index decides alone: its region's
 * size), or walks an index's region; `undefined` when no index helps.
 */
export function memoryCount(collection: MemoryCollection, filter: FilterNode): number | undefined {
  if (filter.kind === 'and' && filter.nodes.length === 0) return collection.records.size;
  const plan = bestPlan(collection, {
    filter,
    sort: [],
    limit: undefined,
    offset: 0,
    after: undefined,
    fingerprint: '',
  });
  if (plan === undefined || plan.used.size === 0) return undefined;
  const terms = termsOf(filter);
  if (terms.every((term) => plan.used.has(term))) {
    const { start, end } = region(plan);
    return end - start;
  }
  let count = 0;
  for (const record of regionRecords(collection, plan)) if (matchesNode(record.document, filter, record.meta)) count++;
  return count;
}

/** Says how `memoryCandidates` would find the records of this query. */
export function explainMemoryQuery(collection: MemoryCollection, prepared: PreparedQuery): QueryPlan {
  const plan = bestPlan(collection, prepared);
  if (plan !== undefined && (plan.used.size > 0 || plan.servesSort)) {
    const { spec } = plan.index;
    const parts = [`${spec.unique ? 'unique ' : ''}sorted index on ${spec.field}`];
    if (plan.prefix.length > 0) {
      parts.push(`equality on ${spec.fields.slice(0, plan.prefix.length).map((field) => field.field)}`);
    }
    const ranged = spec.fields[plan.prefix.length];
    if ((plan.lower !== undefined || plan.upper !== undefined) && ranged !== undefined) {
      parts.push(`range on ${ranged.field}`);
    }
    if (plan.servesSort) {
      parts.push(
        `in sort order (${plan.backwards ? 'backwards' : 'forwards'})${prepared.limit === undefined ? '' : ', stops after the limit'}`,
      );
    }
    return { strategy: 'index', index: spec.name, detail: parts.join(', ') };
  }
  const lookup = findLookup(collection, prepared.filter);
  if (lookup === undefined) {
    return { strategy: 'scan', detail: `scan of ${collection.records.size} documents` };
  }
  return {
    strategy: 'index',
    index: lookup.index.spec.name,
    detail: `${lookup.index.spec.unique ? 'unique ' : ''}index on ${lookup.index.spec.field}, ${lookup.keys.length} key(s)`,
  };
}

import type { QueryPlan } from '@berth/core';
import type { FilterNode } from '@berth/core/adapter';
import { indexKey, type MemoryCollection, type MemoryIndex, type MemoryRecord } from './memory-store.js';

interface IndexLookup {
  readonly index: MemoryIndex;
  readonly keys: readonly string[];
}

/**
 * Finds an equality (or `$in`) condition on an indexed field among the
 * filter's top-level AND terms. Null operands are not served by an index,
 * since missing values are not indexed.
 */
function findLookup(collection: MemoryCollection, filter: FilterNode): IndexLookup | undefined {
  const terms = filter.kind === 'and' ? filter.nodes : [filter];
  for (const term of terms) {
    if (term.kind !== 'eq' && term.kind !== 'in') continue;
    const index = collection.indexes.get(term.path.join('.'));
    if (index === undefined) continue;
    const operands = 'values' in term ? term.values : [term.value];
    const keys = operands.map(indexKey);
    if (keys.every((key) => key !== undefined)) return { index, keys: keys as string[] };
  }
  return undefined;
}

/** The records a query has to look at: an index's hits, or every record. */
export function memoryCandidates(collection: MemoryCollection, filter: FilterNode): Iterable<MemoryRecord> {
  const lookup = findLookup(collection, filter);
  if (lookup === undefined) return collection.records.values();
  const records: MemoryRecord[] = [];
  const seen = new Set<string>();
  for (const key of lookup.keys) {
    for (const id of lookup.index.entries.get(key) ?? []) {
      if (seen.has(id)) continue;
      seen.add(id);
      const record = collection.records.get(id);
      if (record !== undefined) records.push(record);
    }
  }
  return records;
}

/** Says whether `memoryCandidates` would use an index for this filter. */
export function explainMemoryQuery(collection: MemoryCollection, filter: FilterNode): QueryPlan {
  const lookup = findLookup(collection, filter);
  if (lookup === undefined) {
    return { strategy: 'scan', detail: `scan of ${collection.records.size} documents` };
  }
  return {
    strategy: 'index',
    index: lookup.index.spec.name,
    detail: `${lookup.index.spec.unique ? 'unique ' : ''}index on ${lookup.index.spec.field}, ${lookup.keys.length} key(s)`,
  };
}

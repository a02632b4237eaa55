import { ConflictError } from '@berth/core';
import { toJsonValue } from '@berth/core/adapter';
import type { DecodedDocument } from './document-format.js';
import {
  ensureIndex,
  type MemoryChange,
  MemoryCollection,
  type MemoryRecord,
  type MemoryStore,
} from './memory-store.js';

/**
 * This instance's writes not yet in the store, entity by entity: collection →
 * id → the record the first of them replaced, as of the last version both
 * sides share (`undefined`: the entity did not exist then).
 */
export type PendingWrites = Map<string, Map<string, MemoryRecord | undefined>>;

/** Notes that `id` in `collection` was written, unless an older unsaved write of it is already noted. */
export function notePending(
  pending: PendingWrites,
  collection: string,
  id: string,
  before: MemoryRecord | undefined,
): void {
  let writes = pending.get(collection);
  if (writes === undefined) {
    writes = new Map();
    pending.set(collection, writes);
  }
  if (!writes.has(id)) writes.set(id, before);
}

/** What a merge leaves: the writes still to save, and the ones dropped because the other side won. */
export interface MergeResult {
  readonly pending: PendingWrites;
  readonly dropped: ConflictError[];
}

/**
 * Same entity, same version, same content: what both sides hold when
 * neither changed it (the times of an entity stored without metadata are
 * made up at each load, so they are not compared).
 */
function sameRecord(a: MemoryRecord | undefined, b: MemoryRecord | undefined): boolean {
  if (a === b) return true;
  if (a === undefined || b === undefined || a.version !== b.version) return false;
  return JSON.stringify(toJsonValue(a.document)) === JSON.stringify(toJsonValue(b.document));
}

/** The id of another entity holding a unique value of `record`, if any. */
function uniqueHolder(collection: MemoryCollection, record: MemoryRecord, id: string): string | undefined {
  for (const index of collection.indexes.values()) {
    const key = index.keyOf(record);
    if (!index.spec.unique || key === undefined) continue;
    for (const holder of index.entries.get(key) ?? []) {
      if (holder !== id) return `${index.spec.field} (held by ${JSON.stringify(holder)})`;
    }
  }
  return undefined;
}

/**
 * Makes the store hold the remote document plus this instance's unsaved
 * writes, entity by entity. The remote side wins an entity both sides
 * changed since the last shared version, and an entity whose unique value
 * the remote side took: such a write is dropped and reported. Index
 * declarations add up (one the merged documents break is dropped and
 * reported); the remote side's other top-level keys are the caller's to take.
 * Runs synchronously, so no commit lands halfway; open transactions that
 * depend on what changed conflict at commit.
 */
export function mergeRemote(
  location: string,
  store: MemoryStore,
  pending: PendingWrites,
  remote: DecodedDocument,
): MergeResult {
  const survivors: PendingWrites = new Map();
  const dropped: ConflictError[] = [];
  const drop = (collection: string, id: string | undefined, why: string) =>
    dropped.push(
      new ConflictError(`${location}: ${collection}${id === undefined ? '' : `.${id}`}: ${why}`, {
        retryable: false,
        collection,
        id,
      }),
    );
  const names = new Set([...store.collections.keys(), ...remote.collections.keys(), ...remote.indexes.keys()]);
  const keep = store.openTransactions > 0;
  for (const name of names) {
    const live = store.collection(name);
    const isForeign = remote.foreign.has(name);
    const theirs = (!isForeign && remote.collections.get(name)) || new Map<string, MemoryRecord>();
    const target = new MemoryCollection();
    for (const [id, record] of theirs) {
      const current = live.records.get(id);
      target.records.set(id, sameRecord(current, record) ? (current as MemoryRecord) : record);
    }
    const specs = isForeign
      ? []
      : [...(remote.indexes.get(name) ?? []), ...[...live.indexes.values()].map((index) => index.spec)];
    for (const spec of specs) {
      try {
        ensureIndex(target, spec, name);
      } catch (cause) {
        drop(
          name,
          undefined,
          `the index on ${spec.field} cannot hold on the merged documents (${(cause as Error).message}); it is dropped`,
        );
      }
    }
    for (const [id, base] of pending.get(name) ?? []) {
      const local = live.records.get(id);
      const remoteRecord = theirs.get(id);
      // Written back as it was, or the same change on both sides: nothing to merge.
      if (local === base || sameRecord(local, remoteRecord)) continue;
      if (isForeign) {
        drop(
          name,
          id,
          'another instance stored something that is not a collection under this name; this write was dropped',
        );
        continue;
      }
      if (!sameRecord(base, remoteRecord)) {
        drop(
          name,
          id,
          'changed by another instance too since this one last saved; its version was kept and this write was dropped',
        );
        continue;
      }
      const taken = local === undefined ? undefined : uniqueHolder(target, local, id);
      if (taken !== undefined) {
        drop(name, id, `another instance took its unique value of ${taken}; this write was dropped`);
        continue;
      }
      target.apply(id, local ?? null);
      notePending(survivors, name, id, remoteRecord);
    }
    const changes: MemoryChange[] = [];
    for (const [id, before] of live.records) {
      const after = target.records.get(id);
      if (after !== before) changes.push({ before, after });
    }
    for (const [id, after] of target.records) {
      if (!live.records.has(id)) changes.push({ before: undefined, after });
    }
    live.replaceWith(target, changes, keep);
  }
  return { pending: survivors, dropped };
}

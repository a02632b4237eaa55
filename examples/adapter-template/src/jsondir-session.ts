import { ConflictError, TransactionError } from '@berth/core';
import { type FilterNode, matchesNode, Turns } from '@berth/core/adapter';
import type { FileWrite, JsonDirFiles, StoredRecord } from './jsondir-files.js';

/** A filter a transaction evaluated, and the stamps of the committed documents it matched then. */
interface QueryRead {
  readonly collection: string;
  readonly filter: FilterNode;
  readonly matched: ReadonlyMap<string, string>;
}

function matching(records: Iterable<StoredRecord>, filter: FilterNode): Map<string, string> {
  const matched = new Map<string, string>();
  for (const record of records) {
    if (matchesNode(record.document, filter, record.meta)) matched.set(record.document.id, record.stamp);
  }
  return matched;
}

function sameStamps(a: ReadonlyMap<string, string>, b: ReadonlyMap<string, string>): boolean {
  if (a.size !== b.size) return false;
  for (const [id, stamp] of a) if (b.get(id) !== stamp) return false;
  return true;
}

/**
 * The state one operation or one transaction works on: the committed
 * documents of each collection it touched (read once, under the lock), its
 * own pending writes on top, and, for a transaction, what it read.
 *
 * A transaction holds no lock while its work runs (a second backend may read
 * meanwhile). At commit it takes the lock and checks that every document it
 * read by id, and the set of documents every filter it ran matched, is still
 * what it saw; otherwise it fails with a retryable CONFLICT and writes
 * nothing. That is optimistic, serializable concurrency: no lost update, no
 * write skew, no phantom, and writes to documents it never looked at do not
 * disturb it.
 */
export class JsonDirSession {
  private readonly committed = new Map<string, Promise<Map<string, StoredRecord>>>();
  private readonly loaded = new Map<string, Map<string, StoredRecord>>();
  private readonly writes = new Map<string, Map<string, StoredRecord | null>>();
  private readonly pointReads = new Map<string, Map<string, string | undefined>>();
  private readonly queryReads: QueryRead[] = [];
  private state: 'open' | 'committed' | 'rolled back' = 'open';
  /** A transaction's operations run one at a time, also those its work started without awaiting. */
  readonly turns: Turns = new Turns();

  /** `transaction`: record reads and check them at commit; otherwise the caller holds the lock throughout. */
  constructor(
    private readonly files: JsonDirFiles,
    private readonly transaction: boolean,
  ) {}

  assertOpen(): void {
    if (this.state !== 'open') throw new TransactionError(`this transaction has already ${this.state}`);
  }

  /** Reads a collection's committed documents, once per session; call it before `get` and `records`. */
  async load(collection: string): Promise<void> {
    let pending = this.committed.get(collection);
    if (pending === undefined) {
      pending = this.transaction
        ? this.files.withLock(() => this.files.readCollection(collection))
        : this.files.readCollection(collection);
      this.committed.set(collection, pending);
    }
    this.loaded.set(collection, await pending);
  }

  private committedOf(collection: string): Map<string, StoredRecord> {
    const records = this.loaded.get(collection);
    if (records === undefined) throw new Error(`collection ${collection} was not loaded`);
    return records;
  }

  /** The document `id` as this session sees it, its own writes included. */
  get(collection: string, id: string): StoredRecord | undefined {
    const written = this.writes.get(collection)?.get(id);
    if (written !== undefined) return written ?? undefined;
    const record = this.committedOf(collection).get(id);
    if (this.transaction) {
      let reads = this.pointReads.get(collection);
      if (reads === undefined) {
        reads = new Map();
        this.pointReads.set(collection, reads);
      }
      if (!reads.has(id)) reads.set(id, record?.stamp);
    }
    return record;
  }

  /** Every document of the collection as this session sees it; `filter` is what the caller will keep. */
  records(collection: string, filter: FilterNode): StoredRecord[] {
    const committed = this.committedOf(collection);
    if (this.transaction) this.queryReads.push({ collection, filter, matched: matching(committed.values(), filter) });
    const writes = this.writes.get(collection);
    if (writes === undefined) return [...committed.values()];
    const merged = new Map(committed);
    for (const [id, record] of writes) {
      if (record === null) merged.delete(id);
      else merged.set(id, record);
    }
    return [...merged.values()];
  }

  put(collection: string, id: string, record: StoredRecord | null): void {
    let writes = this.writes.get(collection);
    if (writes === undefined) {
      writes = new Map();
      this.writes.set(collection, writes);
    }
    writes.set(id, record);
  }

  /** Writes this session's changes; a transaction first checks its reads under the lock. */
  async commit(): Promise<void> {
    this.assertOpen();
    this.state = 'committed';
    const writes: FileWrite[] = [];
    for (const [collection, records] of this.writes) {
      for (const [id, record] of records) writes.push({ collection, id, record });
    }
    if (!this.transaction) return this.files.apply(writes);
    if (writes.length === 0) return;
    try {
      await this.files.withLock(async () => {
        await this.checkReads();
        await this.files.apply(writes);
      });
    } catch (error) {
      this.state = 'rolled back';
      throw error;
    }
  }

  rollback(): void {
    if (this.state === 'open') this.state = 'rolled back';
  }

  private async checkReads(): Promise<void> {
    const current = new Map<string, Map<string, StoredRecord>>();
    const now = async (collection: string) => {
      let records = current.get(collection);
      if (records === undefined) {
        records = await this.files.readCollection(collection);
        current.set(collection, records);
      }
      return records;
    };
    for (const [collection, reads] of this.pointReads) {
      const records = await now(collection);
      for (const [id, stamp] of reads) {
        if (records.get(id)?.stamp !== stamp) this.conflict(collection);
      }
    }
    for (const read of this.queryReads) {
      if (!sameStamps(read.matched, matching((await now(read.collection)).values(), read.filter))) {
        this.conflict(read.collection);
      }
    }
  }

  private conflict(collection: string): never {
    throw new ConflictError(
      `a concurrent write changed what this transaction read in ${collection}; nothing was written`,
    );
  }
}

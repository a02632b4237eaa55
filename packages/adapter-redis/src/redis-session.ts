import type { Page } from '@berth/core';
import { AlreadyExistsError, ConflictError, TransactionError } from '@berth/core';
import { cursorAfter, type FilterNode, type IndexSpec, matchesNode, type PreparedQuery } from '@berth/core/adapter';
import {
  loadCandidates,
  loadRecords,
  readAtomically,
  readCandidates,
  walkInIdOrder,
} from './redis-collection-loader.js';
import { CommitProgram } from './redis-commit-script.js';
import type { RedisContext } from './redis-context.js';
import type { CollectionIndexes, RedisIndexRegistry } from './redis-index-registry.js';
import { type IndexEntry, indexEntries, rangeEntries } from './redis-indexes.js';
import type { RedisCollectionKeys } from './redis-keys.js';
import { type Candidates, chooseCandidates, idBounds } from './redis-query-planner.js';
import { RECORD_FIELDS, type RedisRecord, readRecord } from './redis-record.js';
import { walkInIndexOrder } from './redis-sorted-walk.js';

/** A query a session ran, and the committed documents (id → version) it matched then. */
interface Predicate {
  readonly filter: FilterNode;
  readonly candidates: Candidates;
  readonly matched: Map<string, number>;
}

interface Overlay {
  readonly name: string;
  readonly keys: RedisCollectionKeys;
  indexes: CollectionIndexes;
  /** Pending writes: a record, or `null` for a delete. */
  readonly writes: Map<string, RedisRecord | null>;
  /** The committed record (`undefined`: missing) of each document when the session first saw it. */
  readonly base: Map<string, RedisRecord | undefined>;
  /** Documents whose version the commit checks: read by id, or written. */
  readonly checked: Set<string>;
  /** The collection's write counter before the first query of the session loaded documents. */
  counter: string | undefined;
  readonly predicates: Predicate[];
  /** Unique values written in this session: `key NUL member` → id. */
  readonly claims: Map<string, string>;
  /** Committed holders of unique values read ahead for a bulk write: `key NUL member` → id or null. */
  readonly holders: Map<string, string | null>;
}

/** Commit conflicts a single operation may cure by running again (never an expectedVersion mismatch). */
const commitConflicts = new WeakSet<object>();

/** Whether `error` is a CONFLICT raised by a commit's checks, which running the operation again may cure. */
export function isCommitConflict(error: unknown): boolean {
  return typeof error === 'object' && error !== null && commitConflicts.has(error);
}

function commitConflict(message: string, collection: string): ConflictError {
  const error = new ConflictError(message, { collection });
  commitConflicts.add(error);
  return error;
}

const REVALIDATIONS = 10;

/**
 * The committed record of one document (`undefined`: missing), by one
 * HMGET: atomic, so it is one state without any check around it.
 */
export async function readCommitted(
  context: RedisContext,
  keys: RedisCollectionKeys,
  id: string,
): Promise<RedisRecord | undefined> {
  const key = keys.document(id);
  const fields = await context.run((client) => client.hmget(key, ...RECORD_FIELDS));
  return readRecord(fields, key);
}

/** Unique values whose holders one pipeline reads ahead for a bulk write. */
const HOLDER_BATCH = 1000;

/**
 * A unit of work on Redis with optimistic concurrency. Reads go to the server
 * (each document once; reads see the session's own writes), writes are kept
 * here, and `commit()` sends them in ONE script call that first checks
 * everything the session depends on and then applies all of them (documents,
 * ids, index entries, write counters), or applies nothing:
 *
 * - each document read by id or written still has the version read
 *   (missing: 0), so a read-modify-write never loses a concurrent write;
 * - the index generation of each collection written is the one the entries
 *   were computed for;
 * - for a session that ran queries, the collection's write counter is the
 *   one read before they loaded. When it moved, the queries run again: if
 *   each matches the same documents at the same versions, the commit is
 *   tried again expecting the new counter; otherwise it is a retryable
 *   CONFLICT. So a transaction that counted one team commits although
 *   another team changed, and phantoms and write skew are refused.
 *
 * Committed transactions are therefore serializable: each behaves as if it
 * ran alone at its commit.
 */
export class RedisSession {
  private readonly overlays = new Map<string, Overlay>();
  private state: 'open' | 'committed' | 'rolled back' = 'open';

  constructor(
    private readonly context: RedisContext,
    private readonly registry: RedisIndexRegistry,
    readonly isTransaction: boolean,
  ) {}

  assertOpen(): void {
    if (this.state !== 'open') {
      throw new TransactionError(
        `this transaction has already ${this.state === 'committed' ? 'committed' : 'rolled back'}; use repositories of a new transaction`,
      );
    }
  }

  /** Opens the collection in this session with the indexes a repository declares (built when new). */
  async open(name: string, declared: readonly IndexSpec[]): Promise<void> {
    const indexes = await this.registry.indexes(name, declared);
    const overlay = this.overlays.get(name);
    if (overlay !== undefined) {
      overlay.indexes = indexes;
      return;
    }
    this.overlays.set(name, {
      name,
      keys: this.registry.keys(name),
      indexes,
      writes: new Map(),
      base: new Map(),
      checked: new Set(),
      counter: undefined,
      predicates: [],
      claims: new Map(),
      holders: new Map(),
    });
  }

  private overlay(name: string): Overlay {
    const overlay = this.overlays.get(name);
    if (overlay === undefined) throw new Error(`collection ${name} was not opened in this session`);
    return overlay;
  }

  specs(name: string): readonly IndexSpec[] {
    return this.overlay(name).indexes.specs;
  }

  keys(name: string): RedisCollectionKeys {
    return this.overlay(name).keys;
  }

  /** The committed records of `ids` not seen yet, read in one round trip and kept as seen. */
  private async ensureBase(overlay: Overlay, ids: readonly string[]): Promise<void> {
    const missing = ids.filter((id) => !overlay.writes.has(id) && !overlay.base.has(id));
    if (missing.length === 0) return;
    if (missing.length === 1) {
      // The hot path of get, insert and update: one HMGET, no pipeline.
      const id = missing[0] as string;
      overlay.base.set(id, await readCommitted(this.context, overlay.keys, id));
      return;
    }
    // One HMGET is atomic; several in a pipeline are not, so a single operation checks the counter around them.
    const check = this.isTransaction ? undefined : overlay.keys.meta;
    const before = check === undefined ? undefined : await this.context.run((client) => client.hget(check, 'n'));
    const batched = await this.context.run((client) => loadRecords(client, overlay.keys, missing, check));
    let loaded = batched.records;
    if (check !== undefined && batched.counterAfter !== (before ?? '0')) {
      // A commit landed in between: read them again in one script call, one state.
      const { records } = await this.context.run((client) =>
        readAtomically(client, overlay.keys, { kind: 'ids', ids: missing }),
      );
      loaded = new Map(records.map((record) => [record.document.id, record]));
    }
    for (const id of missing) if (!overlay.base.has(id)) overlay.base.set(id, loaded.get(id));
  }

  private visible(overlay: Overlay, id: string): RedisRecord | undefined {
    const pending = overlay.writes.get(id);
    if (pending !== undefined) return pending ?? undefined;
    return overlay.base.get(id);
  }

  async get(name: string, id: string): Promise<RedisRecord | undefined> {
    const overlay = this.overlay(name);
    await this.ensureBase(overlay, [id]);
    if (!overlay.writes.has(id)) overlay.checked.add(id);
    return this.visible(overlay, id);
  }

  async getMany(name: string, ids: readonly string[]): Promise<(RedisRecord | undefined)[]> {
    const overlay = this.overlay(name);
    await this.ensureBase(overlay, ids);
    return ids.map((id) => {
      if (!overlay.writes.has(id)) overlay.checked.add(id);
      return this.visible(overlay, id);
    });
  }

  /**
   * The records `filter` has to be evaluated on, as this session sees them
   * (committed ones narrowed by an index where one serves, then the session's
   * own writes), with the query recorded for the commit's checks.
   */
  async records(name: string, filter: FilterNode): Promise<RedisRecord[]> {
    const overlay = this.overlay(name);
    let candidates = chooseCandidates(overlay.keys, overlay.indexes.specs, filter);
    // A transaction's commit checks its queries; a single operation has no commit to check a read.
    const read = (chosen: Candidates) =>
      this.context.run((client) =>
        this.isTransaction
          ? loadCandidates(client, overlay.keys, chosen)
          : readCandidates(client, overlay.keys, chosen),
      );
    let { counter, generation, records } = await read(candidates);
    if (usesIndex(candidates) && generation !== overlay.indexes.generation) {
      // The declarations changed since this backend read them (another backend, or a server that lost its
      // data): the index used may not be the one writers keep, so this query scans instead.
      this.registry.invalidate(name);
      candidates = { kind: 'all' };
      ({ counter, records } = await read(candidates));
    }
    overlay.counter ??= counter;
    overlay.predicates.push({ filter, candidates, matched: matchedVersions(records, filter) });
    const result: RedisRecord[] = [];
    for (const record of records) {
      const id = record.document.id;
      if (!overlay.base.has(id)) overlay.base.set(id, record);
      if (!overlay.writes.has(id)) result.push(record);
    }
    for (const record of overlay.writes.values()) if (record !== null) result.push(record);
    return result;
  }

  /**
   * A page of a query in id order with a limit, read by walking the ids
   * from the cursor until the page (and one more match, to know whether
   * another page follows) is found: `iterate` and paged reads of a large
   * collection never load all of it per page. Only for a single read (a
   * transaction's queries are checked at its commit, which needs them whole)
   * served by no index; `undefined` when it does not apply, or when a commit
   * landed during the walk (the caller reads the usual way then).
   */
  async idOrderedPage(name: string, prepared: PreparedQuery): Promise<Page<RedisRecord> | undefined> {
    const overlay = this.overlay(name);
    const { sort, limit } = prepared;
    const idOrder =
      sort.length === 0 ||
      (sort.length === 1 && sort[0]?.direction === 'asc' && sort[0].path.length === 1 && sort[0].path[0] === 'id');
    if (this.isTransaction || overlay.writes.size > 0 || limit === undefined || !idOrder) return undefined;
    if (chooseCandidates(overlay.keys, overlay.indexes.specs, prepared.filter).kind !== 'all') return undefined;
    const end = prepared.offset + limit;
    const { records, stable } = await this.context.run((client) =>
      walkInIdOrder(client, overlay.keys, prepared.filter, prepared.after?.id, end + 1, idBounds(prepared.filter)),
    );
    if (!stable) return undefined;
    const items = records.slice(prepared.offset, end);
    const last = items.at(-1);
    const more = records.length > end && last !== undefined;
    return { items, nextCursor: more ? cursorAfter(prepared, last.document, last.meta) : null };
  }

  /**
   * A page of a query sorted by one field that a single-field index holds,
   * with a limit, read by walking the index in sort order from the cursor
   * until the page (and one more match) is found: a top-N or a paged
   * leaderboard never loads the whole collection. Same conditions as
   * {@link RedisSession.idOrderedPage}; `undefined` when it does not apply,
   * or when a commit or a declaration landed during the walk.
   */
  async indexOrderedPage(name: string, prepared: PreparedQuery): Promise<Page<RedisRecord> | undefined> {
    const overlay = this.overlay(name);
    const { sort, limit } = prepared;
    const key = sort.length === 1 ? sort[0] : undefined;
    if (this.isTransaction || overlay.writes.size > 0 || limit === undefined || key === undefined) return undefined;
    const spec = overlay.indexes.specs.find(
      (candidate) =>
        !candidate.compound &&
        candidate.path.length === key.path.length &&
        candidate.path.every((segment, index) => segment === key.path[index]),
    );
    if (spec === undefined) return undefined;
    if (chooseCandidates(overlay.keys, overlay.indexes.specs, prepared.filter).kind !== 'all') return undefined;
    const end = prepared.offset + limit;
    const { records, stable } = await this.context.run((client) =>
      walkInIndexOrder(
        client,
        overlay.keys,
        spec.key,
        sort,
        prepared.filter,
        prepared.after,
        end + 1,
        overlay.indexes.generation,
      ),
    );
    if (!stable) return undefined;
    const items = records.slice(prepared.offset, end);
    const last = items.at(-1);
    const more = records.length > end && last !== undefined;
    return { items, nextCursor: more ? cursorAfter(prepared, last.document, last.meta) : null };
  }

  /** Records a write (a record, or `null`: delete); a unique value taken by another document is ALREADY_EXISTS. */
  async put(name: string, id: string, record: RedisRecord | null): Promise<void> {
    const overlay = this.overlay(name);
    await this.ensureBase(overlay, [id]);
    if (record !== null) await this.checkUnique(overlay, id, record);
    overlay.checked.add(id);
    overlay.writes.set(id, record);
    if (record === null) return;
    for (const entry of indexEntries(overlay.keys, overlay.indexes.specs, record)) {
      if (entry.unique) overlay.claims.set(`${entry.key}\u0000${entry.member}`, id);
    }
  }

  /**
   * Records the writes of an import together, then checks their unique
   * values against the state they leave (committed documents as this
   * session sees them, with every record of the import applied), so
   * documents that trade unique values in one import pass, as the commit
   * script's frees allow. A refused import leaves the session as it was
   * (a transaction may go on without it).
   */
  async putAll(name: string, records: readonly RedisRecord[]): Promise<void> {
    const overlay = this.overlay(name);
    await this.ensureBase(
      overlay,
      records.map((record) => record.document.id),
    );
    const writes = new Map(overlay.writes);
    const claims = new Map(overlay.claims);
    const checked = new Set(overlay.checked);
    try {
      for (const record of records) {
        const id = record.document.id;
        overlay.checked.add(id);
        overlay.writes.set(id, record);
        for (const entry of indexEntries(overlay.keys, overlay.indexes.specs, record)) {
          if (entry.unique) overlay.claims.set(`${entry.key}\u0000${entry.member}`, id);
        }
      }
      for (const record of records) await this.checkUnique(overlay, record.document.id, record);
    } catch (error) {
      restore(overlay.writes, writes);
      restore(overlay.claims, claims);
      overlay.checked.clear();
      for (const id of checked) overlay.checked.add(id);
      throw error;
    }
  }

  /** Whether the session's view of document `id` still holds the unique value of `entry`. */
  private holds(overlay: Overlay, id: string, entry: IndexEntry): boolean {
    const record = this.visible(overlay, id);
    if (record === undefined) return false;
    return indexEntries(overlay.keys, [entry.spec], record).some((own) => own.member === entry.member);
  }

  /**
   * Reads the committed holders of the unique values `records` would take,
   * in pipelined batches, so a bulk write checks them without a round trip
   * per document. The commit checks them again, atomically.
   */
  /**
   * Reads ahead documents a bulk insert expects to be new. One EXISTS over
   * all of them (one command, so one state) answers for the usual case,
   * none there, without a read per document; when any exists, they are read
   * as `getMany` reads them. The commit still checks each of them is
   * missing (version 0), so one created after the EXISTS is a conflict.
   */
  async readExpectedNew(name: string, ids: readonly string[]): Promise<void> {
    const overlay = this.overlay(name);
    const unseen = ids.filter((id) => !overlay.writes.has(id) && !overlay.base.has(id));
    if (unseen.length > 1) {
      // Every document key of a collection carries its hash tag: one slot, so one EXISTS on a Cluster too.
      const keys = unseen.map((id) => overlay.keys.document(id));
      const existing = await this.context.run((client) => client.exists(keys));
      if (existing === 0) {
        for (const id of unseen) overlay.base.set(id, undefined);
        return;
      }
    }
    await this.ensureBase(overlay, unseen);
  }

  async readUniqueHolders(name: string, records: readonly RedisRecord[]): Promise<void> {
    const overlay = this.overlay(name);
    const entries = records.flatMap((record) =>
      indexEntries(overlay.keys, overlay.indexes.specs, record).filter((entry) => entry.unique),
    );
    for (let start = 0; start < entries.length; start += HOLDER_BATCH) {
      await this.readHolders(overlay, entries.slice(start, start + HOLDER_BATCH));
    }
  }

  private async readHolders(overlay: Overlay, entries: readonly IndexEntry[]): Promise<void> {
    const holders = await this.context.run(async (client) => {
      const pipeline = client.pipeline();
      for (const entry of entries) pipeline.hget(entry.key, entry.member);
      return ((await pipeline.exec()) ?? []).map(([error, holder]) => {
        if (error) throw error;
        return holder as string | null;
      });
    });
    entries.forEach((entry, index) => {
      overlay.holders.set(`${entry.key}\u0000${entry.member}`, holders[index] ?? null);
    });
  }

  private async checkUnique(overlay: Overlay, id: string, record: RedisRecord): Promise<void> {
    const entries = indexEntries(overlay.keys, overlay.indexes.specs, record).filter((entry) => entry.unique);
    if (entries.length === 0) return;
    const slots = entries.map((entry) => `${entry.key}\u0000${entry.member}`);
    if (slots.some((slot) => !overlay.holders.has(slot))) await this.readHolders(overlay, entries);
    const holders = slots.map((slot) => overlay.holders.get(slot) ?? null);
    const holderIds = holders.filter((holder): holder is string => holder !== null && holder !== id);
    await this.ensureBase(overlay, holderIds);
    entries.forEach((entry, index) => {
      const candidates = [holders[index], overlay.claims.get(`${entry.key}\u0000${entry.member}`)];
      for (const holder of candidates) {
        if (holder === null || holder === undefined || holder === id) continue;
        if (this.holds(overlay, holder, entry)) {
          throw new AlreadyExistsError(
            `${overlay.name}: another document (${JSON.stringify(holder)}) already has this ${entry.spec.field}`,
            entry.spec.field,
            { collection: overlay.name, id },
          );
        }
      }
    });
  }

  /**
   * Applies every pending write in one script call, or throws and applies
   * none: CONFLICT (retryable) when something the session depends on
   * changed, ALREADY_EXISTS when a concurrent commit took a unique value.
   */
  async commit(): Promise<void> {
    this.assertOpen();
    const touched = [...this.overlays.values()];
    const writes = touched.some((overlay) => overlay.writes.size > 0);
    // A single read needs no check; a transaction's reads are checked, so it never commits on a torn view.
    if (!writes && !this.isTransaction) {
      this.state = 'committed';
      return;
    }
    try {
      for (let attempt = 0; ; attempt++) {
        const program = this.program(touched);
        if (program.empty) break;
        const reply = await this.context.run((client) => program.run(client));
        if (reply.kind === 'ok') break;
        if (reply.kind === 'exists') {
          const name = touched.find((overlay) => reply.id !== '' && overlay.writes.has(reply.id))?.name;
          throw new AlreadyExistsError(
            `${name ?? 'a collection'}: another document already has this ${reply.field}`,
            reply.field,
            { collection: name, id: reply.id },
          );
        }
        const overlay = touched.find((candidate) => candidate.keys.meta === reply.key);
        if (overlay !== undefined && reply.field === 'g') {
          this.registry.invalidate(overlay.name);
          throw commitConflict(
            `${overlay.name}: its indexes were declared anew by another backend while this operation ran; run it again`,
            overlay.name,
          );
        }
        if (overlay === undefined || reply.field !== 'n' || attempt >= REVALIDATIONS) {
          const name = overlay?.name ?? touched.find((candidate) => reply.key.startsWith(candidate.keys.base))?.name;
          throw commitConflict(
            `${name ?? 'a collection'}: a document it read was changed by a concurrent write while this ${this.isTransaction ? 'transaction' : 'operation'} ran; run it again`,
            name ?? '',
          );
        }
        await this.revalidate(overlay);
      }
      this.state = 'committed';
    } catch (error) {
      this.state = 'rolled back';
      throw error;
    }
  }

  rollback(): void {
    if (this.state === 'open') this.state = 'rolled back';
  }

  /** Runs the session's queries on the collection again; they must match what they matched. */
  private async revalidate(overlay: Overlay): Promise<void> {
    let counter: string | undefined;
    for (const predicate of overlay.predicates) {
      const loaded = await this.context.run((client) => loadCandidates(client, overlay.keys, predicate.candidates));
      counter ??= loaded.counter;
      if (usesIndex(predicate.candidates) && loaded.generation !== overlay.indexes.generation) {
        this.registry.invalidate(overlay.name);
        throw commitConflict(
          `${overlay.name}: its indexes were declared anew while this ${this.isTransaction ? 'transaction' : 'operation'} ran; run it again`,
          overlay.name,
        );
      }
      if (!sameVersions(predicate.matched, matchedVersions(loaded.records, predicate.filter))) {
        throw commitConflict(
          `${overlay.name}: a concurrent write changed what a query of this ${this.isTransaction ? 'transaction' : 'operation'} matched; run it again`,
          overlay.name,
        );
      }
    }
    overlay.counter = counter;
  }

  private program(touched: readonly Overlay[]): CommitProgram {
    const program = new CommitProgram();
    for (const overlay of touched) {
      const { keys } = overlay;
      const specs = overlay.indexes.specs;
      const meta = program.key(keys.meta);
      // Writes keep the declared indexes; queries that used one depend on it being the one writers keep.
      if (overlay.writes.size > 0 || overlay.predicates.some((predicate) => usesIndex(predicate.candidates))) {
        program.step('C', meta, 'g', overlay.indexes.generation);
      }
      if (overlay.predicates.length > 0) program.step('C', meta, 'n', overlay.counter ?? '0');
      for (const id of overlay.checked) {
        program.step('C', program.key(keys.document(id)), 'v', String(overlay.base.get(id)?.version ?? 0));
      }
      if (overlay.writes.size === 0) continue;
      const ids = program.key(keys.ids);
      for (const [id, record] of overlay.writes) {
        const document = program.key(keys.document(id));
        const before = overlay.base.get(id);
        const after = record === null ? [] : indexEntries(keys, specs, record);
        for (const entry of before === undefined ? [] : indexEntries(keys, specs, before)) {
          if (entry.unique) program.step('F', program.key(entry.key), entry.member, id);
          else if (!after.some((next) => next.key === entry.key)) program.step('SR', program.key(entry.key), id);
        }
        const rangesAfter = record === null ? [] : rangeEntries(keys, specs, record);
        for (const entry of before === undefined ? [] : rangeEntries(keys, specs, before)) {
          if (!rangesAfter.some((next) => next.key === entry.key && next.member === entry.member)) {
            program.step('ZR', program.key(entry.key), entry.member);
          }
        }
        for (const entry of rangesAfter) program.step('ZA', program.key(entry.key), entry.score, entry.member);
        if (record === null) {
          program.step('D', document, ids, id);
          continue;
        }
        program.step(
          'P',
          document,
          ids,
          id,
          record.json(),
          String(record.version),
          String(record.createdAtMs),
          String(record.updatedAtMs),
        );
        for (const entry of after) {
          if (entry.unique) program.step('U', program.key(entry.key), entry.member, id, entry.spec.field);
          else program.step('SA', program.key(entry.key), id);
        }
      }
      program.step('N', meta);
    }
    return program;
  }
}

/** Puts `saved`'s contents back into `map`. */
function restore<K, V>(map: Map<K, V>, saved: ReadonlyMap<K, V>): void {
  map.clear();
  for (const [key, value] of saved) map.set(key, value);
}

/** Whether candidates come from a declared index (not every document, nor ids). */
function usesIndex(candidates: Candidates): boolean {
  return candidates.kind !== 'all' && candidates.kind !== 'ids';
}

function matchedVersions(records: readonly RedisRecord[], filter: FilterNode): Map<string, number> {
  const matched = new Map<string, number>();
  for (const record of records) {
    if (matchesNode(record.document, filter, record.meta)) matched.set(record.document.id, record.version);
  }
  return matched;
}

function sameVersions(a: ReadonlyMap<string, number>, b: ReadonlyMap<string, number>): boolean {
  if (a.size !== b.size) return false;
  for (const [id, version] of a) if (b.get(id) !== version) return false;
  return true;
}

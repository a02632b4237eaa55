import type { SignalOptions } from '../operation/abort.js';
import type { FindOneQuery } from '../query/find-one.js';
import type { CountByGroup, Filter, Page, Query, QueryPlan } from '../query/query.js';
import type { MetadataPath, ScalarPath } from '../query/typed-paths.js';
import type { Update } from '../query/update.js';
import type { AnyDocument, Document, Entry, NewDocument } from '../values/document.js';
import type { StandardSchemaV1 } from '../values/standard-schema.js';

/**
 * Per-call options of writes that can be made conditional.
 *
 * ### Examples
 * ```ts
 * import type { Repository, WriteOptions } from '@berth/core';
 *
 * async function removeIfUnchanged(notes: Repository, id: string, version: number): Promise<boolean> {
 *   const options: WriteOptions = { expectedVersion: version, signal: AbortSignal.timeout(5_000) };
 *   return notes.delete(id, options);
 * }
 * ```
 */
export interface WriteOptions extends SignalOptions {
  /**
   * Optimistic concurrency: the write happens only if the stored version equals
   * this number, otherwise it fails with a `CONFLICT` error.
   */
  readonly expectedVersion?: number | undefined;
}

/**
 * The option that makes a write resolve to the written {@link Entry}
 * (document and metadata) instead of the document alone, read in the same
 * step as the write (no second round trip).
 *
 * ### Examples
 * ```ts
 * import type { Repository } from '@berth/core';
 *
 * async function save(notes: Repository, note: { id: string; text: string }): Promise<number> {
 *   const { meta } = await notes.upsert(note, { returnEntry: true });
 *   return meta.version;
 * }
 * ```
 */
export interface ReturnEntryOption {
  /** `true`: resolve to `{ document, meta }`, the metadata as the write left it. */
  readonly returnEntry?: boolean | undefined;
}

/**
 * Options of `insert`.
 *
 * ### Examples
 * ```ts
 * import type { Repository } from '@berth/core';
 *
 * async function addNote(notes: Repository, text: string): Promise<string> {
 *   const note = await notes.insert({ text }, { signal: AbortSignal.timeout(2_000) });
 *   return note.id;
 * }
 * ```
 */
export interface InsertOptions extends SignalOptions, ReturnEntryOption {}

/**
 * Options of `replace`, `upsert` and `update`: the conditional write options, and `returnEntry`.
 *
 * ### Examples
 * ```ts
 * import type { Repository, WriteEntryOptions } from '@berth/core';
 *
 * async function replaceChecked(notes: Repository, note: { id: string; text: string }, version: number) {
 *   const options: WriteEntryOptions = { expectedVersion: version, returnEntry: true };
 *   return notes.replace(note, options);
 * }
 * ```
 */
export interface WriteEntryOptions extends WriteOptions, ReturnEntryOption {}

/**
 * Options `O` asking for the entry: `returnEntry: true`.
 *
 * ### Examples
 * ```ts
 * import type { Entry, Repository, WithEntry, WriteEntryOptions } from '@berth/core';
 *
 * async function saveEntry(notes: Repository, note: { id: string }): Promise<Entry<typeof note>> {
 *   const options: WithEntry<WriteEntryOptions> = { returnEntry: true };
 *   return notes.upsert(note, options);
 * }
 * ```
 */
export type WithEntry<O> = O & { readonly returnEntry: true };

/**
 * Options `O` asking for the document alone: `returnEntry` absent or `false`.
 *
 * ### Examples
 * ```ts
 * import type { Repository, WithoutEntry, WriteEntryOptions } from '@berth/core';
 *
 * async function save(notes: Repository, note: { id: string }): Promise<{ id: string }> {
 *   const options: WithoutEntry<WriteEntryOptions> = { returnEntry: false };
 *   return notes.upsert(note, options);
 * }
 * ```
 */
export type WithoutEntry<O> = O & { readonly returnEntry?: false | undefined };

/**
 * Options of an `update` made conditional by `where`: it may resolve to `null`.
 *
 * ### Examples
 * ```ts
 * import type { Repository } from '@berth/core';
 *
 * interface Seat { id: string; taken: boolean }
 *
 * // With `where`, the update resolves to null when the seat was already taken.
 * async function book(seats: Repository<Seat>, id: string): Promise<boolean> {
 *   return (await seats.update(id, { taken: true }, { where: { taken: false } })) !== null;
 * }
 * ```
 */
export interface Conditional {
  readonly where: object;
}

/**
 * The type of value an indexed field holds.
 *
 * ### Examples
 * ```ts
 * import type { IndexFieldType } from '@berth/core';
 *
 * const byType: Record<string, IndexFieldType> = { email: 'string', age: 'number', born: 'date', active: 'boolean' };
 * ```
 */
export type IndexFieldType = 'string' | 'number' | 'date' | 'boolean';

/**
 * The value types an index holds (the name the typed-query API uses).
 *
 * ### Examples
 * ```ts
 * import type { IndexType, SingleFieldIndex } from '@berth/core';
 *
 * const type: IndexType = 'date';
 * const index: SingleFieldIndex = { field: 'createdOn', type };
 * ```
 */
export type IndexType = IndexFieldType;

/** The paths an index of `T` may name: its scalar paths, and `$createdAt` / `$updatedAt` on their own. */
type IndexPath<T extends Document> = ScalarPath<T> | MetadataPath;

/**
 * An index on one field: which field, and the type of value it holds.
 * For a typed `T`, `field` is one of its scalar paths.
 *
 * ### Examples
 * ```ts
 * import type { RepositoryBackend, SingleFieldIndex } from '@berth/core';
 *
 * interface User { id: string; email: string; age: number }
 *
 * const email: SingleFieldIndex<User> = { field: 'email', type: 'string', unique: true };
 *
 * function users(backend: RepositoryBackend) {
 *   return backend.repository<User>('users', { indexes: [email, { field: 'age', type: 'number' }] });
 * }
 * ```
 */
export type SingleFieldIndex<T extends Document = AnyDocument> = SingleFieldIndexOn<IndexPath<T>>;

/**
 * An index on one field named by a path of type `Path`.
 *
 * ### Examples
 * ```ts
 * import type { SingleFieldIndexOn } from '@berth/core';
 *
 * const bySku: SingleFieldIndexOn<'sku' | 'price'> = { field: 'sku', type: 'string', unique: true };
 * ```
 */
export interface SingleFieldIndexOn<Path extends string = string> {
  /** Dotted field path. */
  readonly field: Path;
  readonly type: IndexFieldType;
  /** Reject a second document with the same (non-null) value. */
  readonly unique?: boolean | undefined;
}

/**
 * The fields a missing document is created with by an upserting `update`:
 * the document without its id (the id is `update`'s first argument).
 *
 * ### Examples
 * ```ts
 * import type { Repository, UpsertFields } from '@berth/core';
 *
 * interface Counter { id: string; hits: number; page: string }
 *
 * async function hit(counters: Repository<Counter>, page: string): Promise<Counter> {
 *   const initial: UpsertFields<Counter> = { hits: 0, page };
 *   return counters.update(page, { $inc: { hits: 1 } }, { upsert: initial });
 * }
 * ```
 */
export type UpsertFields<T extends Document = AnyDocument> = Omit<T, 'id'>;

/**
 * Per-call options of `update`.
 *
 * - `where`: a conditional update. The update applies only if the stored
 *   document also matches this filter, checked and written in one atomic step;
 *   otherwise nothing is written and `update` resolves to `null`. A missing
 *   document is still `NOT_FOUND`.
 * - `upsert`: an operator upsert. When the document is missing,
 *   `{ ...upsert, id }` is created and the update applied to it, in one atomic
 *   step; when it exists, the update applies as usual.
 * - `expectedVersion` combines with `where`: a version mismatch is `CONFLICT`
 *   (checked first), a matching version whose document fails `where` gives
 *   `null`. `upsert` combines with neither (`VALIDATION`): a missing document
 *   has no version to expect, and a created one must not depend on a filter.
 *
 * ### Examples
 * ```ts
 * import type { Document, Repository } from '@berth/core';
 *
 * interface Wallet extends Document { points: number; owner: string }
 *
 * // A points balance that may not exist yet: created at 0, then incremented, atomically.
 * async function award(wallets: Repository<Wallet>, id: string, points: number): Promise<Wallet> {
 *   return wallets.update(id, { $inc: { points } }, { upsert: { points: 0, owner: id } });
 * }
 *
 * // Spend only if the balance covers it: null when it does not.
 * async function spend(wallets: Repository<Wallet>, id: string, points: number): Promise<boolean> {
 *   const after = await wallets.update(id, { $inc: { points: -points } }, { where: { points: { $gte: points } } });
 *   return after !== null;
 * }
 * ```
 */
export interface UpdateOptions<T extends Document = AnyDocument> extends WriteEntryOptions {
  /** Apply only if the stored document matches this filter; `null` when it does not. */
  readonly where?: Filter<T> | undefined;
  /** Create `{ ...upsert, id }` and apply the update to it when the document is missing. */
  readonly upsert?: UpsertFields<T> | undefined;
}

/**
 * An index on several fields, in order: it serves equality on a prefix of
 * them followed by a range or a sort on the next one.
 *
 * ### Examples
 * ```ts
 * import type { Repository, RepositoryBackend } from '@berth/core';
 *
 * interface Revision { id: string; sessionId: string; at: Date; text: string }
 *
 * async function latest(backend: RepositoryBackend, sessionId: string): Promise<Revision[]> {
 *   const revisions: Repository<Revision> = backend.repository<Revision>('revisions', {
 *     indexes: [{ fields: [{ field: 'sessionId', type: 'string' }, { field: 'at', type: 'date' }] }],
 *   });
 *   return revisions.find({ where: { sessionId }, orderBy: { field: 'at', direction: 'desc' }, limit: 10 });
 * }
 * ```
 */
export type CompoundIndex<T extends Document = AnyDocument> = CompoundIndexOn<ScalarPath<T>>;

/**
 * An index over several fields named by paths of type `Path`.
 *
 * ### Examples
 * ```ts
 * import type { CompoundIndexOn } from '@berth/core';
 *
 * const byCustomerAndDate: CompoundIndexOn<'customerId' | 'placedAt'> = {
 *   name: 'customer_date',
 *   fields: [
 *     { field: 'customerId', type: 'string' },
 *     { field: 'placedAt', type: 'date' },
 *   ],
 * };
 * ```
 */
export interface CompoundIndexOn<Path extends string = string> {
  /** Two to eight distinct fields, in index order. */
  readonly fields: readonly { readonly field: Path; readonly type: IndexFieldType }[];
  /**
   * Reject a second document with the same tuple of values. A document whose
   * indexed fields are not all present, non-null scalars is not checked.
   */
  readonly unique?: boolean | undefined;
  /** Names the index (`explain` reports it): a letter, then letters, digits or `_`. Defaults to the fields joined by `+`. */
  readonly name?: string | undefined;
}

/**
 * A declared index: on one field, or compound (on several).
 *
 * ### Examples
 * ```ts
 * import type { IndexDefinition } from '@berth/core';
 *
 * interface Order { id: string; customerId: string; placedAt: Date; reference: string }
 *
 * const indexes: IndexDefinition<Order>[] = [
 *   { field: 'reference', type: 'string', unique: true },
 *   { fields: [{ field: 'customerId', type: 'string' }, { field: 'placedAt', type: 'date' }] },
 * ];
 * ```
 */
export type IndexDefinition<T extends Document = AnyDocument> = SingleFieldIndex<T> | CompoundIndex<T>;

/**
 * Options of `backend.repository(name, options)`.
 *
 * ### Examples
 * ```ts
 * import type { RepositoryBackend, RepositoryOptions, StandardSchemaV1 } from '@berth/core';
 *
 * interface User { id: string; email: string }
 *
 * function users(backend: RepositoryBackend, schema: StandardSchemaV1<unknown, User>) {
 *   const options: RepositoryOptions<User> = { schema, indexes: [{ field: 'email', type: 'string', unique: true }] };
 *   return backend.repository<User>('users', options);
 * }
 * ```
 */
export interface RepositoryOptions<T extends Document = AnyDocument> {
  /** Indexes the adapter creates (where it has any) and `explain` reports. */
  readonly indexes?: readonly NoInfer<IndexDefinition<T>>[] | undefined;
  /** Validates every written document (any Standard Schema validator). */
  readonly schema?: StandardSchemaV1<unknown, T> | undefined;
}

/**
 * A typed collection of documents.
 *
 * Every read returns a fresh copy: mutating it never changes stored state.
 * Metadata (version, timestamps) is kept apart from the document; read it with
 * {@link getEntry}, {@link findEntries}, {@link findEntriesPage},
 * {@link iterateEntries} or `returnEntry: true` on a write, and filter or sort
 * by it with the reserved paths `$createdAt` and `$updatedAt`.
 *
 * ### Examples
 * ```ts
 * import type { Repository } from '@berth/core';
 *
 * interface Player { id: string; name: string; level: number }
 *
 * async function promote(players: Repository<Player>, id: string): Promise<number> {
 *   const updated = await players.update(id, { $inc: { level: 1 } });
 *   const strong = await players.find({ where: { level: { $gte: 10 } }, orderBy: 'name' });
 *   return updated.level + strong.length;
 * }
 *
 * // Metadata without copying it into documents: sessions written since a date, newest first.
 * async function updatedSince(sessions: Repository, since: Date) {
 *   const entries = await sessions.findEntries({
 *     where: { $updatedAt: { $gte: since } },
 *     orderBy: { field: '$updatedAt', direction: 'desc' },
 *   });
 *   return entries.map(({ document, meta }) => ({ id: document.id, at: meta.updatedAt }));
 * }
 * ```
 */
export interface Repository<T extends Document = AnyDocument> {
  /** The collection name. */
  readonly name: string;

  /** The document with this id, or `null`. */
  get(id: string, options?: SignalOptions): Promise<T | null>;
  /** The document and its metadata, or `null`. */
  getEntry(id: string, options?: SignalOptions): Promise<Entry<T> | null>;
  /** The documents with these ids, in the order asked; `null` where missing. */
  getMany(ids: readonly string[], options?: SignalOptions): Promise<(T | null)[]>;
  /** Every match, in order. Without `limit`, nothing is left out. */
  find(query?: Query<T>, options?: SignalOptions): Promise<T[]>;
  /** One page and the cursor of the next one. */
  findPage(query?: Query<T>, options?: SignalOptions): Promise<Page<T>>;
  /** The first match in order (`where`, `orderBy`, `offset` apply), or `null`. A `limit` or `cursor` is a `VALIDATION` error. */
  findOne(query?: FindOneQuery<T>, options?: SignalOptions): Promise<T | null>;
  /** Number of matches (`limit`/`offset`/`cursor` are not allowed). */
  count(where?: Filter<T>, options?: SignalOptions): Promise<number>;
  /** Counts per value of `field` (scalars only; missing counts as `null`), in sort order. */
  countBy(field: ScalarPath<T>, where?: Filter<T>, options?: SignalOptions): Promise<CountByGroup[]>;
  /** Whether any document matches. */
  exists(where?: Filter<T>, options?: SignalOptions): Promise<boolean>;
  /** Streams every match in batches; memory stays bounded by the batch size. */
  iterate(query?: Query<T>, options?: IterateOptions): AsyncIterableIterator<T>;
  /** How the engine would serve the query: an index or a scan. */
  explain(query?: Query<T>, options?: SignalOptions): Promise<QueryPlan>;

  /**
   * {@link find} returning entries: each match with its metadata (version,
   * `createdAt`, `updatedAt`), in the same order, with the same filter,
   * sort and paging rules. Every entry is a fresh copy.
   *
   * ### Examples
   * ```ts
   * import type { Repository } from '@berth/core';
   *
   * interface Revision { id: string; sessionId: string; text: string }
   *
   * // A revision history in chronological order: no timestamp field in the documents.
   * async function history(revisions: Repository<Revision>, sessionId: string) {
   *   const entries = await revisions.findEntries({ where: { sessionId }, orderBy: '$createdAt' });
   *   return entries.map(({ document, meta }) => `${meta.createdAt.toISOString()} ${document.text}`);
   * }
   * ```
   */
  findEntries(query?: Query<T>, options?: SignalOptions): Promise<Entry<T>[]>;
  /** {@link findPage} returning entries; its cursors are interchangeable with `findPage`'s for the same query. */
  findEntriesPage(query?: Query<T>, options?: SignalOptions): Promise<Page<Entry<T>>>;
  /** {@link iterate} yielding entries. */
  iterateEntries(query?: Query<T>, options?: IterateOptions): AsyncIterableIterator<Entry<T>>;

  /**
   * Inserts; `ALREADY_EXISTS` when the id or a unique value is taken.
   * With `returnEntry: true`, resolves to the entry (version 1, both times
   * the time of the insert).
   *
   * ### Examples
   * ```ts
   * import type { Repository } from '@berth/core';
   *
   * async function created(notes: Repository): Promise<Date> {
   *   const { meta } = await notes.insert({ text: 'hi' }, { returnEntry: true });
   *   return meta.createdAt;
   * }
   * ```
   */
  insert(document: NewDocument<T>, options: WithEntry<InsertOptions>): Promise<Entry<T>>;
  insert(document: NewDocument<T>, options?: WithoutEntry<InsertOptions>): Promise<T>;
  insert(document: NewDocument<T>, options?: InsertOptions): Promise<T | Entry<T>>;
  /** Replaces an existing document whole; `NOT_FOUND` when missing. `returnEntry: true` resolves to the entry. */
  replace(document: T, options: WithEntry<WriteEntryOptions>): Promise<Entry<T>>;
  replace(document: T, options?: WithoutEntry<WriteEntryOptions>): Promise<T>;
  replace(document: T, options?: WriteEntryOptions): Promise<T | Entry<T>>;
  /** Inserts or replaces whole. `returnEntry: true` resolves to the entry. */
  upsert(document: T, options: WithEntry<WriteEntryOptions>): Promise<Entry<T>>;
  upsert(document: T, options?: WithoutEntry<WriteEntryOptions>): Promise<T>;
  upsert(document: T, options?: WriteEntryOptions): Promise<T | Entry<T>>;
  /**
   * Applies a patch or update operators in one step; `NOT_FOUND` when missing.
   * With `where`, applies only if the document also matches it (atomically)
   * and resolves to `null` when it does not; with `upsert`, creates the
   * missing document from those fields first (see {@link UpdateOptions}).
   * `returnEntry: true` resolves to the entry.
   */
  update(id: string, update: Update<T>, options: WithEntry<UpdateOptions<T>> & Conditional): Promise<Entry<T> | null>;
  update(id: string, update: Update<T>, options: WithEntry<UpdateOptions<T>>): Promise<Entry<T>>;
  update(id: string, update: Update<T>, options: WithoutEntry<UpdateOptions<T>> & Conditional): Promise<T | null>;
  update(id: string, update: Update<T>, options?: WithoutEntry<UpdateOptions<T>>): Promise<T>;
  update(
    id: string,
    update: Update<T>,
    options?: UpdateOptions<T> & { readonly where?: undefined },
  ): Promise<T | Entry<T>>;
  update(id: string, update: Update<T>, options?: UpdateOptions<T>): Promise<T | Entry<T> | null>;
  /** Deletes; `false` when missing, `NOT_FOUND` when missing and `expectedVersion` was given. */
  delete(id: string, options?: WriteOptions): Promise<boolean>;

  /** Inserts all or none. */
  insertMany(documents: readonly NewDocument<T>[], options?: SignalOptions): Promise<T[]>;
  /** Upserts all or none. */
  upsertMany(documents: readonly T[], options?: SignalOptions): Promise<T[]>;
  /** Applies one update to every match, all or none; returns how many changed. */
  updateMany(where: Filter<T> | undefined, update: Update<T>, options?: SignalOptions): Promise<number>;
  /** Deletes every match; returns how many. */
  deleteMany(where: Filter<T> | undefined, options?: SignalOptions): Promise<number>;

  /**
   * Writes entries exactly as given, metadata included: each document is
   * stored under its id with the entry's `version`, `createdAt` and
   * `updatedAt`, replacing whatever that id held (a restore, not a write:
   * versions are not bumped and times are not moved). Documents are checked
   * like any write (values, id, the collection's schema) and unique indexes
   * hold (`ALREADY_EXISTS`, nothing imported). All or none; resolves to how
   * many entries were written. Meant for tools that move data between
   * backends (`berth copy`), backups and fixtures; inside a transaction it
   * commits with it.
   *
   * ### Examples
   * ```ts
   * import type { Repository } from '@berth/core';
   *
   * async function copyNotes(from: Repository, to: Repository): Promise<number> {
   *   let copied = 0;
   *   for await (const entry of from.iterateEntries()) copied += await to.importEntries([entry]);
   *   return copied;
   * }
   * ```
   */
  importEntries(entries: readonly Entry<T>[], options?: SignalOptions): Promise<number>;
}

/**
 * Options of `iterate`.
 *
 * ### Examples
 * ```ts
 * import type { Repository } from '@berth/core';
 *
 * async function exportAll(events: Repository, write: (line: string) => void): Promise<void> {
 *   for await (const event of events.iterate({ orderBy: '$createdAt' }, { batchSize: 500 })) {
 *     write(JSON.stringify(event));
 *   }
 * }
 * ```
 */
export interface IterateOptions extends SignalOptions {
  /** Documents fetched per round trip (default 100). */
  readonly batchSize?: number | undefined;
}

import type { SignalOptions } from '../operation/abort.js';
import type { FindOneQuery } from '../query/find-one.js';
import type { CountByGroup, Page, Query, QueryPlan } from '../query/query.js';
import type { Update } from '../query/update.js';
import type { AnyDocument, Document, Entry, NewDocument } from '../values/document.js';
import type { StandardSchemaV1 } from '../values/standard-schema.js';

/** Per-call options of writes that can be made conditional. */
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
 */
export interface ReturnEntryOption {
  /** `true`: resolve to `{ document, meta }`, the metadata as the write left it. */
  readonly returnEntry?: boolean | undefined;
}

/** Options of `insert`. */
export interface InsertOptions extends SignalOptions, ReturnEntryOption {}

/** Options of `replace`, `upsert` and `update`: the conditional write options, and `returnEntry`. */
export interface WriteEntryOptions extends WriteOptions, ReturnEntryOption {}

/** Options `O` asking for the entry: `returnEntry: true`. */
export type WithEntry<O> = O & { readonly returnEntry: true };

/** Options `O` asking for the document alone: `returnEntry` absent or `false`. */
export type WithoutEntry<O> = O & { readonly returnEntry?: false | undefined };

/** A declared index: which field, and the type of value it holds. */
export interface IndexDefinition {
  /** Dotted field path. */
  readonly field: string;
  readonly type: 'string' | 'number' | 'date' | 'boolean';
  /** Reject a second document with the same (non-null) value. */
  readonly unique?: boolean | undefined;
}

/** Options of `backend.repository(name, options)`. */
export interface RepositoryOptions<T extends Document = AnyDocument> {
  /** Indexes the adapter creates (where it has any) and `explain` reports. */
  readonly indexes?: readonly IndexDefinition[] | undefined;
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
  find(query?: Query, options?: SignalOptions): Promise<T[]>;
  /** One page and the cursor of the next one. */
  findPage(query?: Query, options?: SignalOptions): Promise<Page<T>>;
  /** The first match in order (`where`, `orderBy`, `offset` apply), or `null`. A `limit` or `cursor` is a `VALIDATION` error. */
  findOne(query?: FindOneQuery, options?: SignalOptions): Promise<T | null>;
  /** Number of matches (`limit`/`offset`/`cursor` are not allowed). */
  count(where?: Query['where'], options?: SignalOptions): Promise<number>;
  /** Counts per value of `field` (scalars only; missing counts as `null`), in sort order. */
  countBy(field: string, where?: Query['where'], options?: SignalOptions): Promise<CountByGroup[]>;
  /** Whether any document matches. */
  exists(where?: Query['where'], options?: SignalOptions): Promise<boolean>;
  /** Streams every match in batches; memory stays bounded by the batch size. */
  iterate(query?: Query, options?: IterateOptions): AsyncIterableIterator<T>;
  /** How the engine would serve the query: an index or a scan. */
  explain(query?: Query, options?: SignalOptions): Promise<QueryPlan>;

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
  findEntries(query?: Query, options?: SignalOptions): Promise<Entry<T>[]>;
  /** {@link findPage} returning entries; its cursors are interchangeable with `findPage`'s for the same query. */
  findEntriesPage(query?: Query, options?: SignalOptions): Promise<Page<Entry<T>>>;
  /** {@link iterate} yielding entries. */
  iterateEntries(query?: Query, options?: IterateOptions): AsyncIterableIterator<Entry<T>>;

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
  /** Applies a patch or update operators in one step; `NOT_FOUND` when missing. `returnEntry: true` resolves to the entry. */
  update(id: string, update: Update<T>, options: WithEntry<WriteEntryOptions>): Promise<Entry<T>>;
  update(id: string, update: Update<T>, options?: WithoutEntry<WriteEntryOptions>): Promise<T>;
  update(id: string, update: Update<T>, options?: WriteEntryOptions): Promise<T | Entry<T>>;
  /** Deletes; `false` when missing, `NOT_FOUND` when missing and `expectedVersion` was given. */
  delete(id: string, options?: WriteOptions): Promise<boolean>;

  /** Inserts all or none. */
  insertMany(documents: readonly NewDocument<T>[], options?: SignalOptions): Promise<T[]>;
  /** Upserts all or none. */
  upsertMany(documents: readonly T[], options?: SignalOptions): Promise<T[]>;
  /** Applies one update to every match, all or none; returns how many changed. */
  updateMany(where: Query['where'], update: Update<T>, options?: SignalOptions): Promise<number>;
  /** Deletes every match; returns how many. */
  deleteMany(where: Query['where'], options?: SignalOptions): Promise<number>;
}

/** Options of `iterate`. */
export interface IterateOptions extends SignalOptions {
  /** Documents fetched per round trip (default 100). */
  readonly batchSize?: number | undefined;
}

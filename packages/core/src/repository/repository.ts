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

/** The type of value an indexed field holds. */
export type IndexFieldType = 'string' | 'number' | 'date' | 'boolean';

/** An index on one field: which field, and the type of value it holds. */
export interface SingleFieldIndex {
  /** Dotted field path. */
  readonly field: string;
  readonly type: IndexFieldType;
  /** Reject a second document with the same (non-null) value. */
  readonly unique?: boolean | undefined;
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
export interface CompoundIndex {
  /** Two to eight distinct fields, in index order. */
  readonly fields: readonly { readonly field: string; readonly type: IndexFieldType }[];
  /**
   * Reject a second document with the same tuple of values. A document whose
   * indexed fields are not all present, non-null scalars is not checked.
   */
  readonly unique?: boolean | undefined;
  /** Names the index (`explain` reports it): a letter, then letters, digits or `_`. Defaults to the fields joined by `+`. */
  readonly name?: string | undefined;
}

/** A declared index: on one field, or compound (on several). */
export type IndexDefinition = SingleFieldIndex | CompoundIndex;

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
 * Metadata (version, timestamps) is kept apart; read it with {@link getEntry}.
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

  /** Inserts; `ALREADY_EXISTS` when the id or a unique value is taken. */
  insert(document: NewDocument<T>, options?: SignalOptions): Promise<T>;
  /** Replaces an existing document whole; `NOT_FOUND` when missing. */
  replace(document: T, options?: WriteOptions): Promise<T>;
  /** Inserts or replaces whole. */
  upsert(document: T, options?: WriteOptions): Promise<T>;
  /** Applies a patch or update operators in one step; `NOT_FOUND` when missing. */
  update(id: string, update: Update<T>, options?: WriteOptions): Promise<T>;
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

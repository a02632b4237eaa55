import type { SignalOptions } from './abort.js';
import type { AnyDocument, Document, Entry, NewDocument } from './document.js';
import type { FindOneQuery } from './find-one.js';
import type { CountByGroup, Filter, Page, Query, QueryPlan } from './query.js';
import type { StandardSchemaV1 } from './standard-schema.js';
import type { Update } from './update.js';
import type { UpdateOptions } from './update-options.js';

/** Per-call options of writes that can be made conditional. */
export interface WriteOptions extends SignalOptions {
  /**
   * Optimistic concurrency: the write happens only if the stored version equals
   * this number, otherwise it fails with a `CONFLICT` error.
   */
  readonly expectedVersion?: number | undefined;
}

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
  /**
   * Applies a patch or update operators in one step; `NOT_FOUND` when missing.
   * With `where`, applies only if the document also matches it (atomically)
   * and resolves to `null` when it does not; with `upsert`, creates the
   * missing document from those fields first (see {@link UpdateOptions}).
   */
  update(
    id: string,
    update: Update<T>,
    options: UpdateOptions<T> & { readonly where: Filter; readonly upsert?: undefined },
  ): Promise<T | null>;
  update(id: string, update: Update<T>, options?: UpdateOptions<T> & { readonly where?: undefined }): Promise<T>;
  update(id: string, update: Update<T>, options?: UpdateOptions<T>): Promise<T | null>;
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

import type { SignalOptions } from './abort.js';
import type { AnyDocument, Document, Entry, NewDocument } from './document.js';
import type { FindOneQuery } from './find-one.js';
import type { CountByGroup, Filter, Page, Query, QueryPlan } from './query.js';
import type { StandardSchemaV1 } from './standard-schema.js';
import type { ScalarPath } from './typed-paths.js';
import type { Update } from './update.js';

/** Per-call options of writes that can be made conditional. */
export interface WriteOptions extends SignalOptions {
  /**
   * Optimistic concurrency: the write happens only if the stored version equals
   * this number, otherwise it fails with a `CONFLICT` error.
   */
  readonly expectedVersion?: number | undefined;
}

/** The value types an index holds. */
export type IndexType = 'string' | 'number' | 'date' | 'boolean';

/**
 * A declared index on one field: which field, and the type of value it holds.
 * For a typed `T`, `field` is one of its scalar paths.
 */
export type SingleFieldIndex<T extends Document = AnyDocument> = SingleFieldIndexOn<ScalarPath<T>>;

/** A declared index on one field named by a path of type `Path`. */
export interface SingleFieldIndexOn<Path extends string = string> {
  /** Dotted field path. */
  readonly field: Path;
  readonly type: IndexType;
  /** Reject a second document with the same (non-null) value. */
  readonly unique?: boolean | undefined;
}

/**
 * A declared index over several fields, in order (an equality prefix, then a
 * range or a sort). For a typed `T`, each `field` is one of its scalar paths.
 */
export type CompoundIndex<T extends Document = AnyDocument> = CompoundIndexOn<ScalarPath<T>>;

/** A declared index over several fields named by paths of type `Path`. */
export interface CompoundIndexOn<Path extends string = string> {
  readonly fields: readonly { readonly field: Path; readonly type: IndexType }[];
  /** Reject a second document with the same combination of (non-null) values. */
  readonly unique?: boolean | undefined;
  /** The index name; derived from the collection and fields when absent. */
  readonly name?: string | undefined;
}

/** A declared index: on one field or on several. */
export type IndexDefinition<T extends Document = AnyDocument> = SingleFieldIndex<T> | CompoundIndex<T>;

/** Options of `backend.repository(name, options)`. */
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
  updateMany(where: Filter<T> | undefined, update: Update<T>, options?: SignalOptions): Promise<number>;
  /** Deletes every match; returns how many. */
  deleteMany(where: Filter<T> | undefined, options?: SignalOptions): Promise<number>;
}

/** Options of `iterate`. */
export interface IterateOptions extends SignalOptions {
  /** Documents fetched per round trip (default 100). */
  readonly batchSize?: number | undefined;
}

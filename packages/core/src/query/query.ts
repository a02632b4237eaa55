import type { AnyDocument, Document, DocumentScalar } from '../values/document.js';
import type { DocumentPath, IsUntyped, MetadataPath, PathValue, ScalarPath } from './typed-paths.js';

/**
 * Conditions on one field of any type, as an untyped repository accepts them.
 * Several operators in one object must all hold.
 *
 * ### Examples
 * ```ts
 * import type { AnyFieldOperators, Repository } from '@berth/core';
 *
 * const recent: AnyFieldOperators = { $gte: new Date('2026-01-01'), $exists: true };
 *
 * async function countRecent(logs: Repository): Promise<number> {
 *   return logs.count({ at: recent });
 * }
 * ```
 */
export interface AnyFieldOperators {
  /** Equal (type-strict). `{ $eq: null }` matches null or missing. */
  readonly $eq?: DocumentScalar | undefined;
  /** Not equal; matches documents where the field is missing. */
  readonly $ne?: DocumentScalar | undefined;
  /** Greater than; only values of the operand's type match (number, string or Date). */
  readonly $gt?: number | string | Date | undefined;
  readonly $gte?: number | string | Date | undefined;
  readonly $lt?: number | string | Date | undefined;
  readonly $lte?: number | string | Date | undefined;
  /** Equal to one of the listed values; `null` in the list matches missing. */
  readonly $in?: readonly DocumentScalar[] | undefined;
  /** Equal to none of the listed values; matches missing unless `null` is listed. */
  readonly $nin?: readonly DocumentScalar[] | undefined;
  /** `true`: the field is present (a `null` value counts as present). `false`: absent. */
  readonly $exists?: boolean | undefined;
  /** A string starting with the operand, case-sensitive, every character literal. */
  readonly $startsWith?: string | undefined;
  /** An array holding an element equal to the operand. */
  readonly $contains?: DocumentScalar | undefined;
}

/** `null` when the field may be null or missing (`{ $eq: null }` matches both), else nothing. */
type NullOperand<V> = null extends V ? null : undefined extends V ? null : never;

/** The scalar values of `V` an equality compares with. */
type EqualityOperand<V> = Extract<V, boolean | number | string | Date>;

/** What a range operator compares `V` with: the widened number, string or Date type. */
type RangeOperand<V> =
  | (Extract<V, number> extends never ? never : number)
  | (Extract<V, string> extends never ? never : string)
  | (Extract<V, Date> extends never ? never : Date);

type ElementOf<V> = V extends readonly (infer E)[] ? E : never;

/** What `$contains` compares an element of type `E` with: any scalar when `E` is unknown. */
type ElementOperand<E> = unknown extends E ? DocumentScalar : EqualityOperand<E> | Extract<E, null>;

/** Operators every field has. */
interface PresenceOperators {
  /** `true`: the field is present (a `null` value counts as present). `false`: absent. */
  readonly $exists?: boolean | undefined;
}

/** Equality operators of a field whose scalar values are `S` (`N` is `null` when it may be null or missing). */
interface EqualityOperators<S, N> {
  /** Equal (type-strict). `{ $eq: null }` matches null or missing. */
  readonly $eq?: S | N | undefined;
  /** Not equal; matches documents where the field is missing. */
  readonly $ne?: S | N | undefined;
  /** Equal to one of the listed values; `null` in the list matches missing. */
  readonly $in?: readonly (S | N)[] | undefined;
  /** Equal to none of the listed values; matches missing unless `null` is listed. */
  readonly $nin?: readonly (S | N)[] | undefined;
}

/** Range operators of a number, string or Date field. */
interface RangeOperators<R> {
  /** Greater than; only values of the operand's type match. */
  readonly $gt?: R | undefined;
  readonly $gte?: R | undefined;
  readonly $lt?: R | undefined;
  readonly $lte?: R | undefined;
}

/** The prefix operator of a string field. */
interface StringOperators {
  /** A string starting with the operand, case-sensitive, every character literal. */
  readonly $startsWith?: string | undefined;
}

/** The element operator of an array field. */
interface ArrayOperators<E> {
  /** An array holding an element equal to the operand. */
  readonly $contains?: E | undefined;
}

type TypedFieldOperators<V, S = EqualityOperand<NonNullable<V>>, R = RangeOperand<NonNullable<V>>> = PresenceOperators &
  ([S] extends [never]
    ? { readonly $eq?: NullOperand<V> | undefined; readonly $ne?: NullOperand<V> | undefined }
    : EqualityOperators<S, NullOperand<V>>) &
  ([R] extends [never] ? unknown : RangeOperators<R>) &
  (Extract<NonNullable<V>, string> extends never ? unknown : StringOperators) &
  ([ElementOf<NonNullable<V>>] extends [never] ? unknown : ArrayOperators<ElementOperand<ElementOf<NonNullable<V>>>>);

/**
 * Conditions on one field whose value has type `V`. Several operators in one
 * object must all hold. Only the operators that make sense for `V` exist, with
 * operands of `V`'s type: ranges on numbers, strings and dates, `$startsWith`
 * on strings, `$contains` (with an element) on arrays, `null` where the field
 * may be null or missing. Without `V` (or for `unknown`), every operator takes
 * any operand, as in an untyped repository.
 *
 * ### Examples
 * ```ts
 * import type { FieldOperators } from '@berth/core';
 *
 * const adult: FieldOperators<number> = { $gte: 18, $lt: 130 };
 * const domain: FieldOperators<string> = { $startsWith: 'admin@' };
 * const tagged: FieldOperators<string[]> = { $contains: 'vip' };
 * ```
 */
export type FieldOperators<V = unknown> = unknown extends V ? AnyFieldOperators : TypedFieldOperators<V>;

/**
 * The operator names a field condition may use.
 *
 * ### Examples
 * ```ts
 * import { FIELD_OPERATORS } from '@berth/core/adapter';
 *
 * const isOperator = (key: string): boolean => (FIELD_OPERATORS as readonly string[]).includes(key);
 * ```
 */
export const FIELD_OPERATORS: readonly (keyof AnyFieldOperators)[] = [
  '$eq',
  '$ne',
  '$gt',
  '$gte',
  '$lt',
  '$lte',
  '$in',
  '$nin',
  '$exists',
  '$startsWith',
  '$contains',
];

/**
 * Conditions on `$createdAt` or `$updatedAt`, the metadata paths: operands
 * are Dates (metadata is always a present Date, so `$exists: true` matches
 * every document and `$exists: false` none). `$startsWith` and `$contains`
 * do not apply.
 *
 * ### Examples
 * ```ts
 * import type { MetadataOperators, Repository } from '@berth/core';
 *
 * const lastWeek: MetadataOperators = { $gte: new Date(Date.now() - 7 * 24 * 3600_000) };
 *
 * async function recentlyChanged(notes: Repository) {
 *   return notes.find({ where: { $updatedAt: lastWeek } });
 * }
 * ```
 */
export interface MetadataOperators {
  readonly $eq?: Date | undefined;
  readonly $ne?: Date | undefined;
  readonly $gt?: Date | undefined;
  readonly $gte?: Date | undefined;
  readonly $lt?: Date | undefined;
  readonly $lte?: Date | undefined;
  readonly $in?: readonly Date[] | undefined;
  readonly $nin?: readonly Date[] | undefined;
  readonly $exists?: boolean | undefined;
}

/**
 * A condition on a metadata path: a Date for equality, or {@link MetadataOperators}.
 *
 * ### Examples
 * ```ts
 * import type { MetadataCondition } from '@berth/core';
 *
 * const exactly: MetadataCondition = new Date('2026-11-01T00:00:00Z');
 * const before: MetadataCondition = { $lt: new Date('2026-11-01T00:00:00Z') };
 * ```
 */
export type MetadataCondition = Date | MetadataOperators;

/**
 * A field condition on a value of type `V`: a scalar for equality, or an
 * operator object. Without `V`, any scalar or operator object.
 *
 * ### Examples
 * ```ts
 * import type { FieldCondition } from '@berth/core';
 *
 * const equals: FieldCondition<string> = 'north';
 * const oneOf: FieldCondition<string> = { $in: ['north', 'south'] };
 * const missing: FieldCondition<string | undefined> = null;
 * ```
 */
export type FieldCondition<V = unknown> = unknown extends V
  ? DocumentScalar | AnyFieldOperators
  :
      | ([EqualityOperand<NonNullable<V>>] extends [never] ? never : EqualityOperand<NonNullable<V>>)
      | NullOperand<V>
      | TypedFieldOperators<V>;

/**
 * A filter: every entry must hold. Keys are dotted field paths (`stats.level`),
 * the metadata paths `$createdAt`/`$updatedAt`, or the logical operators
 * `$and`, `$or`, `$not`. With a document type `T`, paths and operands are
 * checked against it; without one, any path and operand is accepted.
 *
 * ### Examples
 * ```ts
 * import type { Document, Filter } from '@berth/core';
 *
 * interface Player extends Document {
 *   guild: string;
 *   banned?: boolean;
 *   stats: { level: number };
 *   tags: string[];
 * }
 *
 * const active: Filter<Player> = {
 *   'stats.level': { $gte: 10 },
 *   $or: [{ guild: 'north' }, { tags: { $contains: 'founder' } }],
 *   $not: { banned: true },
 *   $updatedAt: { $gte: new Date('2026-01-01') },
 * };
 * const anything: Filter = { 'any.path': { $startsWith: 'x' } };
 * ```
 */
export type Filter<T extends Document = AnyDocument> = IsUntyped<T> extends true ? AnyFilter : TypedFilter<T>;

/**
 * A filter of an untyped repository: any dotted path, any operand.
 *
 * ### Examples
 * ```ts
 * import type { AnyFilter } from '@berth/core';
 *
 * const filter: AnyFilter = {
 *   'address.city': 'Oslo',
 *   $or: [{ plan: 'pro' }, { seats: { $gt: 10 } }],
 *   $createdAt: { $lt: new Date('2026-01-01') },
 * };
 * ```
 */
export interface AnyFilter {
  readonly $and?: readonly AnyFilter[] | undefined;
  readonly $or?: readonly AnyFilter[] | undefined;
  readonly $not?: AnyFilter | undefined;
  /** When the document was created (its metadata, not a field). */
  readonly $createdAt?: MetadataCondition | undefined;
  /** When the document was last written (its metadata, not a field). */
  readonly $updatedAt?: MetadataCondition | undefined;
  readonly [path: string]: FieldCondition | readonly AnyFilter[] | AnyFilter | undefined;
}

/** A path a typed filter or sort may name: a document path, or a metadata path. */
type FilterPath<T> = DocumentPath<T> | MetadataPath;

type FilterPathValue<T, P extends string> = P extends MetadataPath ? Date : PathValue<T, P>;

/**
 * A filter checked against document type `T`: known paths, operands of their type.
 *
 * ### Examples
 * ```ts
 * import type { TypedFilter } from '@berth/core';
 *
 * interface Order { id: string; status: 'open' | 'paid'; total: number }
 *
 * const bigOpen: TypedFilter<Order> = { status: 'open', total: { $gte: 100 } };
 * ```
 */
export type TypedFilter<T extends Document> = {
  readonly [P in FilterPath<T>]?: FieldCondition<FilterPathValue<T, P>> | undefined;
} & {
  readonly $and?: readonly TypedFilter<T>[] | undefined;
  readonly $or?: readonly TypedFilter<T>[] | undefined;
  readonly $not?: TypedFilter<T> | undefined;
};

/**
 * The order of a sort key: ascending (the default) or descending.
 *
 * ### Examples
 * ```ts
 * import type { SortDirection } from '@berth/core';
 *
 * function byScore(direction: SortDirection) {
 *   return { field: 'score', direction };
 * }
 * ```
 */
export type SortDirection = 'asc' | 'desc';

/**
 * What `T` can be sorted by: its scalar paths (not objects or arrays) and the
 * metadata paths; any string when `T` is untyped.
 *
 * ### Examples
 * ```ts
 * import type { SortPath } from '@berth/core';
 *
 * interface Player { id: string; name: string; stats: { level: number } }
 *
 * const paths: SortPath<Player>[] = ['name', 'stats.level', '$createdAt', 'id'];
 * ```
 */
export type SortPath<T extends Document = AnyDocument> = ScalarPath<T> | MetadataPath | 'id';

/**
 * One sort key. Ties after the last key are always broken by `id` ascending.
 *
 * ### Examples
 * ```ts
 * import type { SortKey } from '@berth/core';
 *
 * interface Player { id: string; name: string; level: number }
 *
 * const strongestFirst: SortKey<Player> = { field: 'level', direction: 'desc' };
 * ```
 */
export type SortKey<T extends Document = AnyDocument> = IsUntyped<T> extends true ? AnySortKey : TypedSortKey<T>;

/**
 * A sort key of an untyped repository: any dotted path.
 *
 * ### Examples
 * ```ts
 * import type { AnySortKey } from '@berth/core';
 *
 * const newest: AnySortKey = { field: 'published.at', direction: 'desc' };
 * ```
 */
export interface AnySortKey {
  readonly field: string;
  readonly direction?: SortDirection | undefined;
}

/**
 * A sort key checked against document type `T`.
 *
 * ### Examples
 * ```ts
 * import type { TypedSortKey } from '@berth/core';
 *
 * interface Book { id: string; title: string; year: number }
 *
 * const oldest: TypedSortKey<Book> = { field: 'year' };
 * ```
 */
export interface TypedSortKey<T extends Document> {
  readonly field: SortPath<T>;
  readonly direction?: SortDirection | undefined;
}

/**
 * A field name (ascending), a sort key, or a list of them.
 *
 * ### Examples
 * ```ts
 * import type { OrderBy, Repository } from '@berth/core';
 *
 * interface Book { id: string; author: string; year: number }
 *
 * const order: OrderBy<Book> = ['author', { field: 'year', direction: 'desc' }];
 *
 * async function catalogue(books: Repository<Book>): Promise<Book[]> {
 *   return books.find({ orderBy: order });
 * }
 * ```
 */
export type OrderBy<T extends Document = AnyDocument> = IsUntyped<T> extends true ? AnyOrderBy : TypedOrderBy<T>;

/**
 * The order of an untyped repository: any dotted path.
 *
 * ### Examples
 * ```ts
 * import type { AnyOrderBy } from '@berth/core';
 *
 * const byName: AnyOrderBy = 'name';
 * const byCityThenAge: AnyOrderBy = ['address.city', { field: 'age', direction: 'desc' }];
 * ```
 */
export type AnyOrderBy = string | AnySortKey | readonly (string | AnySortKey)[];

/**
 * An order checked against document type `T`.
 *
 * ### Examples
 * ```ts
 * import type { TypedOrderBy } from '@berth/core';
 *
 * interface Book { id: string; title: string; year: number }
 *
 * const newestFirst: TypedOrderBy<Book> = { field: 'year', direction: 'desc' };
 * ```
 */
export type TypedOrderBy<T extends Document> =
  | SortPath<T>
  | TypedSortKey<T>
  | readonly (SortPath<T> | TypedSortKey<T>)[];

/**
 * A query. Without `limit` every match is returned: results are never capped
 * silently. `cursor` (from a previous page) and `offset` cannot be combined.
 *
 * ### Examples
 * ```ts
 * import type { Query, Repository } from '@berth/core';
 *
 * interface Order { id: string; customerId: string; total: number }
 *
 * async function largest(orders: Repository<Order>, customerId: string): Promise<Order[]> {
 *   const query: Query<Order> = { where: { customerId }, orderBy: { field: 'total', direction: 'desc' }, limit: 5 };
 *   return orders.find(query);
 * }
 * ```
 */
export type Query<T extends Document = AnyDocument> = IsUntyped<T> extends true ? AnyQuery : TypedQuery<T>;

/**
 * A query of an untyped repository: any path, any operand.
 *
 * ### Examples
 * ```ts
 * import type { AnyQuery } from '@berth/core';
 *
 * const query: AnyQuery = { where: { kind: 'invoice' }, orderBy: '$createdAt', limit: 50, offset: 100 };
 * ```
 */
export interface AnyQuery {
  readonly where?: AnyFilter | undefined;
  readonly orderBy?: AnyOrderBy | undefined;
  readonly limit?: number | undefined;
  readonly offset?: number | undefined;
  /** Opaque keyset cursor returned by `findPage` for the same `where` and `orderBy`. */
  readonly cursor?: string | undefined;
}

/**
 * A query checked against document type `T`.
 *
 * ### Examples
 * ```ts
 * import type { TypedQuery } from '@berth/core';
 *
 * interface Task { id: string; done: boolean; due: Date }
 *
 * const overdue: TypedQuery<Task> = { where: { done: false, due: { $lt: new Date() } }, orderBy: 'due' };
 * ```
 */
export interface TypedQuery<T extends Document> {
  readonly where?: TypedFilter<T> | undefined;
  readonly orderBy?: TypedOrderBy<T> | undefined;
  readonly limit?: number | undefined;
  readonly offset?: number | undefined;
  /** Opaque keyset cursor returned by `findPage` for the same `where` and `orderBy`. */
  readonly cursor?: string | undefined;
}

/**
 * A page of results and the cursor of the next page (`null` at the end).
 *
 * ### Examples
 * ```ts
 * import type { Page, Repository } from '@berth/core';
 *
 * // Every document, one page at a time: the cursor of each page asks for the next.
 * async function all(logs: Repository): Promise<number> {
 *   let count = 0;
 *   let cursor: string | null = null;
 *   do {
 *     const page: Page<unknown> = await logs.findPage({ orderBy: 'id', limit: 100, ...(cursor ? { cursor } : {}) });
 *     count += page.items.length;
 *     cursor = page.nextCursor;
 *   } while (cursor !== null);
 *   return count;
 * }
 * ```
 */
export interface Page<T> {
  readonly items: T[];
  readonly nextCursor: string | null;
}

/**
 * How a query would be served.
 *
 * ### Examples
 * ```ts
 * import type { Repository } from '@berth/core';
 *
 * async function usesIndex(users: Repository): Promise<boolean> {
 *   const plan = await users.explain({ where: { email: 'ada@example.com' } });
 *   return plan.strategy === 'index';
 * }
 * ```
 */
export interface QueryPlan {
  readonly strategy: 'index' | 'scan';
  /** The index used, when `strategy` is `index`. */
  readonly index?: string | undefined;
  /** Engine-specific detail (the SQL plan, the index key). */
  readonly detail: string;
}

/**
 * One group of `countBy`.
 *
 * ### Examples
 * ```ts
 * import type { CountByGroup, Repository } from '@berth/core';
 *
 * async function perStatus(orders: Repository): Promise<Record<string, number>> {
 *   const groups: CountByGroup[] = await orders.countBy('status');
 *   return Object.fromEntries(groups.map(({ value, count }) => [String(value), count]));
 * }
 * ```
 */
export interface CountByGroup {
  /** The field's value; missing and null are counted together under `null`. */
  readonly value: DocumentScalar;
  readonly count: number;
}

import type { DocumentScalar } from '../values/document.js';

/** Conditions on one field. Several operators in one object must all hold. */
export interface FieldOperators {
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

/** The operator names a field condition may use. */
export const FIELD_OPERATORS: readonly (keyof FieldOperators)[] = [
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

/** A condition on a metadata path: a Date for equality, or {@link MetadataOperators}. */
export type MetadataCondition = Date | MetadataOperators;

/** A field condition: a scalar for equality, or an operator object. */
export type FieldCondition = DocumentScalar | FieldOperators;

/**
 * A filter: every entry must hold. Keys are dotted field paths (`stats.level`),
 * the logical operators `$and`, `$or`, `$not`, or the metadata paths
 * `$createdAt` and `$updatedAt` (when the document was created and last
 * written; see {@link MetadataCondition}).
 *
 * ### Examples
 * ```ts
 * import type { Filter } from '@berth/core';
 *
 * const active: Filter = {
 *   'stats.level': { $gte: 10 },
 *   $or: [{ guild: 'north' }, { tags: { $contains: 'founder' } }],
 *   $not: { banned: true },
 * };
 * ```
 */
export interface Filter {
  readonly $and?: readonly Filter[] | undefined;
  readonly $or?: readonly Filter[] | undefined;
  readonly $not?: Filter | undefined;
  /** When the document was created (its metadata, not a field). */
  readonly $createdAt?: MetadataCondition | undefined;
  /** When the document was last written (its metadata, not a field). */
  readonly $updatedAt?: MetadataCondition | undefined;
  readonly [path: string]: FieldCondition | readonly Filter[] | Filter | undefined;
}

export type SortDirection = 'asc' | 'desc';

/**
 * One sort key. Ties after the last key are always broken by `id` ascending.
 * `field` is a dotted field path, or `$createdAt` / `$updatedAt` to sort by
 * the metadata.
 */
export interface SortKey {
  readonly field: string;
  readonly direction?: SortDirection | undefined;
}

/** A field name (ascending), a sort key, or a list of them. */
export type OrderBy = string | SortKey | readonly (string | SortKey)[];

/**
 * A query. Without `limit` every match is returned: results are never capped
 * silently. `cursor` (from a previous page) and `offset` cannot be combined.
 */
export interface Query {
  readonly where?: Filter | undefined;
  readonly orderBy?: OrderBy | undefined;
  readonly limit?: number | undefined;
  readonly offset?: number | undefined;
  /** Opaque keyset cursor returned by `findPage` for the same `where` and `orderBy`. */
  readonly cursor?: string | undefined;
}

/** A page of results and the cursor of the next page (`null` at the end). */
export interface Page<T> {
  readonly items: T[];
  readonly nextCursor: string | null;
}

/** How a query would be served. */
export interface QueryPlan {
  readonly strategy: 'index' | 'scan';
  /** The index used, when `strategy` is `index`. */
  readonly index?: string | undefined;
  /** Engine-specific detail (the SQL plan, the index key). */
  readonly detail: string;
}

/** One group of `countBy`. */
export interface CountByGroup {
  /** The field's value; missing and null are counted together under `null`. */
  readonly value: DocumentScalar;
  readonly count: number;
}

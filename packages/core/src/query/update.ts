import type { AnyDocument, Document, DocumentValue } from '../values/document.js';
import type { DocumentPath, IsUntyped, NumberPath, PathValue } from './typed-paths.js';

/**
 * Atomic update operators, applied in one step by the engine.
 *
 * ### Examples
 * ```ts
 * import type { Document, UpdateOperators } from '@berth/core';
 *
 * interface Hero extends Document {
 *   stats: { level: number; title?: string; pendingQuest?: string };
 * }
 *
 * const levelUp: UpdateOperators<Hero> = {
 *   $inc: { 'stats.level': 1 },
 *   $set: { 'stats.title': 'Knight' },
 *   $unset: ['stats.pendingQuest'],
 * };
 * ```
 */
export type UpdateOperators<T extends Document = AnyDocument> =
  IsUntyped<T> extends true ? AnyUpdateOperators : TypedUpdateOperators<T>;

/**
 * Update operators of an untyped repository: any path, any value.
 *
 * ### Examples
 * ```ts
 * import type { AnyUpdateOperators, Repository } from '@berth/core';
 *
 * async function checkIn(visitors: Repository, id: string): Promise<void> {
 *   const update: AnyUpdateOperators = { $inc: { visits: 1 }, $set: { 'last.at': new Date() }, $unset: ['away'] };
 *   await visitors.update(id, update);
 * }
 * ```
 */
export interface AnyUpdateOperators {
  /** Set dotted paths to values; missing intermediate objects are created. */
  readonly $set?: { readonly [path: string]: DocumentValue | undefined } | undefined;
  /** Remove dotted paths; removing a missing path is a no-op. */
  readonly $unset?: readonly string[] | undefined;
  /** Add to numeric fields; a missing field counts as 0, a non-number is a VALIDATION error. */
  readonly $inc?: { readonly [path: string]: number } | undefined;
}

/**
 * Update operators checked against document type `T`: `$set` takes known paths
 * and values of their type, `$inc` only number paths, `$unset` known paths.
 *
 * ### Examples
 * ```ts
 * import type { TypedUpdateOperators } from '@berth/core';
 *
 * interface Account { id: string; balance: number; frozenAt?: Date }
 *
 * const deposit: TypedUpdateOperators<Account> = { $inc: { balance: 50 }, $unset: ['frozenAt'] };
 * ```
 */
export interface TypedUpdateOperators<T extends Document> {
  /** Set dotted paths to values; missing intermediate objects are created. */
  readonly $set?: { readonly [P in DocumentPath<T>]?: PathValue<T, P> | undefined } | undefined;
  /** Remove dotted paths; removing a missing path is a no-op. */
  readonly $unset?: readonly DocumentPath<T>[] | undefined;
  /** Add to numeric fields; a missing field counts as 0. */
  readonly $inc?: { readonly [P in NumberPath<T>]?: number } | undefined;
}

/**
 * A partial patch: top-level keys replace the fields they name, keys with dots
 * (`'stats.level'`) address nested fields. `undefined` values are ignored; use
 * `$unset` to remove a field. `id` cannot be changed.
 *
 * For a typed `T` the keys are its fields and dotted paths, with values of their
 * type (so `Partial<T>` is a patch, even when a field's type is an interface);
 * for an untyped `T` any key and document value.
 *
 * ### Examples
 * ```ts
 * import type { Patch, Repository } from '@berth/core';
 *
 * interface Profile { id: string; name: string; address: { city: string; street: string } }
 *
 * async function move(profiles: Repository<Profile>, id: string, city: string): Promise<Profile> {
 *   const patch: Patch<Profile> = { 'address.city': city };
 *   return profiles.update(id, patch);
 * }
 * ```
 */
export type Patch<T> =
  IsUntyped<T> extends true
    ? { readonly [K in keyof T]?: T[K] | undefined } & { readonly [path: string]: DocumentValue | undefined }
    : { readonly [P in DocumentPath<T>]?: PathValue<T, P> | undefined };

/**
 * What `update` accepts: a patch, or an object of update operators.
 *
 * ### Examples
 * ```ts
 * import type { Update } from '@berth/core';
 *
 * interface Account { id: string; owner: string; balance: number }
 *
 * const rename: Update<Account> = { owner: 'Ada' };
 * const charge: Update<Account> = { $inc: { balance: -20 } };
 * ```
 */
export type Update<T extends Document = AnyDocument> = Patch<T> | UpdateOperators<T>;

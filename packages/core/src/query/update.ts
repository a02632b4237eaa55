import type { DocumentValue } from '../values/document.js';

/**
 * Atomic update operators, applied in one step by the engine.
 *
 * ### Examples
 * ```ts
 * import type { UpdateOperators } from '@berth/core';
 *
 * const levelUp: UpdateOperators = {
 *   $inc: { 'stats.level': 1 },
 *   $set: { 'stats.title': 'Knight' },
 *   $unset: ['stats.pendingQuest'],
 * };
 * ```
 */
export interface UpdateOperators {
  /** Set dotted paths to values; missing intermediate objects are created. */
  readonly $set?: { readonly [path: string]: DocumentValue | undefined } | undefined;
  /** Remove dotted paths; removing a missing path is a no-op. */
  readonly $unset?: readonly string[] | undefined;
  /** Add to numeric fields; a missing field counts as 0, a non-number is a VALIDATION error. */
  readonly $inc?: { readonly [path: string]: number } | undefined;
}

/**
 * A partial patch: top-level keys replace the fields they name, keys with dots
 * (`'stats.level'`) address nested fields. `undefined` values are ignored; use
 * `$unset` to remove a field. `id` cannot be changed.
 */
export type Patch<T> = { readonly [K in keyof T]?: T[K] | undefined } & {
  readonly [path: string]: DocumentValue | undefined;
};

/** What `update` accepts: a patch, or an object of update operators. */
export type Update<T> = Patch<T> | UpdateOperators;

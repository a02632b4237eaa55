import { isBerthError, NotFoundError, ValidationError } from '../errors.js';
import { applyUpdate, parseUpdate, type UpdateStep } from '../query/apply-update.js';
import { type FilterNode, matchesNode, parseFilter } from '../query/filter.js';
import { copyDocument, isPlainObject, MAX_DOCUMENT_BYTES } from '../values/values.js';
import { checkExpectedVersion } from './document-writes.js';
import type { WriteOptions } from './repository.js';

/**
 * An update validated together with its options, before anything is read or written.
 *
 * ### Examples
 * ```ts
 * import { type PreparedUpdate, prepareUpdate } from '@berth/core/adapter';
 *
 * const prepared: PreparedUpdate = prepareUpdate('wallets', 'w1', { $inc: { points: 5 } }, { upsert: { points: 0 } });
 * console.log(prepared.steps.length, prepared.seed); // 1 { points: 0, id: 'w1' }
 * ```
 */
export interface PreparedUpdate {
  readonly steps: readonly UpdateStep[];
  /** The `where` condition, when given. */
  readonly condition: FilterNode | undefined;
  /** The document to create when missing (`{ ...upsert, id }`, validated and copied), when upserting. */
  readonly seed: Record<string, unknown> | undefined;
}

/**
 * Validates `update(id, update, options)`'s update and its `where` and
 * `upsert` options, so bad input is a `VALIDATION` error before anything is
 * read, whether or not the document exists.
 *
 * ### Examples
 * ```ts
 * import { planUpdate, prepareUpdate } from '@berth/core/adapter';
 *
 * const prepared = prepareUpdate('seats', 's1', { taken: true }, { where: { taken: false } });
 * const plan = planUpdate('seats', 's1', prepared, { id: 's1', taken: false }, 3, undefined);
 * // { kind: 'write', document: { id: 's1', taken: true }, created: false }
 * ```
 */
export function prepareUpdate(
  collection: string,
  id: string,
  update: unknown,
  options: (WriteOptions & { readonly where?: unknown; readonly upsert?: unknown }) | undefined,
  maxBytes: number = MAX_DOCUMENT_BYTES,
): PreparedUpdate {
  const steps = parseUpdate(update, id);
  const where: unknown = options?.where;
  const upsert: unknown = options?.upsert;
  const condition = where === undefined ? undefined : parseFilter(where);
  if (upsert === undefined) return { steps, condition, seed: undefined };
  if (where !== undefined) {
    throw new ValidationError(
      'update takes either where or upsert, not both: a created document would not depend on the filter',
      'upsert',
      { collection, id },
    );
  }
  if (options?.expectedVersion !== undefined) {
    throw new ValidationError(
      'update takes either expectedVersion or upsert, not both: a missing document has no version',
      'upsert',
      { collection, id },
    );
  }
  if (!isPlainObject(upsert)) {
    throw new ValidationError('upsert takes the fields of the document to create, as a plain object', 'upsert', {
      collection,
      id,
    });
  }
  if (Object.hasOwn(upsert, 'id') && upsert.id !== undefined && upsert.id !== id) {
    throw new ValidationError(
      'upsert fields cannot name another id: the id is the first argument of update',
      'upsert.id',
      {
        collection,
        id,
      },
    );
  }
  let seed: Record<string, unknown>;
  try {
    seed = copyDocument<Record<string, unknown>>({ ...upsert, id }, collection, maxBytes);
  } catch (error) {
    if (!isBerthError(error, 'VALIDATION')) throw error;
    throw new ValidationError(`upsert: ${error.message}`, error.path === '' ? 'upsert' : `upsert.${error.path}`, {
      collection,
      id,
      cause: error,
    });
  }
  return { steps, condition, seed };
}

/**
 * What an update does to the document it found.
 *
 * ### Examples
 * ```ts
 * import { planUpdate, prepareUpdate, type UpdatePlan } from '@berth/core/adapter';
 *
 * const prepared = prepareUpdate('seats', 's1', { taken: true }, { where: { taken: false } });
 * const plan: UpdatePlan<{ id: string; taken: boolean }> = planUpdate('seats', 's1', prepared, { id: 's1', taken: true }, 4, undefined);
 * if (plan.kind === 'unmatched') console.log('already taken: update resolves to null');
 * ```
 */
export type UpdatePlan<T> =
  /** Write `document` (not yet validated by the collection's schema); `created` when it was missing. */
  | { readonly kind: 'write'; readonly document: T; readonly created: boolean }
  /** The document exists but does not match `where`: write nothing, resolve to `null`. */
  | { readonly kind: 'unmatched' };

/**
 * Decides what `update` does, given the stored document (`undefined` when
 * missing) and its version. Adapters call it where the read and the write are
 * one atomic step (inside their write lock or session). Throws `NOT_FOUND`
 * (missing, no upsert) and `CONFLICT` (`expectedVersion` differs), and the
 * update's own `VALIDATION` errors (`$inc` on a string).
 *
 * ### Examples
 * ```ts
 * import { planUpdate, prepareUpdate } from '@berth/core/adapter';
 *
 * // Inside the adapter's atomic step: read the stored document, plan, write.
 * const prepared = prepareUpdate('wallets', 'w1', { $inc: { points: 5 } }, { upsert: { points: 0 } });
 * const plan = planUpdate('wallets', 'w1', prepared, undefined, undefined, undefined);
 * // { kind: 'write', document: { points: 5, id: 'w1' }, created: true }
 * ```
 */
export function planUpdate<T>(
  collection: string,
  id: string,
  prepared: PreparedUpdate,
  stored: T | undefined,
  storedVersion: number | undefined,
  options: WriteOptions | undefined,
): UpdatePlan<T> {
  checkExpectedVersion(collection, id, storedVersion, options);
  if (stored === undefined) {
    if (prepared.seed === undefined) {
      throw new NotFoundError(`${collection} has no document ${JSON.stringify(id)} to update`, { collection, id });
    }
    return { kind: 'write', document: applyUpdate(prepared.seed as T, prepared.steps), created: true };
  }
  if (prepared.condition !== undefined && !matchesNode(stored, prepared.condition)) return { kind: 'unmatched' };
  return { kind: 'write', document: applyUpdate(stored, prepared.steps), created: false };
}

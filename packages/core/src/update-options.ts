import { applyUpdate, parseUpdate, type UpdateStep } from './apply-update.js';
import type { AnyDocument, Document } from './document.js';
import { checkExpectedVersion } from './document-writes.js';
import { isBerthError, NotFoundError, ValidationError } from './errors.js';
import { type FilterNode, matchesNode, parseFilter } from './filter.js';
import type { Filter } from './query.js';
import type { WriteOptions } from './repository.js';
import { copyDocument, isPlainObject, MAX_DOCUMENT_BYTES } from './values.js';

/**
 * The fields a missing document is created with by an upserting `update`:
 * the document without its id (the id is `update`'s first argument).
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
export interface UpdateOptions<T extends Document = AnyDocument> extends WriteOptions {
  /** Apply only if the stored document matches this filter; `null` when it does not. */
  readonly where?: Filter | undefined;
  /** Create `{ ...upsert, id }` and apply the update to it when the document is missing. */
  readonly upsert?: UpsertFields<T> | undefined;
}

/** An update validated together with its options, before anything is read or written. */
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
 */
export function prepareUpdate(
  collection: string,
  id: string,
  update: unknown,
  options: UpdateOptions<never> | undefined,
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

/** What an update does to the document it found. */
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

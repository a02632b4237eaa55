import { ValidationError } from '../errors.js';

const COLLECTION_NAME = /^[A-Za-z][A-Za-z0-9_]{0,62}$/;
const PATH_SEGMENT = /^[A-Za-z0-9_-]{1,64}$/;
/** Deepest field path allowed in filters, sorts, indexes and updates. */
export const MAX_PATH_DEPTH = 16;

/**
 * Validates a collection (or queue) name: a letter, then letters, digits or
 * `_`, at most 63 characters. Names are checked before they reach any query
 * text, so they can be used as identifiers in every engine.
 */
export function checkCollectionName(name: unknown, what = 'collection'): asserts name is string {
  if (typeof name !== 'string' || !COLLECTION_NAME.test(name)) {
    throw new ValidationError(
      `${what} name ${JSON.stringify(String(name))} is not allowed: use a letter followed by letters, digits or "_" (at most 63 characters)`,
      '',
    );
  }
}

/** A parsed field path: its segments. */
export type FieldPath = readonly string[];

const pathCache = new Map<string, FieldPath>();

/**
 * Parses a dotted field path (`stats.level`) into segments, validating each
 * (letters, digits, `_` and `-`; 1–16 segments; never `__proto__`). Throws a `ValidationError` for
 * anything else, so a path can never smuggle query syntax into an engine.
 */
export function parseFieldPath(path: unknown): FieldPath {
  if (typeof path === 'string') {
    const cached = pathCache.get(path);
    if (cached !== undefined) return cached;
  }
  if (typeof path !== 'string') {
    throw new ValidationError(`field path must be a string, got ${typeof path}`, '');
  }
  const segments = path.split('.');
  if (segments.length > MAX_PATH_DEPTH || !segments.every((segment) => PATH_SEGMENT.test(segment))) {
    throw new ValidationError(
      `field path ${JSON.stringify(path)} is not allowed: use up to ${MAX_PATH_DEPTH} dot-separated names of letters, digits, "_" or "-"`,
      path,
    );
  }
  // Paths are walked on plain objects: this one segment would reach the
  // prototype instead of a field, and no document can hold it.
  if (segments.includes('__proto__')) {
    throw new ValidationError(
      `field path ${JSON.stringify(path)} is not allowed: "__proto__" is not a field name`,
      path,
    );
  }
  if (pathCache.size > 10_000) pathCache.clear();
  pathCache.set(path, segments);
  return segments;
}

/** The value at `path` in `document`, or `undefined` when missing. Walks plain objects only. */
export function getPathValue(document: unknown, path: FieldPath): unknown {
  let current: unknown = document;
  for (const segment of path) {
    if (typeof current !== 'object' || current === null || Array.isArray(current) || current instanceof Date) {
      return undefined;
    }
    if (!Object.hasOwn(current, segment)) return undefined;
    current = (current as Record<string, unknown>)[segment];
  }
  return current;
}

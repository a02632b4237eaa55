import { ValidationError } from '../errors.js';

const COLLECTION_NAME = /^[A-Za-z][A-Za-z0-9_]{0,62}$/;
const PATH_SEGMENT = /^[A-Za-z0-9_-]{1,64}$/;
/**
 * Deepest field path allowed in filters, sorts, indexes and updates.
 *
 * ### Examples
 * ```ts
 * import { MAX_PATH_DEPTH, parseFieldPath } from '@berth/core/adapter';
 *
 * const deepest = parseFieldPath(Array.from({ length: MAX_PATH_DEPTH }, (_, i) => `f${i}`).join('.'));
 * ```
 */
export const MAX_PATH_DEPTH = 16;

/**
 * Validates a collection (or queue) name: a letter, then letters, digits or
 * `_`, at most 63 characters. Names are checked before they reach any query
 * text, so they can be used as identifiers in every engine.
 *
 * ### Examples
 * ```ts
 * import { checkCollectionName } from '@berth/core/adapter';
 *
 * function tableOf(name: unknown): string {
 *   checkCollectionName(name); // safe as an identifier afterwards
 *   return `berth_${name}`;
 * }
 * ```
 */
export function checkCollectionName(name: unknown, what = 'collection'): asserts name is string {
  if (typeof name !== 'string' || !COLLECTION_NAME.test(name)) {
    throw new ValidationError(
      `${what} name ${JSON.stringify(String(name))} is not allowed: use a letter followed by letters, digits or "_" (at most 63 characters)`,
      '',
    );
  }
}

/**
 * A parsed field path: its segments.
 *
 * ### Examples
 * ```ts
 * import { type FieldPath, parseFieldPath } from '@berth/core/adapter';
 *
 * const path: FieldPath = parseFieldPath('stats.level'); // ['stats', 'level']
 * ```
 */
export type FieldPath = readonly string[];

const pathCache = new Map<string, FieldPath>();

/**
 * Parses a dotted field path (`stats.level`) into segments, validating each
 * (letters, digits, `_` and `-`; 1–16 segments; never `__proto__`). Throws a `ValidationError` for
 * anything else, so a path can never smuggle query syntax into an engine.
 *
 * ### Examples
 * ```ts
 * import { parseFieldPath } from '@berth/core/adapter';
 *
 * // A JSON path for SQL, built from validated segments only.
 * const jsonPath = `$.${parseFieldPath('address.city').join('.')}`; // '$.address.city'
 * ```
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

/**
 * The value at `path` in `document`, or `undefined` when missing. Walks plain objects only.
 *
 * ### Examples
 * ```ts
 * import { getPathValue, parseFieldPath } from '@berth/core/adapter';
 *
 * getPathValue({ id: 'p1', stats: { level: 3 } }, parseFieldPath('stats.level')); // 3
 * getPathValue({ id: 'p1' }, parseFieldPath('stats.level')); // undefined
 * ```
 */
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

/**
 * The reserved paths that address a document's metadata in `where` and
 * `orderBy`: when it was created and last written. Documents can never hold
 * a key starting with `$`, so these never clash with a field.
 *
 * ### Examples
 * ```ts
 * import type { Repository } from '@berth/core';
 *
 * async function recentlyActive(sessions: Repository, since: Date) {
 *   return sessions.find({ where: { $updatedAt: { $gte: since } }, orderBy: { field: '$updatedAt', direction: 'desc' } });
 * }
 * ```
 */
export const METADATA_PATHS: readonly ['$createdAt', '$updatedAt'] = ['$createdAt', '$updatedAt'];

/**
 * One of {@link METADATA_PATHS}.
 *
 * ### Examples
 * ```ts
 * import type { MetadataPath } from '@berth/core/adapter';
 *
 * const column: Record<MetadataPath, string> = { $createdAt: 'created_at', $updatedAt: 'updated_at' };
 * ```
 */
export type MetadataPath = (typeof METADATA_PATHS)[number];

const METADATA_FIELD_PATHS: ReadonlyMap<string, FieldPath> = new Map(
  METADATA_PATHS.map((path) => [path, Object.freeze([path])]),
);

/**
 * Whether a parsed path is `$createdAt` or `$updatedAt` (a single segment starting with `$`).
 *
 * ### Examples
 * ```ts
 * import { isMetadataPath, parseQueryPath } from '@berth/core/adapter';
 *
 * isMetadataPath(parseQueryPath('$createdAt')); // true
 * isMetadataPath(parseQueryPath('createdAt')); // false
 * ```
 */
export function isMetadataPath(path: FieldPath): boolean {
  return path.length === 1 && METADATA_FIELD_PATHS.has(path[0] as string);
}

/**
 * Parses a path of `where` or `orderBy`: a field path as {@link parseFieldPath}
 * parses it, or exactly `$createdAt` / `$updatedAt` (the metadata). Any other
 * path starting with `$` is a `ValidationError`. Updates, `countBy` and
 * unique indexes keep using `parseFieldPath`, which refuses both: metadata is
 * read, never written or grouped.
 *
 * ### Examples
 * ```ts
 * import { parseQueryPath } from '@berth/core/adapter';
 *
 * parseQueryPath('$updatedAt'); // ['$updatedAt']
 * parseQueryPath('stats.level'); // ['stats', 'level']
 * ```
 */
export function parseQueryPath(path: unknown): FieldPath {
  if (typeof path === 'string' && path.startsWith('$')) {
    const metadata = METADATA_FIELD_PATHS.get(path);
    if (metadata !== undefined) return metadata;
    throw new ValidationError(
      `field path ${JSON.stringify(path)} is not allowed: the only paths starting with "$" are $createdAt and $updatedAt`,
      path,
    );
  }
  return parseFieldPath(path);
}

/**
 * The value a filter or sort reads at `path`: the entry's `createdAt` or
 * `updatedAt` for a metadata path, else the document's field. Evaluating a
 * metadata path without metadata is a `ValidationError` (never a silent
 * "missing").
 *
 * ### Examples
 * ```ts
 * import { getQueryValue, parseQueryPath } from '@berth/core/adapter';
 *
 * const meta = { createdAt: new Date('2026-01-01'), updatedAt: new Date('2026-02-01') };
 * getQueryValue({ id: 'n1' }, parseQueryPath('$updatedAt'), meta); // 2026-02-01
 * getQueryValue({ id: 'n1', title: 'x' }, parseQueryPath('title'), meta); // 'x'
 * ```
 */
export function getQueryValue(
  document: unknown,
  path: FieldPath,
  meta: { readonly createdAt: Date; readonly updatedAt: Date } | undefined,
): unknown {
  if (path.length !== 1 || !METADATA_FIELD_PATHS.has(path[0] as string)) return getPathValue(document, path);
  if (meta === undefined) {
    throw new ValidationError(
      `${path[0]} is metadata: evaluate it against an entry (document and meta), not a bare document`,
      path[0] as string,
    );
  }
  return path[0] === '$createdAt' ? meta.createdAt : meta.updatedAt;
}

import { ValidationError } from '@berth/core';
import { type FieldPath, parseFieldPath } from '@berth/core/adapter';

/**
 * The path, checked again before a dialect writes its segments into SQL
 * text (letters, digits, `_` and `-` only, as core's `parseFieldPath`
 * allows). Core validates every path of a query already; this is the second
 * wall, so a path built by hand, not parsed, still cannot reach the SQL.
 *
 * ### Examples
 * ```ts
 * import { parseFieldPath } from '@berth/core/adapter';
 * import { checkedPath } from '@berth/sql';
 *
 * // A JSON path literal for SQLite's json_extract: $."stats"."level"
 * const literal = `$${checkedPath(parseFieldPath('stats.level'))
 *   .map((segment) => `."${segment}"`)
 *   .join('')}`;
 * ```
 */
export function checkedPath(path: FieldPath): FieldPath {
  const joined = path.join('.');
  if (parseFieldPath(joined).length !== path.length) {
    throw new ValidationError(`field path ${JSON.stringify(joined)} is not allowed: a segment holds a "."`, joined);
  }
  return path;
}

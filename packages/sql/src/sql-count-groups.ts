import type { CountByGroup, DocumentScalar } from '@berth/core';
import { compareValues } from '@berth/core/adapter';

/**
 * countBy's groups from the rows of its GROUP BY, each decoded by the
 * dialect to the group's value (`undefined`: in no group, like arrays and
 * objects other than Dates). Rows the engine keeps apart but the reference
 * holds equal (missing and null; equal doubles written differently) are
 * merged; the groups come sorted as the reference sorts values.
 *
 * ### Examples
 * ```ts
 * import type { DocumentScalar } from '@berth/core';
 * import { countGroups } from '@berth/sql';
 *
 * // Rows of `SELECT type, value, count(*) AS n … GROUP BY 1, 2`, decoded to the group's value.
 * declare const rows: { readonly type: 'null' | 'text' | 'number' | 'array'; readonly value: string | null; readonly n: number }[];
 * const groups = countGroups(rows, (row): DocumentScalar | undefined => {
 *   if (row.type === 'null') return null;
 *   if (row.type === 'array') return undefined; // in no group
 *   return row.type === 'number' ? Number(row.value) : String(row.value);
 * });
 * ```
 */
export function countGroups<R extends { readonly n: number }>(
  rows: readonly R[],
  groupOf: (row: R) => DocumentScalar | undefined,
): CountByGroup[] {
  const groups = new Map<string, { value: DocumentScalar; count: number }>();
  for (const row of rows) {
    const value = groupOf(row);
    if (value === undefined) continue;
    const key = value instanceof Date ? `d${value.getTime()}` : `${typeof value}:${String(value)}`;
    const group = groups.get(key);
    if (group === undefined) groups.set(key, { value, count: row.n });
    else group.count += row.n;
  }
  return [...groups.values()].sort((a, b) => compareValues(a.value, b.value));
}

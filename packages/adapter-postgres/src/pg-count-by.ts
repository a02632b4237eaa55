import type { CountByGroup, DocumentScalar } from '@berth/core';
import { compareValues, fromJsonValue } from '@berth/core/adapter';

/** A row of countBy's GROUP BY: the value's JSON type, its JSON text, and how many documents hold it. */
export interface CountByRow {
  readonly type: string | null;
  readonly value: string | null;
  readonly n: number;
}

/**
 * The groups of countBy from its rows: missing and null count together
 * under `null`, a Date (stored as `{"$date": …}`) is its own value, other
 * objects and arrays are in no group. Sorted as the reference sorts values.
 */
export function countGroups(rows: readonly CountByRow[]): CountByGroup[] {
  const groups = new Map<string, { value: DocumentScalar; count: number }>();
  for (const row of rows) {
    let value: DocumentScalar;
    const parsed: unknown = row.value === null ? null : JSON.parse(row.value);
    switch (row.type) {
      case null:
      case 'null':
        value = null;
        break;
      case 'boolean':
      case 'number':
      case 'string':
        // A number comes as the text of its double (the compiler's group value), so equal doubles group together.
        value = parsed as DocumentScalar;
        break;
      case 'object': {
        const decoded = fromJsonValue(parsed);
        if (!(decoded instanceof Date)) continue;
        value = decoded;
        break;
      }
      default:
        continue; // arrays are in no group
    }
    const key = value instanceof Date ? `d${value.getTime()}` : `${typeof value}:${String(value)}`;
    const group = groups.get(key);
    if (group === undefined) groups.set(key, { value, count: row.n });
    else group.count += row.n;
  }
  return [...groups.values()].sort((a, b) => compareValues(a.value, b.value));
}

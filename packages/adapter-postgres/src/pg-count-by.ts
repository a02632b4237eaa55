import type { CountByGroup, DocumentScalar } from '@berth/core';
import { fromJsonValue } from '@berth/core/adapter';
import { countGroups } from '@berth/sql';

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
export function countByGroups(rows: readonly CountByRow[]): CountByGroup[] {
  return countGroups(rows, (row): DocumentScalar | undefined => {
    const parsed: unknown = row.value === null ? null : JSON.parse(row.value);
    switch (row.type) {
      case null:
      case 'null':
        return null;
      case 'boolean':
      case 'number':
      case 'string':
        // A number comes as the text of its double (the compiler's group value), so equal doubles group together.
        return parsed as DocumentScalar;
      case 'object': {
        const decoded = fromJsonValue(parsed);
        return decoded instanceof Date ? decoded : undefined;
      }
      default:
        return undefined; // arrays are in no group
    }
  });
}

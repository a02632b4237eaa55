import type { IndexDefinition } from '@berth/core';

/** `email (string, unique)`, or `customerId+placedAt (string, date)` for a compound index (its name when it has one). */
export function describeIndex(index: IndexDefinition): string {
  const unique = index.unique === true ? ', unique' : '';
  if ('fields' in index) {
    const fields = index.fields.map(({ field }) => field).join('+');
    const types = index.fields.map(({ type }) => type).join(', ');
    const name = index.name === undefined ? fields : `${index.name} = ${fields}`;
    return `${name} (${types}${unique})`;
  }
  return `${index.field} (${index.type}${unique})`;
}

const UNITS = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];

/** `12.3 MiB`; `unknown` when the engine could not tell. */
export function humanBytes(bytes: number | undefined): string {
  if (bytes === undefined) return 'unknown';
  let value = bytes;
  let unit = 0;
  while (value >= 1024 && unit < UNITS.length - 1) {
    value /= 1024;
    unit += 1;
  }
  return unit === 0 ? `${value} B` : `${value.toFixed(1)} ${UNITS[unit]}`;
}

/** A time as ISO 8601 UTC, `-` when absent. */
export function formatDate(date: Date | undefined): string {
  return date === undefined ? '-' : date.toISOString();
}

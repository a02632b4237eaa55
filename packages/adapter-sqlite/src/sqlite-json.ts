import { fromJsonValue, stringifyDocument } from '@berth/core/adapter';
import type { SqliteDatabase } from './sqlite-connection.js';

/** Serializes a document for the `doc` column (Dates as `{ "$date": … }`). */
export function encodeDocument(document: unknown): string {
  return stringifyDocument(document);
}

/** Parses a `doc` column; skips the Date walk when the text holds no Date. */
export function decodeDocument<T>(text: string): T {
  const parsed: unknown = JSON.parse(text);
  return (text.includes('"$date"') ? fromJsonValue(parsed) : parsed) as T;
}

/**
 * Registers `berth_number(text)` on a connection: the double JavaScript
 * reads from a JSON number's text, which filters, sorts and `countBy`
 * compare instead of SQLite's own reading (see `numberOf` in
 * sqlite-query-compiler.ts). NULL for anything that is not a number.
 */
export function registerJsonFunctions(db: SqliteDatabase): void {
  db.function('berth_number', { deterministic: true }, (text: unknown) => {
    if (typeof text !== 'string') return null;
    const number = Number(text);
    return Number.isFinite(number) ? number : null;
  });
}

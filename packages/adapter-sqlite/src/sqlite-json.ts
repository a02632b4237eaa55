import { fromJsonValue, stringifyDocument } from '@berth/core';

/** Serializes a document for the `doc` column (Dates as `{ "$date": … }`). */
export function encodeDocument(document: unknown): string {
  return stringifyDocument(document);
}

/** Parses a `doc` column; skips the Date walk when the text holds no Date. */
export function decodeDocument<T>(text: string): T {
  const parsed: unknown = JSON.parse(text);
  return (text.includes('"$date"') ? fromJsonValue(parsed) : parsed) as T;
}

import { type DocumentMeta, ValidationError } from '@berth/core';
import { parseDocument, stringifyDocument } from '@berth/core/adapter';

/** A stored document and its metadata, as one read or write sees it. */
export class RedisRecord implements DocumentMeta {
  constructor(
    readonly document: Readonly<Record<string, unknown>> & { readonly id: string },
    readonly version: number,
    readonly createdAtMs: number,
    readonly updatedAtMs: number,
  ) {}

  get createdAt(): Date {
    return new Date(this.createdAtMs);
  }

  get updatedAt(): Date {
    return new Date(this.updatedAtMs);
  }

  /** The record itself, for filters and sorts on `$createdAt` / `$updatedAt`. */
  get meta(): DocumentMeta {
    return this;
  }

  /** A fresh, plain copy of the metadata for an entry handed to the caller. */
  entryMeta(): DocumentMeta {
    return { version: this.version, createdAt: new Date(this.createdAtMs), updatedAt: new Date(this.updatedAtMs) };
  }

  /** The document as stored: Berth's JSON encoding (Dates as `{"$date": …}`), made here, never in Lua. */
  json(): string {
    return stringifyDocument(this.document);
  }
}

/**
 * Berth's JSON decoding of a stored document. Core's decoder copies the
 * parsed value to turn `{"$date": …}` back into Dates and to refuse a
 * `__proto__` key; text holding neither (nor a `\u` escape, which could
 * spell either) decodes to exactly what `JSON.parse` gives, so the copy is
 * skipped: it was most of a read's work in Node after the round trip.
 */
function parseStored(json: string): RedisRecord['document'] {
  if (json.includes('$date') || json.includes('__proto__') || json.includes('\\u')) {
    return parseDocument<RedisRecord['document']>(json);
  }
  return JSON.parse(json) as RedisRecord['document'];
}

/** The fields of a document hash, in the order {@link readRecord} expects them from HMGET. */
export const RECORD_FIELDS = ['j', 'v', 'c', 'u'] as const;

/**
 * The record of an HMGET of {@link RECORD_FIELDS}, or `undefined` when the
 * document does not exist. A hash not written by Berth is a VALIDATION error.
 */
export function readRecord(fields: readonly (string | null)[], key: string): RedisRecord | undefined {
  const [json, version, created, updated] = fields;
  if (json === null || json === undefined) return undefined;
  try {
    const document = parseStored(json);
    return new RedisRecord(document, Number(version), Number(created), Number(updated));
  } catch (error) {
    throw new ValidationError(`the hash at ${JSON.stringify(key)} does not hold a document written by Berth`, 'id', {
      cause: error,
    });
  }
}

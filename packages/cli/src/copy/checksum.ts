import { createHash } from 'node:crypto';
import type { Entry, Repository } from '@berth/core';

/** A collection's document count and checksum, as `berth copy` verifies them. */
export interface CollectionDigest {
  readonly count: number;
  /** Hex SHA-256 over every entry's canonical encoding, in id order. */
  readonly checksum: string;
}

/**
 * The canonical text of a value: object keys sorted (engines such as
 * PostgreSQL's JSONB do not keep key order), Dates as `{"$date":ISO}` with
 * milliseconds (no document key may start with `$`, so this cannot collide),
 * `-0` spelled `-0` (Berth stores it as 0 everywhere; an engine that kept it
 * would show up as a difference), `undefined` properties left out.
 */
export function canonicalJson(value: unknown): string {
  if (value === null || typeof value === 'boolean' || typeof value === 'string') return JSON.stringify(value);
  if (typeof value === 'number') return Object.is(value, -0) ? '-0' : JSON.stringify(value);
  if (value instanceof Date) return `{"$date":${JSON.stringify(value.toISOString())}}`;
  if (Array.isArray(value)) return `[${value.map(canonicalJson).join(',')}]`;
  if (typeof value === 'object') {
    const record = value as Record<string, unknown>;
    const fields = Object.keys(record)
      .filter((key) => record[key] !== undefined)
      .sort()
      .map((key) => `${JSON.stringify(key)}:${canonicalJson(record[key])}`);
    return `{${fields.join(',')}}`;
  }
  // Berth refuses every other value on write; seeing one means the engine returned something unexpected.
  return JSON.stringify(String(value));
}

/** The canonical text of one entry: the document and its metadata. */
export function canonicalEntry(entry: Entry<unknown>): string {
  const { version, createdAt, updatedAt } = entry.meta;
  return canonicalJson({ document: entry.document, meta: { version, createdAt, updatedAt } });
}

/**
 * Streams the whole collection in id order (memory stays bounded by
 * `batchSize`) and returns its count and checksum.
 */
export async function digestCollection(
  repository: Repository,
  batchSize: number,
  signal: AbortSignal | undefined,
): Promise<CollectionDigest> {
  const hash = createHash('sha256');
  let count = 0;
  for await (const entry of repository.iterateEntries({ orderBy: 'id' }, { batchSize, signal })) {
    hash.update(canonicalEntry(entry));
    hash.update('\n');
    count += 1;
  }
  return { count, checksum: hash.digest('hex') };
}

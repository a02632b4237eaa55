import type {
  Document,
  DocumentMeta,
  Entry,
  Filter,
  Query,
  Repository,
  SignalOptions,
  WriteEntryOptions,
} from '@berth/core';
import {
  compareStrings,
  compareValues,
  evaluateEntries,
  getPathValue,
  isMetadataPath,
  normalizeOrderBy,
  prepareQuery,
} from '@berth/core/adapter';
import type { Breakage, RepositoryMembers } from './broken-backend.js';

/**
 * Sorts `$createdAt` / `$updatedAt` by the Date's text in another format
 * (`toString()`: second precision, weekday first), as an engine that stored
 * the time as locale text would. Other sorts go to the healthy engine.
 */
function metadataSortedAsText(inner: Repository<Document>): RepositoryMembers {
  const sorted = async (query: Query | undefined, options: SignalOptions | undefined) => {
    const sort = normalizeOrderBy(query?.orderBy);
    if (!sort.some((key) => isMetadataPath(key.path))) return undefined;
    const keyOf = (entry: Entry<Document>, path: readonly string[]): unknown => {
      if (path[0] === '$createdAt') return entry.meta.createdAt.toString();
      if (path[0] === '$updatedAt') return entry.meta.updatedAt.toString();
      return getPathValue(entry.document, path) ?? null;
    };
    const entries = await inner.findEntries({ where: query?.where }, options);
    entries.sort((a, b) => {
      for (const key of sort) {
        const order = compareValues(keyOf(a, key.path), keyOf(b, key.path));
        if (order !== 0) return key.direction === 'desc' ? -order : order;
      }
      return compareStrings(a.document.id, b.document.id);
    });
    const start = query?.offset ?? 0;
    return entries.slice(start, query?.limit === undefined ? undefined : start + query.limit);
  };
  return {
    find: async (query, options) =>
      (await sorted(query, options))?.map((entry) => entry.document) ?? inner.find(query, options),
    findEntries: async (query, options) => (await sorted(query, options)) ?? inner.findEntries(query, options),
  };
}

/**
 * Compares `$createdAt` / `$updatedAt` at second precision, as an engine
 * storing whole seconds (or comparing `unixepoch()`) would.
 */
function metadataFilteredBySecond(inner: Repository<Document>): RepositoryMembers {
  const second = (date: Date) => new Date(date.getTime() - (date.getTime() % 1000));
  const filtered = async (where: Filter | undefined, options: SignalOptions | undefined) => {
    if (where === undefined || !('$createdAt' in where || '$updatedAt' in where)) return undefined;
    const entries = (await inner.findEntries({}, options)).map((entry) => ({
      document: entry.document,
      meta: { ...entry.meta, createdAt: second(entry.meta.createdAt), updatedAt: second(entry.meta.updatedAt) },
      entry,
    }));
    return evaluateEntries(entries, prepareQuery({ where, orderBy: 'id' })).items.map((item) => item.entry);
  };
  return {
    find: async (query, options) =>
      (await filtered(query?.where, options))?.map((entry) => entry.document) ?? inner.find(query, options),
    findEntries: async (query, options) => (await filtered(query?.where, options)) ?? inner.findEntries(query, options),
    count: async (where, options) => (await filtered(where, options))?.length ?? inner.count(where, options),
  };
}

/** With `returnEntry`, resolves to the metadata read before the write: the version and `updatedAt` it replaced. */
function staleWrittenMeta(inner: Repository<Document>): RepositoryMembers {
  const stale = async (
    id: string,
    options: WriteEntryOptions | undefined,
    write: (options: WriteEntryOptions | undefined) => Promise<Document | Entry<Document>>,
  ): Promise<Document | Entry<Document>> => {
    if (options?.returnEntry !== true) return write(options);
    const before = await inner.getEntry(id);
    const written = await write({ ...options, returnEntry: true });
    return before === null ? written : { document: (written as Entry<Document>).document, meta: before.meta };
  };
  return {
    replace: (document, options) => stale(document.id, options, (adjusted) => inner.replace(document, adjusted)),
    upsert: (document, options) => stale(document.id, options, (adjusted) => inner.upsert(document, adjusted)),
    update: (id, update, options) => stale(id, options, (adjusted) => inner.update(id, update, adjusted)),
  };
}

/** Hands out one metadata object per document and version, as a cache of entries that forgot to copy would. */
function sharedMeta(inner: Repository<Document>): RepositoryMembers {
  const known = new Map<string, DocumentMeta>();
  const share = (entry: Entry<Document>): Entry<Document> => {
    const key = `${entry.document.id}@${entry.meta.version}`;
    const meta = known.get(key);
    if (meta !== undefined) return { document: entry.document, meta };
    known.set(key, entry.meta);
    return entry;
  };
  return {
    findEntries: async (query, options) => (await inner.findEntries(query, options)).map(share),
    findEntriesPage: async (query, options) => {
      const page = await inner.findEntriesPage(query, options);
      return { items: page.items.map(share), nextCursor: page.nextCursor };
    },
  };
}

/** Broken adapters the metadata group must reject. */
export const brokenMetadata: readonly {
  readonly name: string;
  readonly group: string;
  readonly case: string;
  readonly breakage: Breakage;
}[] = [
  {
    name: 'sorts $createdAt and $updatedAt by their text in another format (second precision, weekday first)',
    group: 'metadata',
    case: 'orderBy $createdAt and $updatedAt sort chronologically',
    breakage: { repository: metadataSortedAsText },
  },
  {
    name: 'compares $createdAt and $updatedAt at second precision',
    group: 'metadata',
    case: 'where on $createdAt and $updatedAt compares instants to the millisecond',
    breakage: { repository: metadataFilteredBySecond },
  },
  {
    name: 'resolves returnEntry writes with the metadata from before the write',
    group: 'metadata',
    case: 'returnEntry on insert, replace, upsert and update resolves to the entry the write left',
    breakage: { repository: staleWrittenMeta },
  },
  {
    name: 'hands out the same metadata object to every read of an entry',
    group: 'metadata',
    case: 'entries are fresh copies',
    breakage: { repository: sharedMeta },
  },
];

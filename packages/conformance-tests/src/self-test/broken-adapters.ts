import {
  AlreadyExistsError,
  type Document,
  type Filter,
  isBerthError,
  type Query,
  type Repository,
  type RepositoryOptions,
  type SignalOptions,
  type WriteOptions,
} from '@berth/core';
import {
  applyUpdate,
  compareValues,
  FIELD_OPERATORS,
  getPathValue,
  isPlainObject,
  normalizeOrderBy,
  parseUpdate,
} from '@berth/core/adapter';
import { brokenAdminAdapters } from './broken-admin.js';
import { brokenArguments } from './broken-arguments.js';
import { type Breakage, updateMethod } from './broken-backend.js';
import { brokenComparisons } from './broken-comparisons.js';
import { brokenMetadata } from './broken-metadata.js';
import { brokenWrites } from './broken-writes.js';

type Sorter = (a: unknown, b: unknown) => number;

/** Re-sorts results by the first sort key with another string order, as a wrong collation would. */
function resortWith(compareStrings: Sorter): NonNullable<Breakage['repository']> {
  const resort = (query: Query | undefined, items: Document[]): Document[] => {
    const [first] = normalizeOrderBy(query?.orderBy);
    if (first === undefined) return items;
    const sign = first.direction === 'desc' ? -1 : 1;
    return [...items].sort((a, b) => {
      const x = getPathValue(a, first.path);
      const y = getPathValue(b, first.path);
      return typeof x === 'string' && typeof y === 'string' ? sign * compareStrings(x, y) : 0;
    });
  };
  return (inner) => ({
    find: async (query?: Query, options?: SignalOptions) => resort(query, await inner.find(query, options)),
    findPage: async (query?: Query, options?: SignalOptions) => {
      const page = await inner.findPage(query, options);
      return { ...page, items: resort(query, page.items) };
    },
  });
}

/** Rewrites every field condition of a filter, recursing through $and/$or/$not. */
function mapConditions(
  filter: Filter | undefined,
  rewrite: (path: string, condition: unknown) => Filter,
): Filter | undefined {
  if (filter === undefined) return undefined;
  const parts: Filter[] = [];
  for (const [key, value] of Object.entries(filter)) {
    if (value === undefined) continue;
    if (key === '$and' || key === '$or') {
      parts.push({ [key]: (value as Filter[]).map((child) => mapConditions(child, rewrite) ?? {}) });
    } else if (key === '$not') {
      parts.push({ $not: mapConditions(value as Filter, rewrite) ?? {} });
    } else {
      parts.push(rewrite(key, value));
    }
  }
  return { $and: parts };
}

function rewritingFilters(rewrite: (path: string, condition: unknown) => Filter): Breakage['repository'] {
  return (inner) => {
    const where = (query?: Query): Query => ({ ...query, where: mapConditions(query?.where, rewrite) });
    return {
      find: (query?: Query, options?: SignalOptions) => inner.find(where(query), options),
      findPage: (query?: Query, options?: SignalOptions) => inner.findPage(where(query), options),
      findOne: (query?: Query, options?: SignalOptions) => inner.findOne(where(query), options),
      count: (filter?: Filter, options?: SignalOptions) => inner.count(where({ where: filter }).where, options),
      exists: (filter?: Filter, options?: SignalOptions) => inner.exists(where({ where: filter }).where, options),
    };
  };
}

/** `$not: F` also demands every field F names, as SQL's NOT over NULL does. */
function threeValuedNot(filter: Filter | undefined): Filter | undefined {
  if (filter === undefined) return undefined;
  const parts: Filter[] = [];
  for (const [key, value] of Object.entries(filter)) {
    if (value === undefined) continue;
    if (key === '$and' || key === '$or') {
      parts.push({ [key]: (value as Filter[]).map((child) => threeValuedNot(child) ?? {}) });
    } else if (key === '$not') {
      const inner = value as Filter;
      const present = Object.keys(inner)
        .filter((path) => !path.startsWith('$'))
        .map((path): Filter => ({ [path]: { $exists: true } }));
      parts.push({ $and: [{ $not: threeValuedNot(inner) ?? {} }, ...present] });
    } else {
      parts.push({ [key]: value });
    }
  }
  return { $and: parts };
}

const rewritingNot: Breakage['repository'] = (inner) => {
  const where = (query?: Query): Query => ({ ...query, where: threeValuedNot(query?.where) });
  return {
    find: (query?: Query, options?: SignalOptions) => inner.find(where(query), options),
    findPage: (query?: Query, options?: SignalOptions) => inner.findPage(where(query), options),
    count: (filter?: Filter, options?: SignalOptions) => inner.count(threeValuedNot(filter), options),
  };
};

function withoutExpectedVersion(options?: WriteOptions): WriteOptions | undefined {
  return options === undefined ? undefined : { signal: options.signal };
}

function withoutSignal<O extends SignalOptions>(options?: O): O | undefined {
  if (options === undefined) return undefined;
  const { signal: _signal, ...rest } = options;
  return rest as O;
}

function datesToStrings<V>(value: V): V {
  if (value instanceof Date) return value.toISOString() as V;
  if (Array.isArray(value)) return value.map(datesToStrings) as V;
  if (isPlainObject(value)) {
    return Object.fromEntries(Object.entries(value).map(([key, inner]) => [key, datesToStrings(inner)])) as V;
  }
  return value;
}

/**
 * Deliberately broken adapters, each with the conformance group that must
 * reject it. A suite that lets one of them pass has lost its teeth.
 */
export const brokenAdapters: readonly { readonly name: string; readonly group: string; readonly breakage: Breakage }[] =
  [
    {
      name: 'sorts strings by locale',
      group: 'sort',
      breakage: { repository: resortWith((a, b) => String(a).localeCompare(String(b))) },
    },
    {
      name: 'sorts strings by UTF-16 code unit',
      group: 'sort',
      breakage: { repository: resortWith((a, b) => (String(a) < String(b) ? -1 : String(a) > String(b) ? 1 : 0)) },
    },
    {
      name: '$ne skips missing fields',
      group: 'filter',
      breakage: {
        repository: rewritingFilters((path, condition) =>
          isPlainObject(condition) && '$ne' in condition
            ? { $and: [{ [path]: { $exists: true } }, { [path]: condition as Filter[string] }] }
            : { [path]: condition as Filter[string] },
        ),
      },
    },
    {
      name: 'compares numbers and numeric strings loosely',
      group: 'filter',
      breakage: {
        repository: rewritingFilters((path, condition) => {
          if (typeof condition === 'number') return { [path]: { $in: [condition, String(condition)] } };
          if (typeof condition === 'string' && condition.trim() !== '' && !Number.isNaN(Number(condition))) {
            return { [path]: { $in: [condition, Number(condition)] } };
          }
          return { [path]: condition as Filter[string] };
        }),
      },
    },
    {
      name: '$not treats a missing field as unknown (SQL three-valued logic)',
      group: 'filter',
      breakage: { repository: rewritingNot },
    },
    {
      name: 'returns shared references to stored documents',
      group: 'values',
      breakage: {
        repository: (inner) => {
          const handedOut = new Map<string, Document>();
          const share = (document: Document | null): Document | null => {
            if (document === null) return null;
            const known = handedOut.get(document.id);
            if (known !== undefined) return known;
            handedOut.set(document.id, document);
            return document;
          };
          return {
            insert: async (document, options) => {
              const stored = (await inner.insert(document, options)) as Document;
              handedOut.set(stored.id, document as Document);
              return document as Document;
            },
            get: async (id: string, options?: SignalOptions) => share(await inner.get(id, options)),
            find: async (query?: Query, options?: SignalOptions) =>
              (await inner.find(query, options)).map((document) => share(document) as Document),
          };
        },
      },
    },
    {
      name: 'returns Dates as ISO strings',
      group: 'values',
      breakage: {
        repository: (inner) => ({
          get: async (id: string, options?: SignalOptions) => datesToStrings(await inner.get(id, options)),
          find: async (query?: Query, options?: SignalOptions) => datesToStrings(await inner.find(query, options)),
        }),
      },
    },
    {
      name: 'lets findOne ignore a limit or cursor',
      group: 'crud',
      breakage: {
        repository: (inner) => ({
          findOne: (query, options) => {
            const { limit: _limit, cursor: _cursor, ...rest } = (query ?? {}) as Query;
            return inner.findOne(rest, options);
          },
        }),
      },
    },
    {
      name: 'ignores expected versions',
      group: 'crud',
      breakage: {
        repository: (inner) => ({
          update: (id, update, options) => inner.update(id, update, withoutExpectedVersion(options)),
          replace: (document, options) => inner.replace(document, withoutExpectedVersion(options)),
          upsert: (document, options) => inner.upsert(document, withoutExpectedVersion(options)),
          delete: (id, options) => inner.delete(id, withoutExpectedVersion(options)),
        }),
      },
    },
    {
      name: 'updates by read-modify-write (lost updates)',
      group: 'update',
      breakage: {
        repository: (inner) => ({
          update: updateMethod(async (id, update, options) => {
            const current = await inner.get(id, options);
            await new Promise((resolve) => setTimeout(resolve, 1));
            if (current === null) return inner.update(id, update, options);
            return inner.replace(applyUpdate(current, parseUpdate(update, id)), options);
          }),
        }),
      },
    },
    {
      name: 'checks the update of updateMany only against the documents it matches',
      group: 'update',
      breakage: {
        repository: (inner) => ({
          updateMany: async (where, update, options) =>
            (await inner.exists(where, options)) ? inner.updateMany(where, update, options) : 0,
        }),
      },
    },
    {
      name: 'serves top-N from an index that orders strings by locale',
      group: 'indexes',
      breakage: { repository: resortWith((a, b) => String(a).localeCompare(String(b))) },
    },
    {
      name: 'counts a rank from an index in the cross-type order, not type-strictly',
      group: 'indexes',
      breakage: {
        repository: (inner) => ({
          count: async (where, options) => {
            const [field, condition] = Object.entries(where ?? {})[0] ?? [];
            if (field === undefined || !isPlainObject(condition) || !('$gt' in condition)) {
              return inner.count(where, options);
            }
            const all = await inner.find({}, options);
            return all.filter((document) => compareValues(getPathValue(document, [field]) ?? null, condition.$gt) > 0)
              .length;
          },
        }),
      },
    },
    {
      name: 'enforces a unique compound index on its first field only',
      group: 'indexes',
      breakage: {
        repositoryOptions: (options?: RepositoryOptions<Document>) =>
          options?.indexes === undefined
            ? options
            : {
                ...options,
                indexes: options.indexes.map((index) =>
                  'fields' in index && index.unique === true && index.fields[0] !== undefined
                    ? { ...index.fields[0], unique: true }
                    : index,
                ),
              },
      },
    },
    {
      name: 'does not enforce unique indexes',
      group: 'unique',
      breakage: {
        repositoryOptions: (options?: RepositoryOptions<Document>) =>
          options?.indexes === undefined
            ? options
            : { ...options, indexes: options.indexes.map((index) => ({ ...index, unique: false })) },
      },
    },
    {
      name: 'names the unique field its engine checked first when the id is taken too',
      group: 'unique',
      breakage: {
        repository: (inner) => ({
          insert: async (document, options) => {
            try {
              return await inner.insert(document, options);
            } catch (error) {
              if (!isBerthError(error, 'ALREADY_EXISTS') || error.field !== 'id') throw error;
              for (const [field, value] of Object.entries(document)) {
                if (field !== 'id' && typeof value === 'string' && (await inner.exists({ [field]: value }, options))) {
                  throw new AlreadyExistsError(`another document already has this ${field}`, field);
                }
              }
              throw error;
            }
          },
        }),
      },
    },
    {
      name: 'compares unique strings with a PAD SPACE collation (trailing spaces ignored)',
      group: 'unique',
      breakage: {
        repository: (inner) => ({
          insert: async (document, options) => {
            const stored = await inner.find(undefined, options);
            for (const [field, value] of Object.entries(document)) {
              if (field === 'id' || typeof value !== 'string') continue;
              const padded = (other: Document) => {
                const held: unknown = Reflect.get(other, field);
                return typeof held === 'string' && held !== value && held.trimEnd() === value.trimEnd();
              };
              if (stored.some(padded))
                throw new AlreadyExistsError(`another document already has this ${field}`, field);
            }
            return inner.insert(document, options);
          },
        }),
      },
    },
    {
      name: 'enforces unique indexes on array and object values',
      group: 'unique',
      breakage: {
        repository: (inner) => ({
          insert: async (document, options) => {
            const stored = await inner.find(undefined, options);
            for (const [field, value] of Object.entries(document as Record<string, unknown>)) {
              if (field === 'id' || typeof value !== 'object' || value === null || value instanceof Date) continue;
              const text = JSON.stringify(value);
              const holds = (other: Document) => JSON.stringify(Reflect.get(other, field)) === text;
              if (stored.some((other) => other.id !== document.id && holds(other))) {
                throw new AlreadyExistsError(`another document already has this ${field}`, field);
              }
            }
            return inner.insert(document, options);
          },
        }),
      },
    },
    {
      name: 'accepts unknown filter operators by dropping them',
      group: 'validation',
      breakage: {
        repository: rewritingFilters((path, condition) => {
          if (!isPlainObject(condition)) return { [path]: condition as Filter[string] };
          const known = Object.fromEntries(
            Object.entries(condition).filter(([operator]) => (FIELD_OPERATORS as readonly string[]).includes(operator)),
          );
          return Object.keys(known).length === 0 ? {} : { [path]: known };
        }),
      },
    },
    {
      name: 'ignores AbortSignals',
      group: 'abort',
      breakage: {
        repository: (inner) => ({
          get: (id, options) => inner.get(id, withoutSignal(options)),
          find: (query, options) => inner.find(query, withoutSignal(options)),
          insert: (document, options) => inner.insert(document, withoutSignal(options)),
          update: updateMethod((id, update, options) => inner.update(id, update, withoutSignal(options))),
          delete: (id, options) => inner.delete(id, withoutSignal(options)),
          count: (where, options) => inner.count(where, withoutSignal(options)),
          insertMany: (documents, options) => inner.insertMany(documents, withoutSignal(options)),
        }),
      },
    },
    {
      name: 'caps unlimited results at 1000',
      group: 'paging',
      breakage: {
        repository: (inner) => ({
          find: (query?: Query, options?: SignalOptions) =>
            inner.find({ ...query, limit: query?.limit ?? 1000 }, options),
        }),
      },
    },
    {
      name: 'pages with offsets disguised as cursors',
      group: 'paging',
      breakage: {
        repository: (inner) => ({
          findPage: async (query?: Query, options?: SignalOptions) => {
            const offset = query?.cursor === undefined ? (query?.offset ?? 0) : Number(atob(query.cursor));
            const limit = query?.limit;
            const items = await inner.find({ where: query?.where, orderBy: query?.orderBy, offset, limit }, options);
            const more = limit !== undefined && (await inner.count(query?.where, options)) > offset + items.length;
            return { items, nextCursor: more ? btoa(String(offset + items.length)) : null };
          },
        }),
      },
    },
    {
      name: 'counts 1 and "1" in one group',
      group: 'aggregate',
      breakage: {
        repository: (inner) => ({
          countBy: async (field, where, options) => {
            const groups = await inner.countBy(field, where, options);
            const merged = new Map<string, { value: (typeof groups)[number]['value']; count: number }>();
            for (const group of groups) {
              const key = group.value instanceof Date ? `d${group.value.getTime()}` : String(group.value);
              const existing = merged.get(key);
              if (existing === undefined) merged.set(key, { ...group });
              else existing.count += group.count;
            }
            return [...merged.values()];
          },
        }),
      },
    },
    {
      name: 'transactions do not roll back',
      group: 'transaction',
      breakage: {
        transaction: (inner, work, wrap) =>
          work({
            repository: <T extends Document>(name: string, options?: RepositoryOptions<T>) =>
              wrap(
                inner.repository<Document>(name, options as RepositoryOptions<Document> | undefined),
              ) as unknown as Repository<T>,
            queue: (name) => inner.queue(name),
          }),
      },
    },
    ...brokenComparisons,
    ...brokenArguments,
    ...brokenMetadata,
    ...brokenWrites,
    ...brokenAdminAdapters,
  ];

import {
  AlreadyExistsError,
  type Document,
  type DocumentScalar,
  type Filter,
  type Query,
  type SignalOptions,
} from '@berth/core';
import {
  compareValues,
  getPathValue,
  isPlainObject,
  isScalar,
  matchesFilter,
  parseFieldPath,
  sortDocuments,
} from '@berth/core/adapter';
import type { Breakage, RepositoryOverrides } from './broken-backend.js';

// Engines that compare values other than the ones stored: a fixed-point
// DECIMAL column, a PAD SPACE collation, a JSON reader that gives up on deep
// documents. Each is simulated by evaluating queries over a "shadow" of every
// document (the values as that engine would see them) with core's reference
// evaluator, while the stored documents themselves stay intact.

/** Rewrites every scalar of a document or filter; object keys stay as they are. */
function mapScalars(value: unknown, rewrite: (scalar: unknown) => unknown): unknown {
  if (Array.isArray(value)) return value.map((item) => mapScalars(item, rewrite));
  if (isPlainObject(value)) {
    return Object.fromEntries(Object.entries(value).map(([key, item]) => [key, mapScalars(item, rewrite)]));
  }
  return rewrite(value);
}

interface Shadow {
  readonly document: (document: Document) => Document;
  readonly filter: (filter: Filter | undefined) => Filter | undefined;
}

function scalarShadow(rewrite: (scalar: unknown) => unknown): Shadow {
  return {
    // The id stays: it is the key the engine looks documents up by.
    document: (document) => ({ ...(mapScalars(document, rewrite) as Document), id: document.id }),
    filter: (filter) => mapScalars(filter, rewrite) as Filter | undefined,
  };
}

/**
 * find, findOne, findPage, count, exists and countBy answered from shadows.
 * The healthy method runs first, so malformed input is still refused as the
 * contract says; only the answer is the broken engine's.
 */
function evaluatingAs(shadow: Shadow): RepositoryOverrides {
  return (inner) => {
    const select = async (query: Query | undefined, options?: SignalOptions): Promise<Document[]> => {
      const stored = await inner.find(undefined, options);
      const originals = new Map(stored.map((document) => [document.id, document]));
      const where = shadow.filter(query?.where);
      const matches = stored.map(shadow.document).filter((document) => matchesFilter(document, where));
      return sortDocuments(matches, query?.orderBy).map((document) => originals.get(document.id) as Document);
    };
    const slice = (documents: Document[], query?: Query): Document[] => {
      const offset = query?.offset ?? 0;
      return documents.slice(offset, query?.limit === undefined ? undefined : offset + query.limit);
    };
    return {
      find: async (query?: Query, options?: SignalOptions) => {
        await inner.find(query, options);
        return slice(await select(query, options), query);
      },
      findOne: async (query?: Query, options?: SignalOptions) => {
        await inner.findOne(query, options);
        return (await select(query, options))[0] ?? null;
      },
      // Cursors name the last id handed out; good enough for walking a sort.
      findPage: async (query?: Query, options?: SignalOptions) => {
        await inner.findPage({ ...query, cursor: undefined }, options);
        const all = await select(query, options);
        const after =
          query?.cursor === undefined ? -1 : all.findIndex((document) => document.id === atob(query.cursor as string));
        const rest = slice(all.slice(after + 1), { ...query, cursor: undefined });
        const last = rest.at(-1);
        const more = last !== undefined && all.indexOf(last) < all.length - 1;
        return { items: rest, nextCursor: more ? btoa(last.id) : null };
      },
      count: async (where?: Filter, options?: SignalOptions) => {
        await inner.count(where, options);
        return (await select({ where }, options)).length;
      },
      exists: async (where?: Filter, options?: SignalOptions) => {
        await inner.exists(where, options);
        return (await select({ where }, options)).length > 0;
      },
      countBy: async (field: string, where?: Filter, options?: SignalOptions) => {
        await inner.countBy(field, where, options);
        const path = parseFieldPath(field);
        const groups: { value: DocumentScalar; count: number }[] = [];
        for (const document of (await select({ where }, options)).map(shadow.document)) {
          const value = getPathValue(document, path) ?? null;
          if (!isScalar(value)) continue;
          const group = groups.find((candidate) => compareValues(candidate.value, value) === 0);
          if (group === undefined) groups.push({ value, count: 1 });
          else group.count += 1;
        }
        return groups.sort((a, b) => compareValues(a.value, b.value));
      },
    };
  };
}

/** DECIMAL(38, 10): ten digits after the point, at most 1e28. */
function fixedPoint(scalar: unknown): unknown {
  if (typeof scalar !== 'number') return scalar;
  const rounded = Math.round(scalar * 1e10) / 1e10;
  return Math.max(-1e28, Math.min(1e28, Number.isFinite(rounded) ? rounded : Math.sign(scalar) * 1e28));
}

/** PAD SPACE: trailing spaces do not count. */
function padSpace(scalar: unknown): unknown {
  return typeof scalar === 'string' ? scalar.replace(/ +$/, '') : scalar;
}

function depth(value: unknown): number {
  if (Array.isArray(value)) return 1 + Math.max(0, ...value.map(depth));
  if (isPlainObject(value)) return 1 + Math.max(0, ...Object.values(value).map(depth));
  return 0;
}

/** A JSON reader with a depth limit of 32 that answers NULL for every path of a deeper document. */
const shallowReader: Shadow = {
  document: (document) => (depth(document) > 32 ? { id: document.id } : document),
  filter: (filter) => filter,
};

const fixedPointDecimal: Breakage = { repository: evaluatingAs(scalarShadow(fixedPoint)) };

const padSpaceCollation: Breakage = {
  repository: (inner) => ({
    ...evaluatingAs(scalarShadow(padSpace))(inner),
    // A PAD SPACE primary key finds 'a' for 'a  '.
    get: async (id: string, options?: SignalOptions) =>
      (await inner.get(id, options)) ?? (typeof id === 'string' ? inner.get(id.replace(/ +$/, ''), options) : null),
  }),
};

/** A unique index over a fixed-point column: numbers it rounds together collide. */
const fixedPointUniqueIndex: Breakage = {
  repository: (inner) => ({
    insert: async (document, options) => {
      for (const [field, value] of Object.entries(document)) {
        if (typeof value !== 'number') continue;
        const others = await inner.find({ where: { [field]: { $exists: true } } }, options);
        const clash = others.some((other) => {
          const held: unknown = Reflect.get(other, field);
          return typeof held === 'number' && held !== value && fixedPoint(held) === fixedPoint(value);
        });
        if (clash) throw new AlreadyExistsError(`another document already has this ${field}`, field);
      }
      return inner.insert(document, options);
    },
  }),
};

/** Broken engines for the comparison cases, each with the group and the case that must reject it. */
export const brokenComparisons: readonly {
  readonly name: string;
  readonly group: string;
  readonly case: string;
  readonly breakage: Breakage;
}[] = [
  ...(['filter', 'sort', 'paging', 'aggregate', 'differential'] as const).map((group) => ({
    name: 'compares numbers as a fixed-point decimal (ten places, at most 1e28)',
    group,
    case: group === 'differential' ? 'random' : 'past 2^53',
    breakage: fixedPointDecimal,
  })),
  ...(['filter', 'sort', 'paging', 'aggregate', 'crud', 'differential'] as const).map((group) => ({
    name: 'ignores trailing spaces in strings and ids (PAD SPACE collation)',
    group,
    case: group === 'differential' ? 'random' : 'trailing spaces',
    breakage: padSpaceCollation,
  })),
  {
    name: 'enforces unique numbers as fixed-point decimals',
    group: 'unique',
    case: 'unique numbers',
    breakage: fixedPointUniqueIndex,
  },
  {
    name: 'reads every path of a document nested deeper than 32 levels as null',
    group: 'filter',
    case: 'maximum depth',
    breakage: { repository: evaluatingAs(shallowReader) },
  },
];

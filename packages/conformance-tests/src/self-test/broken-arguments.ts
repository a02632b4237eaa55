import type { Document, SignalOptions, Update, WriteOptions } from '@berth/core';
import type { Breakage } from './broken-backend.js';

/** Whether an update names a path with a `__proto__` segment. */
function touchesProto(update: unknown): boolean {
  if (typeof update !== 'object' || update === null) return false;
  const paths = Object.entries(update).flatMap(([key, value]) => {
    if (key === '$unset' && Array.isArray(value)) return value.map(String);
    if (key.startsWith('$') && typeof value === 'object' && value !== null) return Object.keys(value);
    return [key];
  });
  return paths.some((path) => path.split('.').includes('__proto__'));
}

/** Adapters that let wrong arguments or prototype paths through, each rejected by the group named. */
export const brokenArguments: readonly {
  readonly name: string;
  readonly group: string;
  /** The case written to catch it, which must be among the failures. */
  readonly case: string;
  readonly breakage: Breakage;
}[] = [
  {
    name: 'maps over the documents of insertMany before checking it got an array (TypeError on null)',
    group: 'arguments',
    case: 'writes refuse a document, documents or an update of the wrong type',
    breakage: {
      repository: (inner) => ({
        insertMany: (documents: readonly Document[], options?: SignalOptions) =>
          inner.insertMany(
            documents.map((document) => document),
            options,
          ),
      }),
    },
  },
  {
    name: 'reads an id argument without checking it is a string (a number finds nothing)',
    group: 'arguments',
    case: 'get, getEntry, update and delete refuse an id that is not a string',
    breakage: {
      repository: (inner) => ({
        get: async (id: string, options?: SignalOptions) => (typeof id === 'string' ? inner.get(id, options) : null),
      }),
    },
  },
  {
    name: 'ignores the options object and its signal unless they look right',
    group: 'arguments',
    case: 'refuse options that are not an object',
    breakage: {
      repository: (inner) => ({
        count: (where, options?: SignalOptions) =>
          inner.count(where, options?.signal instanceof AbortSignal ? options : undefined),
      }),
    },
  },
  {
    name: 'treats a __proto__ path segment as a no-op update that still bumps the version',
    group: 'validation',
    case: 'refuses a __proto__ segment in update paths',
    breakage: {
      repository: (inner) => ({
        update: (id: string, update: Update<Document>, options?: WriteOptions) =>
          inner.update(id, touchesProto(update) ? { $set: {} } : update, options),
      }),
    },
  },
];

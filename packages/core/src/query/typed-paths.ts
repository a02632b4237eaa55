/**
 * Dotted paths into a document type, and the value found at each, for the
 * typed query and update types (`Filter<T>`, `OrderBy<T>`, `Update<T>`…).
 *
 * Paths are a union of string literals (`'name' | 'stats' | 'stats.level'`),
 * not a template-literal pattern, so an editor completes them and a misspelled
 * one does not compile. They go {@link MaxPathDepth} segments deep at most
 * and stop at arrays (the engines do not traverse arrays: a path through one
 * reads as missing, so there are no numeric index segments) and at `Date`.
 * Below a field of type `unknown` any dotted path is accepted, unchecked. A document type
 * with a string index signature (`AnyDocument`, what a repository asked for
 * without a type holds) is untyped: every path and operand is accepted.
 */
/**
 * The deepest path the typed API spells out, in segments (`a.b.c.d.e`). Deeper
 * fields are still stored and queried; a typed repository just cannot name
 * them (use an untyped one). The bound keeps compile time flat on recursive
 * document types.
 *
 * ### Examples
 * ```ts
 * import type { DocumentPath, MaxPathDepth } from '@berth/core';
 *
 * interface Deep { id: string; a: { b: { c: { d: { e: number } } } } }
 *
 * const depth: MaxPathDepth = 5;
 * const deepest: DocumentPath<Deep> = 'a.b.c.d.e';
 * ```
 */
export type MaxPathDepth = 5;

/** `Depths[N]` is `N - 1`: the segments left below this one (`never` once none are). */
type Depths = [never, 0, 1, 2, 3, 4];

/**
 * Whether `T` is untyped: it holds any key (`AnyDocument`, a string index
 * signature) or no key but `id` (`Document` itself). Then paths are not checked.
 *
 * ### Examples
 * ```ts
 * import type { AnyDocument, IsUntyped } from '@berth/core';
 *
 * const untyped: IsUntyped<AnyDocument> = true;
 * const typed: IsUntyped<{ id: string; name: string }> = false;
 * ```
 */
export type IsUntyped<T> = string extends keyof T ? true : keyof T extends 'id' ? true : false;

/** Types a path goes into: plain objects, not arrays, dates or functions. */
type IsNested<V> = V extends readonly unknown[] | Date | ((...args: never[]) => unknown)
  ? false
  : V extends object
    ? true
    : false;

/** String keys of `T`, without the reserved `$` prefix (documents cannot hold such keys). */
type FieldKey<T> = Exclude<keyof T & string, `$${string}`>;

type PathsOf<T, Depth extends number> = [Depth] extends [never]
  ? never
  : {
      [K in FieldKey<T>]-?: unknown extends T[K]
        ? K | `${K}.${string}`
        : IsNested<NonNullable<T[K]>> extends true
          ? K | `${K}.${PathsOf<NonNullable<T[K]>, Depths[Depth]>}`
          : K;
    }[FieldKey<T>];

/**
 * Every dotted path of document type `T` (objects at any depth up to
 * {@link MaxPathDepth}, leaves and the objects themselves); `string` when `T`
 * is untyped.
 *
 * ### Examples
 * ```ts
 * import type { DocumentPath } from '@berth/core';
 *
 * interface Player { id: string; stats: { level: number }; tags: string[] }
 *
 * const path: DocumentPath<Player> = 'stats.level'; // 'id' | 'stats' | 'stats.level' | 'tags'
 * ```
 */
export type DocumentPath<T> = IsUntyped<T> extends true ? string : PathsOf<T, Depths[MaxPathDepth]>;

/**
 * The type found at `Path` in `T`, `undefined` included when a segment on the
 * way is optional (the field may be missing); `unknown` for an unknown path or
 * an untyped `T`.
 *
 * ### Examples
 * ```ts
 * import type { PathValue } from '@berth/core';
 *
 * interface Player { id: string; stats?: { level: number } }
 *
 * const level: PathValue<Player, 'stats.level'> = undefined; // number | undefined: `stats` is optional
 * ```
 */
export type PathValue<T, Path extends string> = IsUntyped<T> extends true ? unknown : PathValueOf<T, Path>;

type PathValueOf<T, Path extends string> =
  Path extends FieldKey<T>
    ? T[Path]
    : Path extends `${infer Head}.${infer Rest}`
      ? Head extends FieldKey<T>
        ? unknown extends T[Head]
          ? unknown
          : PathValueOf<NonNullable<T[Head]>, Rest> | Extract<T[Head], null | undefined>
        : unknown
      : unknown;

/**
 * The paths of `T` whose value is not an object or array: what can be sorted, counted by or indexed.
 *
 * ### Examples
 * ```ts
 * import type { ScalarPath } from '@berth/core';
 *
 * interface Player { id: string; name: string; stats: { level: number }; tags: string[] }
 *
 * const sortable: ScalarPath<Player>[] = ['id', 'name', 'stats.level']; // not 'stats' or 'tags'
 * ```
 */
export type ScalarPath<T> =
  IsUntyped<T> extends true
    ? string
    : {
        [P in DocumentPath<T>]: unknown extends PathValue<T, P>
          ? P
          : NonNullable<PathValue<T, P>> extends boolean | number | string | Date
            ? P
            : never;
      }[DocumentPath<T>];

/**
 * The paths of `T` whose value is a number (possibly optional or null): what `$inc` accepts.
 *
 * ### Examples
 * ```ts
 * import type { NumberPath } from '@berth/core';
 *
 * interface Player { id: string; name: string; stats: { level: number; gold?: number } }
 *
 * const counters: NumberPath<Player>[] = ['stats.level', 'stats.gold'];
 * ```
 */
export type NumberPath<T> =
  IsUntyped<T> extends true
    ? string
    : {
        [P in DocumentPath<T>]: unknown extends PathValue<T, P>
          ? never
          : NonNullable<PathValue<T, P>> extends number
            ? P
            : never;
      }[DocumentPath<T>];

/**
 * The reserved metadata paths, accepted in `where` and `orderBy` of every
 * query: when the document was created and last written (`Date` values).
 *
 * ### Examples
 * ```ts
 * import type { MetadataPath, Repository } from '@berth/core';
 *
 * async function newest(notes: Repository, by: MetadataPath) {
 *   return notes.findOne({ orderBy: { field: by, direction: 'desc' } });
 * }
 * ```
 */
export type MetadataPath = '$createdAt' | '$updatedAt';

import { ValidationError } from '../errors.js';
import { type FilterNode, parseFilter } from '../query/filter.js';
import type { OrderBy } from '../query/query.js';
import { normalizeOrderBy } from '../query/sort.js';
import type { IndexDefinition } from '../repository/repository.js';
import { getPathValue } from '../values/names.js';
import type { InstrumentHooks, OperationEvent, OperationKind, RepositoryDeclaration } from './instrument.js';

/**
 * Options of {@link createCollector}: how many slow operations to keep, and
 * how many duration samples per operation the percentiles are computed from.
 *
 * ### Examples
 * ```ts
 * import { createCollector, type CollectorOptions } from '@berth/core';
 *
 * const options: CollectorOptions = { slowest: 20, maxSamplesPerOperation: 1_000 };
 * const collector = createCollector(options);
 * ```
 */
export interface CollectorOptions {
  /** How many of the slowest operations the report keeps (default 10). */
  readonly slowest?: number | undefined;
  /**
   * Durations kept per operation for percentiles (default 10 000). Past that,
   * a uniform random sample of every duration seen is kept (reservoir
   * sampling), so memory stays bounded and percentiles cover the whole period.
   */
  readonly maxSamplesPerOperation?: number | undefined;
}

/**
 * Timings of one operation on one collection, queue or backend.
 *
 * ### Examples
 * ```ts
 * import { createCollector, type OperationStats } from '@berth/core';
 *
 * const collector = createCollector();
 * const worst: OperationStats | undefined = [...collector.report().operations].sort((a, b) => b.p95Ms - a.p95Ms)[0];
 * if (worst) console.log(`${worst.target}.${worst.operation}: p95 ${worst.p95Ms} ms over ${worst.count} calls`);
 * ```
 */
export interface OperationStats {
  readonly backend: string;
  readonly target: string;
  readonly kind: OperationKind;
  readonly operation: string;
  readonly count: number;
  /** Calls that threw. */
  readonly errors: number;
  /** Sum of all durations: what the report is sorted by. */
  readonly totalMs: number;
  readonly p50Ms: number;
  readonly p95Ms: number;
  readonly p99Ms: number;
  readonly maxMs: number;
}

/**
 * One of the slowest operations seen.
 *
 * ### Examples
 * ```ts
 * import { createCollector, type SlowOperation } from '@berth/core';
 *
 * const collector = createCollector({ slowest: 3 });
 * for (const slow of collector.report().slowest as SlowOperation[]) {
 *   console.log(slow.at.toISOString(), slow.target, slow.operation, `${slow.durationMs} ms`, slow.query ?? '');
 * }
 * ```
 */
export interface SlowOperation {
  readonly backend: string;
  readonly target: string;
  readonly kind: OperationKind;
  readonly operation: string;
  readonly durationMs: number;
  /** When the operation started. */
  readonly at: Date;
  readonly transaction: boolean;
  readonly rows?: number | undefined;
  /** The error's code and message, when it failed. */
  readonly error?: string | undefined;
  /** The filter and sort with every value replaced by `?`, safe to log. */
  readonly query?: string | undefined;
}

/**
 * The value type of an indexed field, as `indexes: [{ field, type }]` takes it.
 *
 * ### Examples
 * ```ts
 * import type { IndexValueType } from '@berth/core';
 *
 * const types: IndexValueType[] = ['string', 'number', 'date', 'boolean'];
 * ```
 */
export type IndexValueType = 'string' | 'number' | 'date' | 'boolean';

/**
 * A ready index definition: one field (`{ field, type }`), or several in
 * order (`{ fields: [{ field, type }, …] }`, the compound shape), to paste
 * into `repository(name, { indexes: [...] })`.
 *
 * ### Examples
 * ```ts
 * import type { RepositoryBackend, SuggestedIndex } from '@berth/core';
 *
 * // A suggested index is ready to declare as it is.
 * function withIndex(backend: RepositoryBackend, collection: string, index: SuggestedIndex) {
 *   return backend.repository(collection, { indexes: [index] });
 * }
 * ```
 */
export type SuggestedIndex =
  | { readonly field: string; readonly type: IndexValueType }
  | { readonly fields: readonly { readonly field: string; readonly type: IndexValueType }[] };

/**
 * An index that queries call for and that no declared index covers: the
 * fields one query shape filters and sorts on, in the order an index serves
 * them best (equality fields first, then the sort fields, then one range
 * field), one suggestion per distinct shape and collection.
 *
 * ### Examples
 * ```ts
 * import { createCollector, type IndexSuggestion } from '@berth/core';
 *
 * const collector = createCollector();
 * const suggestions: readonly IndexSuggestion[] = collector.report().indexSuggestions;
 * for (const { collection, fields, filterCount, example } of suggestions) {
 *   console.log(`${collection}: index ${fields.join('+')} (${filterCount} queries, e.g. ${example})`);
 * }
 * ```
 */
export interface IndexSuggestion {
  readonly backend: string;
  readonly collection: string;
  /** The first of `fields` (dotted path); what earlier versions reported as the one field. */
  readonly field: string;
  /** Every field of the suggested index, in index order (dotted paths). */
  readonly fields: readonly string[];
  /**
   * The definition to declare, with the value types seen in filters and in
   * the documents queries returned. Absent while a field's type is unknown
   * (sorted on, never compared, and never seen in a returned document).
   */
  readonly index?: SuggestedIndex | undefined;
  /** Queries of this shape whose filter compares its fields in a way an index can serve (equality, range, `$in`, `$startsWith`). */
  readonly filterCount: number;
  /** Queries of this shape sorted by its fields. */
  readonly sortCount: number;
  /** Time those queries took in total. */
  readonly totalMs: number;
  /** The first such query, with values replaced by `?`. */
  readonly example: string;
}

/**
 * What a collector saw since it was created or reset.
 *
 * ### Examples
 * ```ts
 * import { createCollector, type CollectorReport } from '@berth/core';
 *
 * const collector = createCollector();
 * const report: CollectorReport = collector.report();
 * console.log(`since ${report.since.toISOString()}: ${report.operations.length} kinds of operation`);
 * console.log(collector.format(report));
 * ```
 */
export interface CollectorReport {
  /** When the collector was created or last reset. */
  readonly since: Date;
  /** Per operation, most total time first. */
  readonly operations: readonly OperationStats[];
  /** Slowest first. */
  readonly slowest: readonly SlowOperation[];
  /**
   * Most used first. Never names `id`, nor an index whose fields lead an
   * index a `repository(name, { indexes })` call declared.
   */
  readonly indexSuggestions: readonly IndexSuggestion[];
}

/**
 * The collector `createCollector` returns.
 *
 * ### Examples
 * ```ts
 * import { type Collector, createBackend, createCollector, instrument } from '@berth/core';
 *
 * const collector: Collector = createCollector();
 * const backend = instrument(await createBackend('memory:'), collector.hooks);
 * await backend.repository('notes').insert({ text: 'hi' });
 * console.log(collector.format());
 * collector.reset();
 * await backend.close();
 * ```
 */
export interface Collector {
  /** Pass these to `instrument`. */
  readonly hooks: InstrumentHooks;
  /** What was measured since `since`: timings, the slowest operations, index suggestions. */
  report(): CollectorReport;
  /** The report as a text table (see `formatReport`); a fresh report when none is given. */
  format(report?: CollectorReport): string;
  /** Forgets every measurement; the declared indexes are kept, since repositories are usually declared once. */
  reset(): void;
}

interface Timings {
  readonly backend: string;
  readonly target: string;
  readonly kind: OperationKind;
  readonly operation: string;
  count: number;
  errors: number;
  totalMs: number;
  maxMs: number;
  readonly samples: number[];
}

interface FieldUsage {
  readonly backend: string;
  readonly collection: string;
  readonly fields: readonly string[];
  filterCount: number;
  sortCount: number;
  totalMs: number;
  readonly example: string;
}

/** Operations that run a filter or sort against stored data (`explain` only plans one). */
const QUERY_OPERATIONS = new Set([
  'find',
  'findPage',
  'findOne',
  'count',
  'countBy',
  'exists',
  'iterate',
  'updateMany',
  'deleteMany',
]);

const MAX_EXAMPLE_LENGTH = 200;

/** How many returned documents are looked at for a field's type. */
const TYPE_PROBE_DOCUMENTS = 20;

/** The fields of a declared index, single-field or compound. */
function declaredFields(index: IndexDefinition): string[] {
  const shape = index as unknown as { field?: unknown; fields?: unknown };
  if (Array.isArray(shape.fields)) {
    return shape.fields.flatMap((part: unknown) => {
      const field = (part as { field?: unknown } | null)?.field;
      return typeof field === 'string' ? [field] : [];
    });
  }
  return typeof shape.field === 'string' ? [shape.field] : [];
}

function compareFieldLists(a: readonly string[], b: readonly string[]): number {
  const left = a.join(',');
  const right = b.join(',');
  return left < right ? -1 : left > right ? 1 : 0;
}

function checkLimit(name: string, value: number | undefined, fallback: number): number {
  const limit = value ?? fallback;
  if (!Number.isSafeInteger(limit) || limit < 1) {
    throw new ValidationError(`${name} must be a positive integer, got ${String(limit)}`, name);
  }
  return limit;
}

/** The fields one query asks an index for: compared for equality, compared as a range, sorted. */
interface QueryShape {
  readonly equal: string[];
  readonly range: string[];
  readonly sort: string[];
}

/** Value types seen in operands, by field. */
type SeenTypes = Map<string, IndexValueType>;

function valueType(value: unknown): IndexValueType | undefined {
  if (value instanceof Date) return 'date';
  switch (typeof value) {
    case 'string':
      return 'string';
    case 'number':
      return 'number';
    case 'boolean':
      return 'boolean';
    default:
      return undefined;
  }
}

function noteType(types: SeenTypes, field: string, value: unknown): void {
  const type = valueType(value);
  if (type !== undefined && !types.has(field)) types.set(field, type);
}

/**
 * The conjunction at the top of `node` into `shape`; each `$or` below it is a
 * query of its own per branch (an index per branch serves it). Comparisons
 * under `$not`, and `$ne`, `$nin`, `$exists`, `$contains`, cannot use an index.
 */
function collectShape(node: FilterNode, shape: QueryShape, branches: QueryShape[], types: SeenTypes): void {
  switch (node.kind) {
    case 'and':
      for (const child of node.nodes) collectShape(child, shape, branches, types);
      break;
    case 'or':
      for (const child of node.nodes) {
        const branch: QueryShape = { equal: [], range: [], sort: [] };
        collectShape(child, branch, branches, types);
        branches.push(branch);
      }
      break;
    case 'eq': {
      const field = node.path.join('.');
      shape.equal.push(field);
      noteType(types, field, node.value);
      break;
    }
    case 'in': {
      const field = node.path.join('.');
      shape.range.push(field);
      for (const value of node.values) noteType(types, field, value);
      break;
    }
    case 'gt':
    case 'gte':
    case 'lt':
    case 'lte':
    case 'startsWith': {
      const field = node.path.join('.');
      shape.range.push(field);
      noteType(types, field, node.value);
      break;
    }
    default:
      break;
  }
}

/**
 * The index fields a shape calls for: equality fields first, then the sort
 * fields, then the first range field (an index serves one range, after the
 * equality prefix and the sort). Empty when the primary key serves the query
 * (`id` compared for equality) or nothing an index serves is left.
 */
function indexFields(shape: QueryShape): string[] {
  if (shape.equal.includes('id')) return [];
  const fields: string[] = [];
  const add = (field: string): void => {
    if (field !== 'id' && !fields.includes(field)) fields.push(field);
  };
  for (const field of shape.equal) add(field);
  for (const field of shape.sort) add(field);
  const range = shape.range.find((field) => field !== 'id' && !fields.includes(field));
  if (range !== undefined) add(range);
  return fields;
}

function redactCondition(condition: unknown): string {
  if (typeof condition !== 'object' || condition === null || condition instanceof Date || Array.isArray(condition)) {
    return '?';
  }
  const operators = Object.entries(condition).filter(([, operand]) => operand !== undefined);
  return `{ ${operators.map(([operator]) => `${operator}: ?`).join(', ')} }`;
}

/** A filter's shape with every value replaced by `?`, so reports never leak data into logs. */
function redactFilter(filter: unknown): string {
  if (typeof filter !== 'object' || filter === null || Array.isArray(filter)) return '?';
  const parts: string[] = [];
  for (const [key, condition] of Object.entries(filter)) {
    if (condition === undefined) continue;
    if ((key === '$and' || key === '$or') && Array.isArray(condition)) {
      parts.push(`${key}: [${condition.map(redactFilter).join(', ')}]`);
    } else if (key === '$not') parts.push(`$not: ${redactFilter(condition)}`);
    else parts.push(`${key}: ${redactCondition(condition)}`);
  }
  return `{ ${parts.join(', ')} }`;
}

function describeSort(orderBy: OrderBy): string {
  return normalizeOrderBy(orderBy)
    .map((key) => (key.direction === 'desc' ? `${key.field} desc` : key.field))
    .join(', ');
}

/** `find where { level: { $gte: ? } } orderBy name desc`, cut to a loggable length. */
function describeQuery(event: OperationEvent): string | undefined {
  if (event.where === undefined && event.orderBy === undefined) return undefined;
  let text = event.operation;
  if (event.where !== undefined) text += ` where ${redactFilter(event.where)}`;
  if (event.orderBy !== undefined) {
    try {
      text += ` orderBy ${describeSort(event.orderBy)}`;
    } catch {
      text += ' orderBy ?';
    }
  }
  return text.length > MAX_EXAMPLE_LENGTH ? `${text.slice(0, MAX_EXAMPLE_LENGTH - 1)}…` : text;
}

function describeError(error: unknown): string {
  if (error instanceof Error) {
    const code = (error as { code?: unknown }).code;
    return typeof code === 'string' ? `${code}: ${error.message}` : `${error.name}: ${error.message}`;
  }
  return String(error);
}

/** Nearest-rank percentile of ascending `sorted`. */
function percentile(sorted: Float64Array, fraction: number): number {
  if (sorted.length === 0) return 0;
  const rank = Math.max(1, Math.ceil(fraction * sorted.length));
  return sorted[rank - 1] ?? 0;
}

function key(...parts: string[]): string {
  // NUL cannot appear in collection, queue or field names, so keys never collide.
  return parts.join('\u0000');
}

/**
 * Creates a collector: pass its `hooks` to `instrument`, then read `report()`
 * (or `format()` for logs). It keeps counts, errors and p50/p95/p99/max per
 * operation, the slowest operations, and index suggestions: for each query
 * shape that no declared index serves, the index to declare (equality fields,
 * then sort fields, then one range field, with their value types), most used
 * first. Memory stays bounded by `maxSamplesPerOperation` per operation.
 *
 * ### Examples
 * ```ts
 * import { createBackend, createCollector, instrument } from '@berth/core';
 *
 * const collector = createCollector({ slowest: 5 });
 * const backend = instrument(await createBackend('memory:'), collector.hooks);
 * const players = backend.repository<{ id: string; guild: string }>('players');
 * await players.insert({ guild: 'north' });
 * await players.find({ where: { guild: 'north' } });
 *
 * const report = collector.report();
 * // [{ collection: 'players', fields: ['guild'], index: { field: 'guild', type: 'string' }, filterCount: 1, … }]
 * console.log(report.indexSuggestions);
 * setInterval(() => {
 *   console.log(collector.format());
 *   collector.reset();
 * }, 60_000).unref();
 * ```
 */
export function createCollector(options: CollectorOptions = {}): Collector {
  const slowestLimit = checkLimit('slowest', options.slowest, 10);
  const maxSamples = checkLimit('maxSamplesPerOperation', options.maxSamplesPerOperation, 10_000);
  let since = new Date();
  let timings = new Map<string, Timings>();
  let usage = new Map<string, FieldUsage>();
  let slowest: SlowOperation[] = [];
  /** Declared indexes per backend and collection, as keys of every leading run of their fields. */
  const declared = new Map<string, Set<string>>();
  /** Value types learned per backend, collection and field; kept across reset, like declarations. */
  const types = new Map<string, IndexValueType>();
  /** Fields of suggestions whose type is still unknown, per backend and collection. */
  const wanted = new Map<string, Set<string>>();

  function time(event: OperationEvent): void {
    const timingKey = key(event.backend, event.kind, event.target, event.operation);
    let entry = timings.get(timingKey);
    if (entry === undefined) {
      entry = {
        backend: event.backend,
        target: event.target,
        kind: event.kind,
        operation: event.operation,
        count: 0,
        errors: 0,
        totalMs: 0,
        maxMs: 0,
        samples: [],
      };
      timings.set(timingKey, entry);
    }
    entry.count++;
    if (!event.ok) entry.errors++;
    entry.totalMs += event.durationMs;
    if (event.durationMs > entry.maxMs) entry.maxMs = event.durationMs;
    if (entry.samples.length < maxSamples) entry.samples.push(event.durationMs);
    else {
      // Reservoir sampling: every duration seen so far is kept with equal probability.
      const slot = Math.floor(Math.random() * entry.count);
      if (slot < maxSamples) entry.samples[slot] = event.durationMs;
    }
  }

  function rememberIfSlow(event: OperationEvent): void {
    const last = slowest[slowest.length - 1];
    if (slowest.length >= slowestLimit && last !== undefined && event.durationMs <= last.durationMs) return;
    const entry: { -readonly [K in keyof SlowOperation]: SlowOperation[K] } = {
      backend: event.backend,
      target: event.target,
      kind: event.kind,
      operation: event.operation,
      durationMs: event.durationMs,
      at: new Date(Date.now() - event.durationMs),
      transaction: event.transaction,
    };
    if (event.rows !== undefined) entry.rows = event.rows;
    if (!event.ok) entry.error = describeError(event.error);
    const query = describeQuery(event);
    if (query !== undefined) entry.query = query;
    let index = slowest.length;
    while (index > 0 && (slowest[index - 1] as SlowOperation).durationMs < event.durationMs) index--;
    slowest.splice(index, 0, entry);
    if (slowest.length > slowestLimit) slowest.pop();
  }

  function recordFields(event: OperationEvent): void {
    if (event.kind !== 'repository' || !QUERY_OPERATIONS.has(event.operation)) return;
    const main: QueryShape = { equal: [], range: [], sort: [] };
    const branches: QueryShape[] = [];
    const seen: SeenTypes = new Map();
    try {
      if (event.where !== undefined) collectShape(parseFilter(event.where), main, branches, seen);
      if (event.orderBy !== undefined)
        main.sort.push(...normalizeOrderBy(event.orderBy).map((sortKey) => sortKey.field));
    } catch {
      // An invalid filter failed the operation; there is no query to learn from.
      return;
    }
    const learned = new Set<string>();
    for (const [field, type] of seen) {
      const typeKey = key(event.backend, event.target, field);
      if (!types.has(typeKey)) types.set(typeKey, type);
      wanted.get(key(event.backend, event.target))?.delete(field);
    }
    for (const shape of [main, ...branches]) {
      const fields = indexFields(shape);
      if (fields.length === 0) continue;
      const usageKey = key(event.backend, event.target, ...fields);
      let entry = usage.get(usageKey);
      if (entry === undefined) {
        entry = {
          backend: event.backend,
          collection: event.target,
          fields,
          filterCount: 0,
          sortCount: 0,
          totalMs: 0,
          example: describeQuery(event) ?? event.operation,
        };
        usage.set(usageKey, entry);
      }
      if (fields.some((field) => shape.equal.includes(field) || shape.range.includes(field))) entry.filterCount++;
      if (fields.some((field) => shape.sort.includes(field))) entry.sortCount++;
      entry.totalMs += event.durationMs;
      for (const field of fields) learned.add(field);
    }
    if (learned.size > 0) {
      const wantedKey = key(event.backend, event.target);
      let fields = wanted.get(wantedKey);
      if (fields === undefined) {
        fields = new Set();
        wanted.set(wantedKey, fields);
      }
      for (const field of learned) if (!types.has(key(event.backend, event.target, field))) fields.add(field);
    }
    if (event.ok && event.result !== undefined) learnTypesFromResult(event);
  }

  /** Types of suggested fields no operand told: from the first returned documents that hold them. */
  function learnTypesFromResult(event: OperationEvent): void {
    const fields = wanted.get(key(event.backend, event.target));
    if (fields === undefined || fields.size === 0) return;
    const unknown = [...fields];
    const result = event.result;
    const documents: unknown[] = Array.isArray(result)
      ? result
      : typeof result === 'object' && result !== null && Array.isArray((result as { items?: unknown }).items)
        ? (result as { items: unknown[] }).items
        : [result];
    for (const field of unknown) {
      const path = field.split('.');
      for (const document of documents.slice(0, TYPE_PROBE_DOCUMENTS)) {
        if (typeof document !== 'object' || document === null) continue;
        const type = valueType(getPathValue(document as Record<string, unknown>, path));
        if (type !== undefined) {
          types.set(key(event.backend, event.target, field), type);
          fields.delete(field);
          break;
        }
      }
    }
  }

  function declare(declaration: RepositoryDeclaration): void {
    if (declaration.indexes.length === 0) return;
    const declaredKey = key(declaration.backend, declaration.collection);
    let indexes = declared.get(declaredKey);
    if (indexes === undefined) {
      indexes = new Set();
      declared.set(declaredKey, indexes);
    }
    for (const index of declaration.indexes) {
      const fields = declaredFields(index);
      // Every leading part of a declared index serves queries on it.
      for (let length = 1; length <= fields.length; length++) indexes.add(key(...fields.slice(0, length)));
    }
  }

  function suggestedIndex(entry: FieldUsage): SuggestedIndex | undefined {
    const typed: { field: string; type: IndexValueType }[] = [];
    for (const field of entry.fields) {
      const type = types.get(key(entry.backend, entry.collection, field));
      if (type === undefined) return undefined;
      typed.push({ field, type });
    }
    const [only] = typed;
    return typed.length === 1 && only !== undefined ? only : { fields: typed };
  }

  function report(): CollectorReport {
    const operations = [...timings.values()]
      .map((entry): OperationStats => {
        const sorted = Float64Array.from(entry.samples).sort();
        return {
          backend: entry.backend,
          target: entry.target,
          kind: entry.kind,
          operation: entry.operation,
          count: entry.count,
          errors: entry.errors,
          totalMs: entry.totalMs,
          p50Ms: percentile(sorted, 0.5),
          p95Ms: percentile(sorted, 0.95),
          p99Ms: percentile(sorted, 0.99),
          maxMs: entry.maxMs,
        };
      })
      .sort((a, b) => b.totalMs - a.totalMs);
    // Checked now, not when the query ran: a repository may be declared after its first queries.
    const indexSuggestions = [...usage.values()]
      .filter((entry) => declared.get(key(entry.backend, entry.collection))?.has(key(...entry.fields)) !== true)
      .map((entry): IndexSuggestion => {
        const suggestion: { -readonly [K in keyof IndexSuggestion]: IndexSuggestion[K] } = {
          backend: entry.backend,
          collection: entry.collection,
          field: entry.fields[0] as string,
          fields: [...entry.fields],
          filterCount: entry.filterCount,
          sortCount: entry.sortCount,
          totalMs: entry.totalMs,
          example: entry.example,
        };
        const index = suggestedIndex(entry);
        if (index !== undefined) suggestion.index = index;
        return suggestion;
      })
      .sort(
        (a, b) =>
          b.filterCount + b.sortCount - (a.filterCount + a.sortCount) ||
          b.totalMs - a.totalMs ||
          (a.collection < b.collection ? -1 : a.collection > b.collection ? 1 : 0) ||
          compareFieldLists(a.fields, b.fields),
      );
    return {
      since,
      operations,
      slowest: slowest.map((entry) => ({ ...entry, at: new Date(entry.at) })),
      indexSuggestions,
    };
  }

  return {
    hooks: {
      onOperation(event: OperationEvent): void {
        time(event);
        rememberIfSlow(event);
        recordFields(event);
      },
      onRepository: declare,
    },
    report,
    format: (given?: CollectorReport): string => formatReport(given ?? report()),
    reset(): void {
      since = new Date();
      timings = new Map();
      usage = new Map();
      slowest = [];
    },
  };
}

/** A text table; `align` has one letter per column, `r` for right-aligned (numbers). */
function table(header: readonly string[], rows: readonly (readonly string[])[], align: string): string {
  const widths = header.map((title, column) => Math.max(title.length, ...rows.map((row) => row[column]?.length ?? 0)));
  const line = (cells: readonly string[]): string =>
    cells
      .map((cell, column) => {
        const width = widths[column] ?? 0;
        return align[column] === 'r' ? cell.padStart(width) : cell.padEnd(width);
      })
      .join('  ')
      .trimEnd();
  return [line(header), ...rows.map(line)].join('\n');
}

/** `guild string, level number`: the fields in index order, with their types where known. */
function describeFields(entry: IndexSuggestion): string {
  const index = entry.index;
  if (index === undefined) return entry.fields.join(', ');
  const typed = 'fields' in index ? index.fields : [index];
  return typed.map((part) => `${part.field} ${part.type}`).join(', ');
}

function ms(value: number): string {
  return value.toFixed(value >= 100 ? 0 : 2);
}

/**
 * A collector report as plain text for logs: one table of operations, the
 * slowest operations, and the index suggestions.
 *
 * ### Examples
 * ```ts
 * import { createCollector, formatReport } from '@berth/core';
 *
 * const collector = createCollector();
 * console.log(formatReport(collector.report()));
 * ```
 */
export function formatReport(report: CollectorReport): string {
  const sections: string[] = [];
  const operations = report.operations.map((entry) => [
    entry.backend,
    entry.kind,
    entry.target === '' ? '-' : entry.target,
    entry.operation,
    String(entry.count),
    String(entry.errors),
    ms(entry.p50Ms),
    ms(entry.p95Ms),
    ms(entry.p99Ms),
    ms(entry.maxMs),
    ms(entry.totalMs),
  ]);
  sections.push(
    `Operations since ${report.since.toISOString()}`,
    operations.length === 0
      ? '(none)'
      : table(
          [
            'backend',
            'kind',
            'target',
            'operation',
            'count',
            'errors',
            'p50 ms',
            'p95 ms',
            'p99 ms',
            'max ms',
            'total ms',
          ],
          operations,
          'llllrrrrrrr',
        ),
  );
  if (report.slowest.length > 0) {
    const rows = report.slowest.map((entry) => [
      ms(entry.durationMs),
      entry.backend,
      entry.kind,
      entry.target === '' ? '-' : entry.target,
      entry.operation,
      entry.rows === undefined ? '-' : String(entry.rows),
      entry.at.toISOString(),
      [entry.transaction ? '(in transaction)' : '', entry.error ?? '', entry.query ?? ''].filter(Boolean).join(' '),
    ]);
    sections.push(
      '',
      'Slowest operations',
      table(['ms', 'backend', 'kind', 'target', 'operation', 'rows', 'at', 'detail'], rows, 'rllllrll'),
    );
  }
  if (report.indexSuggestions.length > 0) {
    const rows = report.indexSuggestions.map((entry) => [
      entry.backend,
      entry.collection,
      describeFields(entry),
      String(entry.filterCount),
      String(entry.sortCount),
      ms(entry.totalMs),
      entry.example,
    ]);
    sections.push(
      '',
      'Index suggestions (fields queried without a declared index)',
      table(['backend', 'collection', 'fields', 'filtered', 'sorted', 'total ms', 'example'], rows, 'lllrrrl'),
    );
    const ready = report.indexSuggestions.filter((entry) => entry.index !== undefined);
    if (ready.length > 0) {
      sections.push(
        '',
        'To declare them: repository(name, { indexes: [...] })',
        ...ready.map((entry) => `${entry.collection}: ${JSON.stringify(entry.index)}`),
      );
    }
  }
  return sections.join('\n');
}

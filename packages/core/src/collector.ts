import { ValidationError } from './errors.js';
import { type FilterNode, parseFilter } from './filter.js';
import type { InstrumentHooks, OperationEvent, OperationKind, RepositoryDeclaration } from './instrument.js';
import type { OrderBy } from './query.js';
import { normalizeOrderBy } from './sort.js';

/** Options of `createCollector`. */
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

/** Timings of one operation on one collection, queue or backend. */
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

/** One of the slowest operations seen. */
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

/** A field that queries filter or sort on and that no declared index covers. */
export interface IndexSuggestion {
  readonly backend: string;
  readonly collection: string;
  /** Dotted field path, as `indexes: [{ field }]` takes it. */
  readonly field: string;
  /** Queries whose filter compares the field in a way an index can serve (equality, range, `$in`, `$startsWith`). */
  readonly filterCount: number;
  /** Queries sorted by the field. */
  readonly sortCount: number;
  /** Time those queries took in total. */
  readonly totalMs: number;
  /** The first such query, with values replaced by `?`. */
  readonly example: string;
}

/** What a collector saw since it was created or reset. */
export interface CollectorReport {
  readonly since: Date;
  /** Per operation, most total time first. */
  readonly operations: readonly OperationStats[];
  /** Slowest first. */
  readonly slowest: readonly SlowOperation[];
  /** Most used first. Never names `id` or a field a `repository(name, { indexes })` call declared. */
  readonly indexSuggestions: readonly IndexSuggestion[];
}

/** The collector `createCollector` returns. */
export interface Collector {
  /** Pass these to `instrument`. */
  readonly hooks: InstrumentHooks;
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
  readonly field: string;
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

function checkLimit(name: string, value: number | undefined, fallback: number): number {
  const limit = value ?? fallback;
  if (!Number.isSafeInteger(limit) || limit < 1) {
    throw new ValidationError(`${name} must be a positive integer, got ${String(limit)}`, name);
  }
  return limit;
}

/** The fields an index could serve in `node`; comparisons under `$not` cannot use one. */
function indexableFields(node: FilterNode, into: Set<string>): Set<string> {
  switch (node.kind) {
    case 'and':
    case 'or':
      for (const child of node.nodes) indexableFields(child, into);
      break;
    case 'eq':
    case 'gt':
    case 'gte':
    case 'lt':
    case 'lte':
    case 'in':
    case 'startsWith':
      into.add(node.path.join('.'));
      break;
    default:
      break;
  }
  return into;
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
 * operation, the slowest operations, and index suggestions: fields that
 * queries filter (equality, range, `$in`, `$startsWith`, also inside `$and`
 * and `$or`) or sort on and that no declared index covers, most used first.
 * Memory stays bounded by `maxSamplesPerOperation` per operation.
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
 * console.log(report.indexSuggestions); // [{ collection: 'players', field: 'guild', filterCount: 1, … }]
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
  /** Declared index fields per backend and collection; `id` is always covered. */
  const declared = new Map<string, Set<string>>();

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
    let filtered: Set<string> | undefined;
    let sorted: string[] = [];
    try {
      if (event.where !== undefined) filtered = indexableFields(parseFilter(event.where), new Set());
      if (event.orderBy !== undefined) sorted = normalizeOrderBy(event.orderBy).map((sortKey) => sortKey.field);
    } catch {
      // An invalid filter failed the operation; there is no query to learn from.
      return;
    }
    const count = (field: string, filter: number, sort: number): void => {
      if (field === 'id') return;
      const usageKey = key(event.backend, event.target, field);
      let entry = usage.get(usageKey);
      if (entry === undefined) {
        entry = {
          backend: event.backend,
          collection: event.target,
          field,
          filterCount: 0,
          sortCount: 0,
          totalMs: 0,
          example: describeQuery(event) ?? event.operation,
        };
        usage.set(usageKey, entry);
      }
      entry.filterCount += filter;
      entry.sortCount += sort;
      entry.totalMs += event.durationMs;
    };
    if (filtered !== undefined) for (const field of filtered) count(field, 1, sorted.includes(field) ? 1 : 0);
    for (const field of new Set(sorted)) if (filtered?.has(field) !== true) count(field, 0, 1);
  }

  function declare(declaration: RepositoryDeclaration): void {
    if (declaration.indexes.length === 0) return;
    const declaredKey = key(declaration.backend, declaration.collection);
    let fields = declared.get(declaredKey);
    if (fields === undefined) {
      fields = new Set();
      declared.set(declaredKey, fields);
    }
    for (const index of declaration.indexes) if ('field' in index) fields.add(index.field);
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
      .filter((entry) => declared.get(key(entry.backend, entry.collection))?.has(entry.field) !== true)
      .map((entry): IndexSuggestion => ({ ...entry }))
      .sort(
        (a, b) =>
          b.filterCount + b.sortCount - (a.filterCount + a.sortCount) ||
          b.totalMs - a.totalMs ||
          (a.collection < b.collection ? -1 : a.collection > b.collection ? 1 : 0) ||
          (a.field < b.field ? -1 : a.field > b.field ? 1 : 0),
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
      entry.field,
      String(entry.filterCount),
      String(entry.sortCount),
      ms(entry.totalMs),
      entry.example,
    ]);
    sections.push(
      '',
      'Index suggestions (fields queried without a declared index)',
      table(['backend', 'collection', 'field', 'filtered', 'sorted', 'total ms', 'example'], rows, 'lllrrrl'),
    );
  }
  return sections.join('\n');
}

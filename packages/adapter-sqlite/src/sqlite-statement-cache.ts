import type { CursorPosition, FilterNode, PreparedQuery } from '@berth/core/adapter';
import type { CompiledQuery } from 'kysely';

/**
 * Compiled SQL per query shape, so a `find` that differs from an earlier one
 * only in its values neither rebuilds the query nor has kysely compile it
 * (which costs more than running a selective query). The SQL text found here
 * is the key of the connection's prepared statements, so a hit also reuses
 * the prepared statement.
 *
 * A shape is everything that may change the SQL text: the table, the filter
 * tree (kinds, nesting, paths), the sort, whether there is a cursor, the
 * limit itself (written into the SQL), and the class of every value (see {@link valueClass}; a `$in` list
 * contributes the class of each element, so its length and mix too). Values
 * of one class share the SQL; only the bound parameters differ.
 *
 * The parameters of a hit are not computed by a second copy of the compiler:
 * the second query of a shape (one-off shapes are never learnt) is compiled
 * with its own values and twice with
 * probe values of the same classes, and each bound parameter is matched to a
 * constant or to a value of the query through one of a few derivations
 * (itself, a Date's encodings, the bounds around a number). A shape whose
 * three compilations disagree in their SQL, or whose parameters match no
 * derivation, is compiled every time, as without the cache. So a compiler
 * change can make shapes uncached, never answer with another shape's SQL.
 * What the compiler must keep: its SQL text depends on a value through the
 * value's class only.
 */

/** Shapes kept per connection; past it the least recently used is dropped. */
const STATEMENT_CACHE_SIZE = 256;

/** What a compilation needs from the query: the repository passes the limit it runs with. */
export interface StatementInput {
  readonly prepared: PreparedQuery;
  readonly limit: number | undefined;
}

/** The query as SQL text and its parameters. */
export interface StatementText {
  readonly sql: string;
  readonly parameters: readonly unknown[];
}

type Recipe = { readonly constant: unknown } | { readonly leaf: number; readonly derive: (value: unknown) => unknown };

/** A learnt shape; `seen` once, not learnt yet; or `uncached`, compiled every time. */
type Entry = { readonly sql: string; readonly recipe: readonly Recipe[] } | 'seen' | 'uncached';

/**
 * The class of a value, as far as the SQL text may depend on it: null,
 * true and false are written into the SQL, a safe integer is looked up
 * exactly where other numbers are bounded, and each type has its own terms.
 */
export function valueClass(value: unknown): string {
  if (value === null || value === undefined) return 'n';
  if (value === true) return 't';
  if (value === false) return 'f';
  if (typeof value === 'number') return Number.isSafeInteger(value) ? 'i' : Number.isInteger(value) ? 'u' : 'r';
  if (typeof value === 'string') return 's';
  if (value instanceof Date) return 'd';
  return Array.isArray(value) ? 'a' : 'o';
}

/** A value of the same class as `value`, different for every `leaf` and `round`, and from any real one. */
function probe(value: unknown, leaf: number, round: number): unknown {
  const n = leaf + 1 + round * 100_003;
  switch (valueClass(value)) {
    case 'i':
      return 2 ** 45 + n * 7919;
    case 'u':
      return 2 ** 60 + n * 2 ** 12;
    case 'r':
      return n + 0.3819660112501051;
    case 's':
      return `\u0001berth-probe-${round}-${leaf}`;
    case 'd':
      return new Date(Date.UTC(2001, 0, 1) + n * 1_001);
    default:
      return value;
  }
}

/** The classes {@link probe} changes; the others are written into the SQL or bound as they are. */
const PROBED: ReadonlySet<string> = new Set(['i', 'u', 'r', 's', 'd']);

function near(value: unknown, sign: 1 | -1): unknown {
  if (typeof value !== 'number') return undefined;
  return value + sign * (Math.abs(value) * 2 ** -40 + 2 ** -1000);
}

/** The ways a bound parameter is made from a value of the query, tried in order. */
const DERIVATIONS: readonly ((value: unknown) => unknown)[] = [
  (value) => value,
  (value) => (value instanceof Date ? JSON.stringify({ $date: value.toISOString() }) : undefined),
  (value) => (value instanceof Date ? value.toISOString() : undefined),
  (value) => (value instanceof Date ? value.getTime() : undefined),
  (value) => near(value, -1),
  (value) => near(value, 1),
];

/** Walks the values of a query in a fixed order, and writes its shape. */
class ShapeWriter {
  shape = '';
  readonly leaves: unknown[] = [];

  leaf(value: unknown): void {
    this.shape += valueClass(value);
    this.leaves.push(value);
  }

  filter(node: FilterNode): void {
    switch (node.kind) {
      case 'and':
      case 'or':
        this.shape += `${node.kind}(`;
        for (const child of node.nodes) this.filter(child);
        this.shape += ')';
        return;
      case 'not':
        this.shape += 'not(';
        this.filter(node.node);
        this.shape += ')';
        return;
      case 'in':
      case 'nin':
        this.shape += `${node.kind} ${node.path.join('.')}[`;
        for (const value of node.values) this.leaf(value);
        this.shape += ']';
        return;
      default:
        this.shape += `${node.kind} ${node.path.join('.')}:`;
        this.leaf(node.value);
        this.shape += ';';
    }
  }

  query({ prepared, limit }: StatementInput): this {
    this.filter(prepared.filter);
    this.shape += '|';
    for (const key of prepared.sort) this.shape += `${key.path.join('.')} ${key.direction},`;
    this.shape += '|';
    if (prepared.after !== undefined) {
      this.shape += 'after:';
      for (const value of prepared.after.values) this.leaf(value);
      this.leaf(prepared.after.id);
    }
    // The limit is written into the SQL (see `selectQuery`): part of the shape, not a leaf.
    this.shape += `|${limit ?? '-'}|`;
    this.leaf(prepared.offset);
    return this;
  }
}

/** The query with its values replaced, in ShapeWriter's order, by `values`. */
function withValues(input: StatementInput, values: readonly unknown[]): StatementInput {
  let next = 0;
  const take = (): never => values[next++] as never;
  const filter = (node: FilterNode): FilterNode => {
    switch (node.kind) {
      case 'and':
      case 'or':
        return { kind: node.kind, nodes: node.nodes.map(filter) };
      case 'not':
        return { kind: 'not', node: filter(node.node) };
      case 'in':
      case 'nin':
        return { kind: node.kind, path: node.path, values: node.values.map(take) };
      default:
        return { ...node, value: take() };
    }
  };
  const { prepared } = input;
  const where = filter(prepared.filter);
  const after: CursorPosition | undefined =
    prepared.after === undefined ? undefined : { values: prepared.after.values.map(take), id: take() };
  return { prepared: { ...prepared, filter: where, after, offset: take() }, limit: input.limit };
}

function same(a: unknown, b: unknown): boolean {
  return Object.is(a, b) || (a instanceof Date && b instanceof Date && a.getTime() === b.getTime());
}

/** How to make each parameter of `real` from the leaves, learnt from it and two probes; undefined when unsure. */
function learn(real: LearnSample, probes: readonly LearnSample[]): Recipe[] | undefined {
  const samples = [real, ...probes];
  if (samples.some((sample) => sample.sql !== real.sql || sample.parameters.length !== real.parameters.length)) {
    return undefined;
  }
  const recipe: Recipe[] = [];
  for (let index = 0; index < real.parameters.length; index++) {
    const value = real.parameters[index];
    if (samples.every((sample) => same(sample.parameters[index], value))) {
      recipe.push({ constant: value });
      continue;
    }
    let found: Recipe | undefined;
    for (let leaf = 0; leaf < real.leaves.length && found === undefined; leaf++) {
      const derive = DERIVATIONS.find((candidate) =>
        samples.every((sample) => same(candidate(sample.leaves[leaf]), sample.parameters[index])),
      );
      if (derive !== undefined) found = { leaf, derive };
    }
    if (found === undefined) return undefined;
    recipe.push(found);
  }
  return recipe;
}

interface LearnSample {
  readonly sql: string;
  readonly parameters: readonly unknown[];
  readonly leaves: readonly unknown[];
}

/**
 * The bounded cache of compiled statements of one connection. `compile` is
 * the repository's own compilation, run on a miss.
 */
export class SqliteStatementCache {
  private readonly entries = new Map<string, Entry>();
  /** Lookups answered from the cache, and compilations (for tests and tuning). */
  hits = 0;
  misses = 0;

  constructor(readonly maxShapes: number = STATEMENT_CACHE_SIZE) {}

  /** Shapes held now. */
  get size(): number {
    return this.entries.size;
  }

  /** The SQL and parameters of `input` under `table`, from the cache or compiled. */
  statement(table: string, input: StatementInput, compile: (input: StatementInput) => CompiledQuery): StatementText {
    const writer = new ShapeWriter().query(input);
    const key = `${table}\u0000${writer.shape}`;
    const entry = this.entries.get(key);
    if (entry !== undefined) {
      this.entries.delete(key);
      this.entries.set(key, entry);
      if (typeof entry === 'object') {
        this.hits++;
        const leaves = writer.leaves;
        return {
          sql: entry.sql,
          parameters: entry.recipe.map((part) => ('constant' in part ? part.constant : part.derive(leaves[part.leaf]))),
        };
      }
    }
    this.misses++;
    const compiled = compile(input);
    // Learning costs two more compilations: only for a shape seen before,
    // so a stream of one-off shapes costs what it did without the cache.
    if (entry === 'seen') this.remember(key, input, writer.leaves, compiled, compile);
    else if (entry === undefined) this.add(key, 'seen');
    return { sql: compiled.sql, parameters: compiled.parameters };
  }

  private remember(
    key: string,
    input: StatementInput,
    leaves: readonly unknown[],
    compiled: CompiledQuery,
    compile: (input: StatementInput) => CompiledQuery,
  ): void {
    const probes: LearnSample[] = [];
    for (const round of [1, 2]) {
      const values = leaves.map((value, leaf) => probe(value, leaf, round));
      // A real value equal to its probe would hide where it is bound: learn from another query of the shape.
      if (values.some((value, leaf) => PROBED.has(valueClass(value)) && same(value, leaves[leaf]))) return;
      const probed = compile(withValues(input, values));
      probes.push({ sql: probed.sql, parameters: probed.parameters, leaves: values });
    }
    const recipe = learn({ sql: compiled.sql, parameters: compiled.parameters, leaves }, probes);
    this.entries.set(key, recipe === undefined ? 'uncached' : { sql: compiled.sql, recipe });
  }

  private add(key: string, entry: Entry): void {
    this.entries.set(key, entry);
    if (this.entries.size > this.maxShapes) {
      const oldest = this.entries.keys().next();
      if (oldest.done !== true) this.entries.delete(oldest.value);
    }
  }
}

const caches = new WeakMap<object, SqliteStatementCache>();

/** The statement cache of a connection (one per connection, made on first use). */
export function statementCacheOf(connection: object): SqliteStatementCache {
  let cache = caches.get(connection);
  if (cache === undefined) {
    cache = new SqliteStatementCache();
    caches.set(connection, cache);
  }
  return cache;
}

import { AlreadyExistsError, type CollectionInfo, type IndexDefinition, isBerthError } from '@berth/core';
import { type IndexSpec, normalizeIndexes } from '@berth/core/adapter';
import type { PgBackendContext } from './pg-context.js';
import { indexDefinition, indexName, storedDefinition } from './pg-indexes.js';
import { quoteIdent } from './pg-names.js';
import type { PgQueryable } from './pg-session.js';

/** What a backend (or an open transaction) knows exists: per collection, the index keys ensured and the state. */
export type PgKnownCollections = Map<string, { readonly keys: Set<string>; state: PgCollectionState }>;

/** What a repository knows of its table once it exists. */
export interface PgCollectionState {
  /** Schema-qualified, quoted: for SQL text. */
  readonly table: string;
  /** Single-field and compound unique indexes stored for the table (by any backend), oldest first. */
  readonly unique: readonly IndexSpec[];
}

interface StoredIndexRow {
  readonly key: string;
  readonly is_unique: boolean;
  readonly definition: IndexDefinition;
}

/**
 * Creates collection tables and their declared indexes on first use, once
 * per backend, and safely when several processes do it at once: the work
 * runs under a transaction-level advisory lock keyed by the collection, and
 * every statement is `IF NOT EXISTS`.
 */
export class PgCollections {
  private readonly known: PgKnownCollections = new Map();

  constructor(private readonly context: PgBackendContext) {}

  /** The quoted, schema-qualified table of a collection (a checked name). */
  table(name: string): string {
    return `${this.context.quotedSchema}.${quoteIdent(name)}`;
  }

  /**
   * Records what a committed transaction made sure of. Until the commit it
   * is known to that transaction only: other operations of the backend
   * cannot see its tables yet, and after a rollback they are gone.
   */
  adopt(known: PgKnownCollections): void {
    for (const [name, entry] of known) {
      const mine = this.known.get(name) ?? { keys: new Set<string>(), state: entry.state };
      mine.state = entry.state;
      for (const key of entry.keys) mine.keys.add(key);
      this.known.set(name, mine);
    }
  }

  /**
   * Makes sure the table and `indexes` exist. Outside a transaction it runs
   * in a transaction of its own; inside one, on the transaction's client,
   * where a failure rolls back to a savepoint, and it is remembered in the
   * transaction's `known` until the commit.
   */
  async ensure(
    name: string,
    indexes: readonly IndexSpec[],
    transaction?: { readonly client: PgQueryable; readonly known: PgKnownCollections },
  ): Promise<PgCollectionState> {
    const keys = (spec: IndexSpec) => `${spec.key}${spec.unique ? '!unique' : ''}`;
    const ready = (entry: { readonly keys: Set<string> } | undefined) =>
      entry !== undefined && indexes.every((spec) => entry.keys.has(keys(spec)));
    const shared = this.known.get(name);
    if (ready(shared) && shared !== undefined) return shared.state;
    const own = transaction?.known.get(name);
    if (ready(own) && own !== undefined) return own.state;
    const work = (queryable: PgQueryable) => this.create(queryable, name, indexes);
    const state =
      transaction === undefined
        ? await this.context.session.transaction(work, { isolation: 'read committed', context: { collection: name } })
        : await savepoint(transaction.client, () => work(transaction.client));
    const known = transaction?.known ?? this.known;
    const entry = known.get(name) ?? { keys: new Set<string>(), state };
    entry.state = state;
    for (const spec of indexes) entry.keys.add(keys(spec));
    known.set(name, entry);
    return state;
  }

  /**
   * Every collection of the schema whose table exists, by name (code point:
   * the registry's names are `COLLATE "C"`), with its declared indexes from
   * `_berth_indexes` (in declaration order) and `pg_total_relation_size` (table,
   * indexes and TOAST), which reads the relations' sizes, not their rows.
   */
  async list(): Promise<CollectionInfo[]> {
    const schema = this.context.quotedSchema;
    const rows = await this.context.session.query<{ name: string; bytes: string; indexes: string }>(
      `SELECT c.name, pg_total_relation_size(t.oid)::text AS bytes,
         coalesce((SELECT json_agg(i.definition ORDER BY i.declared)
           FROM ${schema}._berth_indexes i WHERE i.collection = c.name), '[]')::text AS indexes
       FROM ${schema}._berth_collections c
       CROSS JOIN LATERAL (SELECT to_regclass(quote_ident($1) || '.' || quote_ident(c.name)) AS oid) t
       WHERE t.oid IS NOT NULL ORDER BY c.name`,
      [this.context.schema],
    );
    return rows.map((row) => ({
      name: row.name,
      indexes: (JSON.parse(row.indexes) as IndexDefinition[]).map(declared),
      approximateBytes: Number(row.bytes),
    }));
  }

  private async create(client: PgQueryable, name: string, indexes: readonly IndexSpec[]): Promise<PgCollectionState> {
    const schema = this.context.quotedSchema;
    const table = this.table(name);
    await client.query('SELECT pg_advisory_xact_lock(hashtextextended($1, 0))', [
      `berth.collection.${this.context.schema}.${name}`,
    ]);
    const [found] = await client.query<{ existed: boolean }>('SELECT to_regclass($1) IS NOT NULL AS existed', [table]);
    if (found?.existed !== true) {
      // A table dropped by hand leaves its index declarations behind: they describe indexes that are gone.
      await client.query(`DELETE FROM ${schema}._berth_indexes WHERE collection = $1`, [name]);
    }
    await client.query(`CREATE TABLE IF NOT EXISTS ${table} (
      id text COLLATE "C" PRIMARY KEY,
      data jsonb NOT NULL,
      version bigint NOT NULL,
      created_at timestamptz(3) NOT NULL,
      updated_at timestamptz(3) NOT NULL
    )`);
    await client.query(`INSERT INTO ${schema}._berth_collections (name) VALUES ($1) ON CONFLICT DO NOTHING`, [name]);
    const stored = await client.query<StoredIndexRow>(
      `SELECT key, is_unique, definition FROM ${schema}._berth_indexes WHERE collection = $1 ORDER BY declared`,
      [name],
    );
    for (const spec of indexes) {
      // A unique index serves a declaration without `unique` too: declarations add up, none is dropped.
      if (stored.some((row) => row.key === spec.key && (row.is_unique || !spec.unique))) continue;
      try {
        await savepoint(client, () => client.query(indexDefinition(table, name, spec)));
      } catch (error) {
        if (!isBerthError(error, 'ALREADY_EXISTS')) throw error;
        // Named as on every adapter: the field whose values the documents already share.
        throw new AlreadyExistsError(
          `cannot declare a unique index on ${name}.${spec.field}: documents already share a value`,
          spec.field,
          { collection: name, cause: error },
        );
      }
      await client.query(
        `INSERT INTO ${schema}._berth_indexes (collection, key, is_unique, index_name, definition)
         VALUES ($1, $2, $3, $4, $5::jsonb) ON CONFLICT DO NOTHING`,
        [name, spec.key, spec.unique, indexName(name, spec), JSON.stringify(storedDefinition(spec))],
      );
      stored.push({ key: spec.key, is_unique: spec.unique, definition: storedDefinition(spec) });
    }
    const unique = normalizeIndexes(
      name,
      { indexes: stored.filter((row) => row.is_unique).map((row) => row.definition) },
      true,
    );
    return { table, unique };
  }
}

/** A stored declaration as `collections()` lists it: `unique` only when true. */
function declared(definition: IndexDefinition): IndexDefinition {
  const { unique, ...rest } = definition as IndexDefinition & { unique?: boolean };
  return (unique === true ? { ...rest, unique } : rest) as IndexDefinition;
}

/**
 * Runs `work` on a transaction's client under a savepoint: when it fails,
 * the transaction goes on as before it (PostgreSQL would otherwise refuse
 * every later statement of the transaction).
 */
export async function savepoint<R>(client: PgQueryable, work: () => Promise<R>): Promise<R> {
  await client.query('SAVEPOINT berth_step');
  let result: R;
  try {
    result = await work();
  } catch (error) {
    await client.query('ROLLBACK TO SAVEPOINT berth_step').catch(() => undefined);
    await client.query('RELEASE SAVEPOINT berth_step').catch(() => undefined);
    throw error;
  }
  await client.query('RELEASE SAVEPOINT berth_step');
  return result;
}

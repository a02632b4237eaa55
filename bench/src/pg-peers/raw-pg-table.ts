/**
 * Raw `pg` on the table shape Berth's PostgreSQL repositories use (`id text
 * COLLATE "C" PRIMARY KEY, data jsonb, version, created_at, updated_at`),
 * written as a careful user would: named (prepared) statements with bound
 * parameters, one statement per operation, the bulk insert as one
 * `INSERT … SELECT FROM unnest(…)`. It checks nothing and copies nothing,
 * so Berth's rows beside it show what the port costs.
 */
import type pg from 'pg';
import { type Hero, hero, SIZE } from '../heroes.js';
import { quotedSchema } from './pg-database.js';

/** The expression a number index is built on, and the one the indexed find filters on, so the planner uses it. */
const levelExpression = "((data ->> 'level')::float8)";

export class RawPgTable {
  private readonly table: string;
  private readonly statement: (suffix: string) => string;

  constructor(
    private readonly pool: pg.Pool,
    schema: string,
    private readonly name: string,
  ) {
    if (!/^[a-z_]+$/.test(name)) throw new Error(`not a benchmark table name: ${JSON.stringify(name)}`);
    this.table = `${quotedSchema(schema)}."${name}"`;
    // Statement names are per connection; the schema keeps two runs' tables apart.
    this.statement = (suffix) => `${schema}_${name}_${suffix}`;
  }

  async create(): Promise<void> {
    await this.pool.query(`CREATE TABLE ${this.table} (
      id text COLLATE "C" PRIMARY KEY,
      data jsonb NOT NULL,
      version integer NOT NULL,
      created_at timestamptz(3) NOT NULL,
      updated_at timestamptz(3) NOT NULL
    )`);
    await this.pool.query(`CREATE INDEX "${this.name}_level" ON ${this.table} (${levelExpression})`);
  }

  async get(id: string): Promise<Hero | null> {
    const { rows } = await this.pool.query<{ data: Hero }>({
      name: this.statement('get'),
      text: `SELECT data FROM ${this.table} WHERE id = $1`,
      values: [id],
    });
    return rows[0]?.data ?? null;
  }

  async insert(document: Hero): Promise<void> {
    await this.pool.query({
      name: this.statement('insert'),
      text: `INSERT INTO ${this.table} (id, data, version, created_at, updated_at) VALUES ($1, $2, 1, now(), now())`,
      values: [document.id, JSON.stringify(document)],
    });
  }

  /** `level + 1` in one statement, returning the new document. */
  async increment(id: string): Promise<Hero> {
    const { rows } = await this.pool.query<{ data: Hero }>({
      name: this.statement('increment'),
      text: `UPDATE ${this.table}
        SET data = jsonb_set(data, '{level}', to_jsonb((data ->> 'level')::float8 + 1)),
            version = version + 1, updated_at = now()
        WHERE id = $1 RETURNING data`,
      values: [id],
    });
    const row = rows[0];
    if (row === undefined) throw new Error(`missing ${id}`);
    return row.data;
  }

  async findByLevel(level: number): Promise<Hero[]> {
    const { rows } = await this.pool.query<{ data: Hero }>({
      name: this.statement('level'),
      text: `SELECT data FROM ${this.table} WHERE ${levelExpression} = $1 ORDER BY id`,
      values: [level],
    });
    return rows.map((row) => row.data);
  }

  /** One multi-row insert of all of them. */
  async insertMany(documents: readonly Hero[]): Promise<void> {
    await this.pool.query(
      `INSERT INTO ${this.table} (id, data, version, created_at, updated_at)
       SELECT id, data, 1, now(), now() FROM unnest($1::text[], $2::jsonb[]) AS rows (id, data)`,
      [documents.map((document) => document.id), documents.map((document) => JSON.stringify(document))],
    );
  }

  async clear(): Promise<void> {
    await this.pool.query(`TRUNCATE ${this.table}`);
  }

  /** The SIZE heroes the read and update suites use. */
  async fill(): Promise<void> {
    await this.clear();
    await this.insertMany(Array.from({ length: SIZE }, (_, i) => hero(i)));
    await this.pool.query(`ANALYZE ${this.table}`);
  }
}

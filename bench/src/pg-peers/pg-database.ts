/**
 * The PostgreSQL server the benchmarks run on, and the schemas they make
 * there: each run works in fresh schemas of its own and drops them after.
 */
import pg from 'pg';

/** `BERTH_POSTGRES_URL`, or the local server the tests use. */
export function postgresUrl(): string {
  return process.env.BERTH_POSTGRES_URL ?? 'postgres://postgres@127.0.0.1:5432/test';
}

/** A schema name the benchmarks made: lower-case letters, digits and `_` only, so it is safe in SQL text. */
const SCHEMA_NAME = /^bench_[a-z0-9_]{1,50}$/;

/** `"name"`, after checking the name is one of ours. */
export function quotedSchema(schema: string): string {
  if (!SCHEMA_NAME.test(schema)) throw new Error(`not a benchmark schema name: ${JSON.stringify(schema)}`);
  return `"${schema}"`;
}

/** Fresh schemas on one server, all dropped by `dropAll()`. */
export class BenchSchemas {
  private readonly made: string[] = [];
  private readonly tag = `${process.pid}_${Date.now().toString(36)}`;
  readonly pool: pg.Pool;

  constructor(readonly url: string = postgresUrl()) {
    this.pool = new pg.Pool({ connectionString: url, max: 2 });
  }

  /** Checks the server answers; the error says how to start it. */
  async reachable(): Promise<void> {
    try {
      await this.pool.query('SELECT 1');
    } catch (error) {
      throw new Error(
        `PostgreSQL does not answer at ${this.url} (${(error as Error).message}): start it ` +
          '(`pg_ctlcluster --skip-systemctl-redirect $(ls /etc/postgresql) main start`) or set BERTH_POSTGRES_URL',
        { cause: error },
      );
    }
  }

  /** A new schema name (not created: each library creates its own schema). */
  next(label: string): string {
    // pg-boss takes schema names of at most 50 bytes: a short label, the run's tag, a counter.
    const short = label
      .toLowerCase()
      .replace(/[^a-z0-9]+/g, '_')
      .slice(0, 16);
    const schema = `bench_${short}_${this.tag}_${this.made.length}`;
    quotedSchema(schema);
    this.made.push(schema);
    return schema;
  }

  /** A new schema, created. */
  async create(label: string): Promise<string> {
    const schema = this.next(label);
    await this.pool.query(`CREATE SCHEMA ${quotedSchema(schema)}`);
    return schema;
  }

  async drop(schema: string): Promise<void> {
    await this.pool.query(`DROP SCHEMA IF EXISTS ${quotedSchema(schema)} CASCADE`);
  }

  /** Drops every schema this object named, and closes its pool. */
  async dropAll(): Promise<void> {
    try {
      for (const schema of this.made.splice(0)) await this.drop(schema);
    } finally {
      await this.pool.end();
    }
  }

  /** `server_version` and `synchronous_commit`, for the report. */
  async describe(): Promise<{ readonly version: string; readonly synchronousCommit: string }> {
    const { rows } = await this.pool.query<{ version: string; sync: string }>(
      "SELECT current_setting('server_version') AS version, current_setting('synchronous_commit') AS sync",
    );
    return { version: rows[0]?.version ?? 'unknown', synchronousCommit: rows[0]?.sync ?? 'unknown' };
  }
}

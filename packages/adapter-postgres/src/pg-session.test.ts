import { isBerthError } from '@berth/core';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { dropSchemas, POSTGRES_URL, requirePostgres, uniqueSchema } from './fixtures/pg-test-database.js';
import { type PgMigration, runMigrations } from './pg-migrations.js';
import { checkSchemaName, quoteIdent } from './pg-names.js';
import { PgSession } from './pg-session.js';

const schemas: string[] = [];
const sessions: PgSession[] = [];

function session(options: pg.PoolConfig = {}): PgSession {
  const opened = new PgSession(new pg.Pool({ connectionString: POSTGRES_URL, max: 4, ...options }), true);
  sessions.push(opened);
  return opened;
}

function schema(label: string): string {
  const name = uniqueSchema(label);
  schemas.push(name);
  return name;
}

beforeAll(requirePostgres);
afterAll(async () => {
  await Promise.all(sessions.map((opened) => opened.close()));
  await dropSchemas(schemas);
});

describe('PgSession errors', () => {
  it('maps a statement timeout to a retryable TIMEOUT', async () => {
    const error = await session({ statement_timeout: 50 })
      .query('SELECT pg_sleep(1)')
      .catch((caught: unknown) => caught);
    expect(isBerthError(error, 'TIMEOUT')).toBe(true);
    expect((error as { retryable?: boolean }).retryable).toBe(true);
  });

  it('maps a unique violation to ALREADY_EXISTS and a bad value to VALIDATION', async () => {
    const db = session();
    const name = quoteIdent(schema('unique'));
    await db.query(`CREATE SCHEMA ${name}`);
    await db.query(`CREATE TABLE ${name}.t (id text PRIMARY KEY)`);
    await db.query(`INSERT INTO ${name}.t VALUES ($1)`, ['a']);
    const twice = await db.query(`INSERT INTO ${name}.t VALUES ($1)`, ['a']).catch((caught: unknown) => caught);
    expect(isBerthError(twice, 'ALREADY_EXISTS')).toBe(true);
    expect((twice as { field?: string }).field).toBe('id');
    const nul = await db.query(`INSERT INTO ${name}.t VALUES ($1)`, ['a\0b']).catch((caught: unknown) => caught);
    expect(isBerthError(nul, 'VALIDATION')).toBe(true);
  });

  it('maps a serialization failure to a retryable CONFLICT and rolls the loser back', async () => {
    const db = session();
    const name = quoteIdent(schema('serial'));
    await db.query(`CREATE SCHEMA ${name}`);
    await db.query(`CREATE TABLE ${name}.t (id text PRIMARY KEY, n integer NOT NULL)`);
    await db.query(`INSERT INTO ${name}.t VALUES ('a', 0)`);
    let release: () => void = () => {};
    const read = new Promise<void>((resolve) => {
      release = resolve;
    });
    const first = db.transaction(
      async (client) => {
        await client.query(`SELECT n FROM ${name}.t WHERE id = 'a'`);
        await read;
        await client.query(`UPDATE ${name}.t SET n = n + 1 WHERE id = 'a'`);
      },
      { isolation: 'serializable' },
    );
    const second = db.transaction(
      async (client) => {
        await client.query(`SELECT n FROM ${name}.t WHERE id = 'a'`);
        await client.query(`UPDATE ${name}.t SET n = n + 10 WHERE id = 'a'`);
      },
      { isolation: 'serializable' },
    );
    await second;
    release();
    const error = await first.catch((caught: unknown) => caught);
    expect(isBerthError(error, 'CONFLICT')).toBe(true);
    expect((error as { retryable?: boolean }).retryable).toBe(true);
    expect(await db.query(`SELECT n FROM ${name}.t`)).toEqual([{ n: 10 }]);
  });

  it('maps a refused connection to a retryable CONNECTION error', async () => {
    const error = await session({ connectionString: 'postgres://postgres@127.0.0.1:1/test' })
      .query('SELECT 1')
      .catch((caught: unknown) => caught);
    expect(isBerthError(error, 'CONNECTION')).toBe(true);
  });
});

describe('runMigrations', () => {
  const migrations: PgMigration[] = [
    { version: 1, name: 'first', statements: (s) => [`CREATE TABLE ${s}.a (id text PRIMARY KEY)`] },
    { version: 2, name: 'second', statements: (s) => [`CREATE TABLE ${s}.b (id text PRIMARY KEY)`] },
  ];

  it('applies each step once when several processes migrate at once', async () => {
    const name = schema('migrate');
    const results = await Promise.all(
      [session(), session(), session()].map((db) => runMigrations(db, name, migrations)),
    );
    expect(results.flat().sort()).toEqual([1, 2]);
    expect(await runMigrations(session(), name, migrations)).toEqual([]);
    const rows = await session().query(
      `SELECT version, name FROM ${quoteIdent(name)}._berth_migrations ORDER BY version`,
    );
    expect(rows).toEqual([
      { version: 1, name: 'first' },
      { version: 2, name: 'second' },
    ]);
  });

  it('leaves nothing half-applied when a step fails', async () => {
    const name = schema('halfway');
    const failing: PgMigration[] = [
      ...migrations,
      {
        version: 3,
        name: 'broken',
        statements: (s) => [`CREATE TABLE ${s}.c (id text)`, 'SELECT * FROM no_such_table'],
      },
    ];
    await expect(runMigrations(session(), name, failing)).rejects.toThrow(/no_such_table/);
    const tables = await session().query(`SELECT table_name FROM information_schema.tables WHERE table_schema = $1`, [
      name,
    ]);
    expect(tables).toEqual([]);
  });

  it('checks schema names before they reach SQL', () => {
    for (const bad of ['', 'A', 'x"; DROP SCHEMA public; --', 'pg_catalog', '1abc', 'a'.repeat(64), 'é', 'a b'])
      expect(() => checkSchemaName(bad)).toThrow(/schema must be/);
    expect(checkSchemaName('berth_app')).toBe('berth_app');
    expect(quoteIdent('we"ird')).toBe('"we""ird"');
  });
});

import { isBerthError } from '@berth/core';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { dropSchemas, POSTGRES_URL, requirePostgres, uniqueSchema } from './fixtures/pg-test-database.js';
import { leavesSessionUsable } from './pg-errors.js';
import { type PgMigration, runMigrations } from './pg-migrations.js';
import { checkSchemaName, quoteIdent } from './pg-names.js';
import { PgSession } from './pg-session.js';
import { queryPrepared, statementName } from './pg-statements.js';

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

/** The releases of a session's pool: `true` for each client destroyed (released with an error), `false` for each kept. */
function releases(db: PgSession): boolean[] {
  const seen: boolean[] = [];
  db.pool.on('release', (error: Error | boolean | undefined) => {
    seen.push(Boolean(error));
  });
  return seen;
}

async function backendPid(db: PgSession): Promise<number> {
  const [row] = await db.query<{ pid: number }>('SELECT pg_backend_pid() AS pid');
  return row?.pid as number;
}

/** Waits until the server shows `pid` running a statement that contains `text`. */
async function waitUntilRunning(admin: PgSession, pid: number, text: string): Promise<void> {
  for (let tries = 0; tries < 600; tries += 1) {
    const [row] = await admin.query(
      `SELECT 1 FROM pg_stat_activity WHERE pid = $1 AND state = 'active' AND query LIKE $2`,
      [pid, `%${text}%`],
    );
    if (row !== undefined) return;
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  throw new Error(`backend ${pid} never ran ${text}`);
}

describe('PgSession connections after a failed statement', () => {
  it('a statement the server refuses leaves its connection, and what is prepared on it, in the pool', async () => {
    const db = session({ max: 1 });
    const name = quoteIdent(schema('reuse'));
    await db.query(`CREATE SCHEMA ${name}`);
    await db.query(`CREATE TABLE ${name}.t (id text PRIMARY KEY)`);
    const insert = `INSERT INTO ${name}.t VALUES ($1)`;
    await queryPrepared(db, insert, ['a'], {});
    let connects = 0;
    db.pool.on('connect', () => {
      connects += 1;
    });
    const released = releases(db);
    const pid = await backendPid(db);

    const twice = await queryPrepared(db, insert, ['a'], {}).catch((caught: unknown) => caught);
    expect(isBerthError(twice, 'ALREADY_EXISTS'), String(twice)).toBe(true);
    expect(leavesSessionUsable((twice as Error).cause)).toBe(true);
    const unprepared = await db.query(insert, ['a']).catch((caught: unknown) => caught);
    expect(isBerthError(unprepared, 'ALREADY_EXISTS'), String(unprepared)).toBe(true);
    const nul = await db.query(insert, ['a\0b']).catch((caught: unknown) => caught);
    expect(isBerthError(nul, 'VALIDATION'), String(nul)).toBe(true);
    const cancelled = await db
      .query(`SET statement_timeout = 50; SELECT pg_sleep(10)`)
      .catch((caught: unknown) => caught);
    expect(isBerthError(cancelled, 'TIMEOUT'), String(cancelled)).toBe(true);
    await db.query('RESET statement_timeout');

    // The statement prepared before the failures is still prepared on the same backend, and runs.
    await queryPrepared(db, insert, ['b'], {});
    const [prepared] = await db.query<{ count: number }>(
      'SELECT count(*)::int AS count FROM pg_prepared_statements WHERE name = $1',
      [statementName(insert)],
    );
    expect(prepared?.count).toBe(1);
    expect(await backendPid(db)).toBe(pid);
    expect(connects).toBe(0);
    expect(
      released.every((destroyed) => !destroyed),
      String(released),
    ).toBe(true);
  });

  it('a connection whose server process was terminated during a statement is destroyed; the next statement gets a new one', async () => {
    const db = session({ max: 1 });
    const admin = session({ max: 1 });
    const released = releases(db);
    const pid = await backendPid(db);
    const sleeping = db.query('SELECT pg_sleep(60)').catch((caught: unknown) => caught);
    await waitUntilRunning(admin, pid, 'pg_sleep(60)');
    await admin.query('SELECT pg_terminate_backend($1)', [pid]);
    const error = await sleeping;
    expect(isBerthError(error, 'CONNECTION'), String(error)).toBe(true);
    // The server reports why (57P01, FATAL) before it closes the socket; that report alone marks the session ended.
    const cause = (error as Error).cause as { code?: string };
    expect(cause.code).toBe('57P01');
    expect(leavesSessionUsable(cause)).toBe(false);
    expect(released.at(-1), 'the terminated client went back to the pool').toBe(true);
    const next = await backendPid(db);
    expect(next).not.toBe(pid);
  });

  it('a statement that pg gave up on (query_timeout, on the client side) destroys its connection', async () => {
    const db = session({ max: 1, query_timeout: 300 });
    const admin = session({ max: 1 });
    const released = releases(db);
    const pid = await backendPid(db);
    try {
      const error = await db.query('SELECT pg_sleep(30)').catch((caught: unknown) => caught);
      expect(isBerthError(error, 'TIMEOUT'), String(error)).toBe(true);
      expect(String((error as Error).cause)).toMatch(/Query read timeout/);
      expect(released.at(-1), 'the client whose statement still runs went back to the pool').toBe(true);
      // Not queued behind the sleep that still runs on the old connection.
      expect(await backendPid(db)).not.toBe(pid);
    } finally {
      await admin.query('SELECT pg_terminate_backend($1)', [pid]);
    }
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

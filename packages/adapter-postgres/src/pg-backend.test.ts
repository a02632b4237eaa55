import { createBackend, isBerthError } from '@berth/core';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { dropSchemas, POSTGRES_URL, requirePostgres, uniqueSchema } from './fixtures/pg-test-database.js';
import { createBackendFromUrl, PostgresBackend } from './pg-backend.js';

const schemas: string[] = [];
function schema(label: string): string {
  const name = uniqueSchema(label);
  schemas.push(name);
  return name;
}

beforeAll(requirePostgres);
afterAll(() => dropSchemas(schemas));

describe('PostgresBackend', () => {
  it('creates its schema and migration table on connect, and reports health', async () => {
    const name = schema('connect');
    await using backend = new PostgresBackend({ connectionString: POSTGRES_URL, schema: name });
    await backend.connect();
    const rows = await backend
      .native()
      .query('SELECT table_name FROM information_schema.tables WHERE table_schema = $1', [name]);
    expect(rows.rows.map((row) => row.table_name)).toContain('_berth_migrations');
    const health = await backend.health();
    expect(health.ok).toBe(true);
    await backend.close();
    expect((await backend.health()).ok).toBe(false);
    const error = await backend.connect().catch((caught: unknown) => caught);
    expect(isBerthError(error, 'CONNECTION')).toBe(true);
  });

  it('leaves a pool it was given open', async () => {
    const pool = new pg.Pool({ connectionString: POSTGRES_URL, max: 2 });
    const backend = new PostgresBackend({ pool, schema: schema('pool') });
    await backend.connect();
    await backend.close();
    expect((await pool.query('SELECT 1 AS one')).rows).toEqual([{ one: 1 }]);
    await pool.end();
  });

  it('is found by createBackend from a postgres URL, with the schema as a parameter', async () => {
    const name = schema('url');
    const backend = await createBackend(`${POSTGRES_URL}?schema=${name}`, { adapters: [await import('./index.js')] });
    expect(backend.kind).toBe('postgres');
    await backend.connect();
    await backend.close();
    const direct = createBackendFromUrl(`postgresql://postgres@127.0.0.1:5432/test?schema=${name}`);
    expect(direct.kind).toBe('postgres');
    await direct.close();
  });

  it('refuses bad configuration with VALIDATION errors', () => {
    for (const config of [
      {},
      { connectionString: POSTGRES_URL, schema: 'x"; DROP SCHEMA public; --' },
      { connectionString: POSTGRES_URL, maxConnections: 0 },
      { connectionString: POSTGRES_URL, statementTimeoutMs: -1 },
      { connectionString: POSTGRES_URL, maxDocumentBytes: 2 ** 40 },
    ]) {
      const error = (() => {
        try {
          new PostgresBackend(config);
        } catch (caught) {
          return caught;
        }
      })();
      expect(isBerthError(error, 'VALIDATION')).toBe(true);
    }
    expect(() => createBackendFromUrl('postgres://[bad')).toThrow(/not a PostgreSQL URL/);
  });

  it('fails a connect to an unreachable server with a retryable CONNECTION error, and connects later', async () => {
    const backend = new PostgresBackend({
      connectionString: 'postgres://postgres@127.0.0.1:1/test',
      connectionTimeoutMs: 1_000,
    });
    const error = await backend.connect().catch((caught: unknown) => caught);
    expect(isBerthError(error, 'CONNECTION')).toBe(true);
    expect((error as { retryable?: boolean }).retryable).toBe(true);
    await backend.close();
  });
});

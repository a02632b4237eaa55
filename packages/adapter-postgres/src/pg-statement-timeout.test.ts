// statementTimeoutMs: a statement that runs longer (here: waiting for a row
// lock another connection holds) is cancelled by the server (SQLSTATE
// 57014) and rejects with a retryable TIMEOUT; the connection stays usable,
// and stays in the pool.
import { type Document, isBerthError } from '@berth/core';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { dropSchemas, POSTGRES_URL, requirePostgres, uniqueSchema } from './fixtures/pg-test-database.js';
import { PostgresBackend } from './pg-backend.js';

const schema = uniqueSchema('statement_timeout');
const backend = new PostgresBackend({ connectionString: POSTGRES_URL, schema, statementTimeoutMs: 300 });
const locker = new pg.Client({ connectionString: POSTGRES_URL });

beforeAll(async () => {
  await requirePostgres();
  await locker.connect();
});
afterAll(async () => {
  await locker.end();
  await backend.close();
  await dropSchemas([schema]);
});

async function expectTimeout(what: string, promise: Promise<unknown>): Promise<void> {
  const error = await promise.then(
    () => expect.unreachable(`${what} finished while the row was locked`),
    (caught: unknown) => caught,
  );
  expect(isBerthError(error, 'TIMEOUT'), `${what} rejected with ${String(error)}`).toBe(true);
  expect((error as { retryable?: unknown }).retryable).toBe(true);
  expect(((error as { cause?: { code?: unknown } }).cause as { code?: unknown }).code).toBe('57014');
}

describe('PostgresBackend statementTimeoutMs', () => {
  it('rejects a statement that runs too long with a retryable TIMEOUT', async () => {
    const users = backend.repository<Document & { n: number }>('users');
    const queue = backend.queue<{ n: number }>('jobs');
    await users.insert({ id: 'a', n: 1 });
    const { id } = await queue.enqueue({ n: 1 });

    let connects = 0;
    backend.native().on('connect', () => {
      connects += 1;
    });
    await locker.query('BEGIN');
    await locker.query(`SELECT 1 FROM "${schema}".users WHERE id = 'a' FOR UPDATE`);
    await locker.query(`SELECT 1 FROM "${schema}"._berth_jobs WHERE id = $1 FOR UPDATE`, [id]);
    try {
      await expectTimeout('update', users.update('a', { n: 2 }));
      await expectTimeout('cancel', queue.cancel(id));
    } finally {
      await locker.query('ROLLBACK');
    }

    // The same pool goes on once the lock is gone.
    expect(await users.update('a', { n: 3 })).toMatchObject({ n: 3 });
    expect(await queue.cancel(id)).toBe(true);
    // A cancelled statement's connection went back to the pool: none was opened since.
    expect(connects).toBe(0);
  });
});

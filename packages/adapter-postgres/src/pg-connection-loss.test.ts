// One connection of the pool dies (its server process terminated with
// pg_terminate_backend, as an administrator or a failover would) while the
// server stays up: the shared server is fine for this, only our own
// connections are terminated.
import { type Document, isBerthError } from '@berth/core';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { dropSchemas, POSTGRES_URL, requirePostgres, uniqueSchema } from './fixtures/pg-test-database.js';
import { PostgresBackend } from './pg-backend.js';
import { channelOf } from './queue/pg-queue-listener.js';

const schemas: string[] = [];
const backends: PostgresBackend[] = [];
const admin = new pg.Client({ connectionString: POSTGRES_URL });

beforeAll(async () => {
  await requirePostgres();
  await admin.connect();
});
afterAll(async () => {
  await Promise.all(backends.map((backend) => backend.close()));
  await admin.end();
  await dropSchemas(schemas);
});

function open(schema: string): PostgresBackend {
  const backend = new PostgresBackend({ connectionString: POSTGRES_URL, schema });
  backends.push(backend);
  return backend;
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

describe('PostgresBackend when a connection dies', () => {
  it('a transaction whose connection dies rejects with a retryable CONNECTION error, and the pool goes on', async () => {
    const schema = uniqueSchema('tx_killed');
    schemas.push(schema);
    const backend = open(schema);
    const users = backend.repository<Document & { n: number }>('users');
    await users.insert({ id: 'a', n: 1 });
    const transaction = backend.transaction(async (tx) => {
      const inside = tx.repository<Document & { n: number }>('users');
      await inside.insert({ id: 'b', n: 2 });
      // Our own connection's server process, found by the transaction's advisory lock.
      await admin.query(
        `SELECT pg_terminate_backend(pid) FROM pg_locks WHERE locktype = 'advisory' AND granted
           AND pid <> pg_backend_pid() AND pid IN (SELECT pid FROM pg_stat_activity WHERE datname = current_database())
           AND objid = (hashtextextended($1, 0) & x'ffffffff'::bigint)::oid`,
        [`berth.transaction.${schema}`],
      );
      // pg emits 'error' on the held client now; unhandled, it would crash the process.
      await sleep(200);
      await inside.insert({ id: 'c', n: 3 });
    });
    const error = await transaction.then(
      () => expect.unreachable('the transaction committed on a dead connection'),
      (caught: unknown) => caught,
    );
    expect(isBerthError(error, 'CONNECTION'), String(error)).toBe(true);
    expect((error as { retryable?: unknown }).retryable).toBe(true);
    expect(await users.get('b')).toBeNull();
    await backend.transaction(async (tx) => {
      await tx.repository<Document & { n: number }>('users').insert({ id: 'd', n: 4 });
    });
    expect((await users.find({})).map((user) => user.id)).toStrictEqual(['a', 'd']);
  });

  it('the listening connection dies: it listens again, and NOTIFY wakes the workers', async () => {
    const schema = uniqueSchema('listen_killed');
    schemas.push(schema);
    const channel = channelOf(schema);
    const listenerPid = async (): Promise<number | undefined> => {
      const { rows } = await admin.query<{ pid: number }>(
        `SELECT pid FROM pg_stat_activity WHERE query = $1 AND state = 'idle'`,
        [`LISTEN ${channel}`],
      );
      return rows[0]?.pid;
    };
    const workers = open(schema);
    // Another backend (its own pool) enqueues: its jobs reach the worker only through NOTIFY.
    const producer = open(schema).queue<{ n: number }>('jobs');
    await producer.stats();
    const handled: number[] = [];
    const worker = workers.queue<{ n: number }>('jobs').work(
      async (job) => {
        handled.push(job.payload.n);
      },
      // Polls only every 10 minutes: within the test, only a notification wakes it.
      { pollIntervalMs: 600_000, onError: () => {} },
    );
    try {
      let first: number | undefined;
      for (let tries = 0; first === undefined && tries < 600; tries += 1) {
        first = await listenerPid();
        if (first === undefined) await sleep(50);
      }
      expect(first, 'the worker never started listening').toBeDefined();
      await producer.enqueue({ n: 1 });
      while (handled.length < 1) await sleep(10);

      await admin.query('SELECT pg_terminate_backend($1)', [first]);
      let second: number | undefined;
      for (let tries = 0; (second === undefined || second === first) && tries < 600; tries += 1) {
        second = await listenerPid();
        if (second === undefined || second === first) await sleep(50);
      }
      expect(second, 'the worker never listened again').not.toBe(first);
      expect(second).toBeDefined();
      await producer.enqueue({ n: 2 });
      const deadline = Date.now() + 30_000;
      while (handled.length < 2 && Date.now() < deadline) await sleep(10);
      expect(handled).toStrictEqual([1, 2]);
    } finally {
      await worker.close();
    }
  });
});

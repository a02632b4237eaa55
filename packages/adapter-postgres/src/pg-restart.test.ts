// The server restarting under a running backend: calls made while it is down
// fail fast with a retryable CONNECTION error, and everything recovers by
// itself once it is back. This file runs its own server (see the fixture):
// the shared one serves other test files meanwhile.
import { type Document, isBerthError, type Worker } from '@berth/core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type PrivateServer, type ShutdownMode, startPrivateServer } from './fixtures/pg-private-server.js';
import { uniqueSchema } from './fixtures/pg-test-database.js';
import { PostgresBackend } from './pg-backend.js';

let server: PrivateServer;
const backends: PostgresBackend[] = [];

beforeAll(async () => {
  server = await startPrivateServer();
}, 120_000);

afterAll(async () => {
  await Promise.all(backends.map((backend) => backend.close().catch(() => undefined)));
  await server?.destroy();
}, 60_000);

function open(label: string, schema = uniqueSchema(label)): PostgresBackend {
  const backend = new PostgresBackend({ connectionString: server.url, schema, connectionTimeoutMs: 5_000 });
  backends.push(backend);
  return backend;
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** Waits for `promise` to reject, failing (instead of hanging) after 30 s. */
async function rejection(what: string, promise: Promise<unknown>): Promise<unknown> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const hung = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what} neither resolved nor rejected within 30 s`)), 30_000);
  });
  try {
    await Promise.race([promise, hung]);
  } catch (error) {
    return error;
  } finally {
    clearTimeout(timer);
  }
  return expect.unreachable(`${what} succeeded while the server was down`);
}

async function expectRetryableConnection(what: string, promise: Promise<unknown>): Promise<void> {
  const error = await rejection(what, promise);
  expect(isBerthError(error, 'CONNECTION'), `${what} rejected with ${String(error)}`).toBe(true);
  expect((error as { retryable?: unknown }).retryable, what).toBe(true);
}

const MODES: readonly ShutdownMode[] = ['fast', 'immediate'];

describe.each(MODES)('PostgresBackend when the server stops (%s) and starts again', (mode) => {
  it('rejects calls with a retryable CONNECTION error while it is down, and recovers by itself', async () => {
    const backend = open(`outage_${mode}`);
    const users = backend.repository<Document & { n: number }>('users');
    const queue = backend.queue<{ n: number }>('jobs');
    await users.insert({ id: 'a', n: 1 });
    const { id: jobId } = await queue.enqueue({ n: 1 });
    // Several idle connections in the pool, each of which the server drops.
    await Promise.all(Array.from({ length: 6 }, () => users.get('a')));

    // A transaction holding its client (checked out of the pool) when the server goes.
    let entered: () => void = () => {};
    let resume: () => void = () => {};
    const inside = new Promise<void>((resolve) => {
      entered = resolve;
    });
    const paused = new Promise<void>((resolve) => {
      resume = resolve;
    });
    const transaction = backend.transaction(async (tx) => {
      await tx.repository<Document & { n: number }>('users').insert({ id: 'tx', n: 2 });
      entered();
      await paused;
      await tx.repository<Document & { n: number }>('users').insert({ id: 'tx2', n: 3 });
    });
    await inside;

    await server.stop(mode);
    resume();
    await expectRetryableConnection('the open transaction', transaction);
    await expectRetryableConnection('get', users.get('a'));
    await expectRetryableConnection('insert', users.insert({ id: 'b', n: 2 }));
    await expectRetryableConnection('find', users.find({ where: { n: 1 } }));
    await expectRetryableConnection('transaction', backend.transaction(async (tx) => tx.repository('users').get('a')));
    await expectRetryableConnection('enqueue', queue.enqueue({ n: 2 }));
    await expectRetryableConnection('dequeue', queue.dequeue());
    await expectRetryableConnection('queue get', queue.get(jobId));
    await expectRetryableConnection('stats', queue.stats());
    expect((await backend.health()).ok).toBe(false);

    await server.start();
    // The first call after the restart succeeds: the pool dropped its dead connections.
    expect(await users.get('a')).toMatchObject({ id: 'a', n: 1 });
    expect(await users.get('tx')).toBeNull();
    expect(await users.get('b')).toBeNull();
    expect((await backend.health()).ok).toBe(true);
    const lease = await queue.dequeue();
    expect(lease?.job.id).toBe(jobId);
    await queue.complete(lease as NonNullable<typeof lease>);
    await backend.transaction(async (tx) => {
      await tx.repository<Document & { n: number }>('users').insert({ id: 'after', n: 4 });
    });
    expect(await users.count()).toBe(2);
  }, 120_000);
});

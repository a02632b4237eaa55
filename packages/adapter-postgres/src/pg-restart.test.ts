// The server restarting under a running backend: calls made while it is down
// fail fast with a retryable CONNECTION error, and everything recovers by
// itself once it is back. This file runs its own server (see the fixture):
// the shared one serves other test files meanwhile.
import { type Document, isBerthError, type Worker } from '@berth/core';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { type PrivateServer, type ShutdownMode, startPrivateServer } from './fixtures/pg-private-server.js';
import { uniqueSchema } from './fixtures/pg-test-database.js';
import { PostgresBackend } from './pg-backend.js';

let server: PrivateServer;
const backends: PostgresBackend[] = [];

beforeAll(async () => {
  server = await startPrivateServer();
}, 120_000);

// A case that failed while the server was down leaves it up for the next.
afterEach(async () => {
  if (!server.running) await server.start();
}, 120_000);

afterAll(async () => {
  await Promise.all(backends.map((backend) => backend.close().catch(() => undefined)));
  await server?.destroy();
}, 60_000);

function open(label: string, schema = uniqueSchema(label), url = server.url): PostgresBackend {
  const backend = new PostgresBackend({ connectionString: url, schema, connectionTimeoutMs: 5_000 });
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

    // The same server through its socket file, which is gone while it is down.
    const bySocket = open(`socket_${mode}`, undefined, server.socketUrl).repository('users');
    await bySocket.insert({ id: 's' });

    await server.stop(mode);
    resume();
    await expectRetryableConnection('the open transaction', transaction);
    await expectRetryableConnection('get through the socket', bySocket.get('s'));
    await expectRetryableConnection('get', users.get('a'));
    await expectRetryableConnection('insert', users.insert({ id: 'b', n: 2 }));
    await expectRetryableConnection('find', users.find({ where: { n: 1 } }));
    await expectRetryableConnection(
      'transaction',
      backend.transaction(async (tx) => tx.repository('users').get('a')),
    );
    await expectRetryableConnection('enqueue', queue.enqueue({ n: 2 }));
    await expectRetryableConnection('dequeue', queue.dequeue());
    await expectRetryableConnection('queue get', queue.get(jobId));
    await expectRetryableConnection('stats', queue.stats());
    expect((await backend.health()).ok).toBe(false);

    await server.start();
    // The first call after the restart succeeds: the pool dropped its dead connections.
    expect(await users.get('a')).toMatchObject({ id: 'a', n: 1 });
    expect(await users.get('tx')).toBeNull();
    expect(await bySocket.get('s')).toMatchObject({ id: 's' });
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

  it('a worker closed while it is down returns after closeTimeoutMs; what it could not settle runs again', async () => {
    const backend = open(`close_${mode}`);
    const queue = backend.queue<{ n: number }>('jobs');
    const ids = (await queue.enqueueMany(Array.from({ length: 4 }, (_, n) => ({ payload: { n } })))).map(
      (result) => result.id,
    );
    let started = 0;
    let finish: () => void = () => {};
    const gate = new Promise<void>((resolve) => {
      finish = resolve;
    });
    const worker = queue.work(
      async () => {
        started += 1;
        await gate;
      },
      { concurrency: 4, leaseMs: 2_000, closeTimeoutMs: 1_000, pollIntervalMs: 50, onError: () => {} },
    );
    while (started < 4) await sleep(5);
    await server.stop(mode);
    // The handlers finish; their completions cannot reach the server.
    finish();
    await sleep(100);
    const closing = worker.close().then(() => 'closed' as const);
    const outcome = await Promise.race([closing, sleep(20_000).then(() => 'still closing' as const)]);
    expect(outcome).toBe('closed');

    await server.start();
    // Not settled: the leases expire and the jobs are delivered again.
    const again = queue.work(async () => {}, { concurrency: 4, pollIntervalMs: 50 });
    try {
      await waitForCompleted(queue, 4, 60_000);
    } finally {
      await again.close();
    }
    for (const id of ids) expect((await queue.get(id))?.attempts).toBe(2);
  }, 120_000);

  it('an outage longer than the lease: the jobs in flight run again, each still completes once', async () => {
    const backend = open(`long_${mode}`);
    const queue = backend.queue<{ n: number }>('jobs');
    const ids = (await queue.enqueueMany(Array.from({ length: 20 }, (_, n) => ({ payload: { n } })))).map(
      (result) => result.id,
    );
    const runs = new Map<string, number>();
    const inFlightAtStop = new Set<string>();
    let holding = true;
    let finish: () => void = () => {};
    const gate = new Promise<void>((resolve) => {
      finish = resolve;
    });
    const worker = queue.work(
      async (job) => {
        runs.set(job.id, (runs.get(job.id) ?? 0) + 1);
        if (holding) {
          inFlightAtStop.add(job.id);
          await gate;
        }
      },
      { concurrency: 4, leaseMs: 1_000, pollIntervalMs: 50, onError: () => {} },
    );
    try {
      while (inFlightAtStop.size < 4) await sleep(5);
      await server.stop(mode);
      holding = false;
      // The handlers finish while the server is down, and stay down past their leases.
      finish();
      await sleep(2_500);
      await server.start();
      await waitForCompleted(queue, ids.length, 60_000);
    } finally {
      await worker.close();
    }
    for (const id of ids) {
      const job = await queue.get(id);
      expect(job?.state).toBe('completed');
      if (inFlightAtStop.has(id)) {
        // Its completion came after the lease: refused (CONFLICT), and the job was delivered again.
        expect(runs.get(id), `runs of ${id}`).toBe(2);
        expect(job?.attempts).toBe(2);
        expect(job?.errors.map((error) => error.message)).toStrictEqual(['lease expired']);
      } else {
        expect(runs.get(id), `runs of ${id}`).toBe(1);
      }
    }
  }, 120_000);

  it('workers resume once it is back: every job completes, each handler runs once', async () => {
    const schema = uniqueSchema(`workers_${mode}`);
    // The worker's backend, and another (its own pool) that enqueues: its
    // enqueues reach the worker only through NOTIFY.
    const workers = open('workers', schema);
    const producer = open('producer', schema);
    const jobs = producer.queue<{ n: number }>('jobs');
    const ids: string[] = [];
    const enqueue = async (from: number, count: number) => {
      const items = Array.from({ length: count }, (_, k) => ({ payload: { n: from + k } }));
      for (const result of await jobs.enqueueMany(items)) ids.push(result.id);
    };
    await enqueue(0, JOBS);

    const runs = new Map<string, number>();
    const reported: unknown[] = [];
    let total = 0;
    const worker: Worker = workers.queue<{ n: number }>('jobs').work(
      async (job) => {
        runs.set(job.id, (runs.get(job.id) ?? 0) + 1);
        total += 1;
        await sleep(job.payload.n % 3);
        return { n: job.payload.n };
      },
      {
        concurrency: 8,
        leaseMs: LEASE_MS,
        // No idle polling within the test: after the restart only the
        // listening connection (reconnected) wakes the worker.
        pollIntervalMs: 600_000,
        onError: (error) => reported.push(error),
      },
    );
    try {
      while (total < JOBS / 3) await sleep(5);
      await server.stop(mode);
      await expectRetryableConnection('enqueue', jobs.enqueue({ n: -1 }));
      // Long enough for the worker's claims and settlements to fail and back off.
      await sleep(1_000);
      await server.start();

      await waitForCompleted(jobs, JOBS, 90_000);
      // The worker is idle now, and polls only every 10 minutes: these are
      // picked up because the listening connection is back.
      await enqueue(JOBS, 50);
      await waitForCompleted(jobs, JOBS + 50, 60_000);
    } finally {
      await worker.close();
    }

    expect(await jobs.stats()).toStrictEqual({ waiting: 0, active: 0, completed: JOBS + 50, dead: 0, cancelled: 0 });
    let redelivered = 0;
    for (const id of ids) {
      const job = await jobs.get(id);
      expect(job?.state, `job ${id}`).toBe('completed');
      expect(runs.get(id), `runs of job ${id}`).toBe(1);
      // A claim whose reply the restart lost: the lease expired unused; the worker looked
      // again once it could have (not at its 10-minute poll) and ran the job.
      if (job?.attempts !== 1) {
        redelivered += 1;
        expect(job?.attempts).toBe(2);
        expect(job?.errors.map((error) => error.message)).toStrictEqual(['lease expired']);
      }
    }
    expect(runs.size).toBe(JOBS + 50);
    // What the worker reported: the outage (CONNECTION, retryable), and
    // completions that reached the server but whose reply was lost, sent
    // again after the restart (CONFLICT: the job is already completed).
    for (const error of reported) {
      const expected = (isBerthError(error, 'CONNECTION') && error.retryable) || isBerthError(error, 'CONFLICT');
      expect(expected, `reported: ${String(error)}`).toBe(true);
    }
    expect(reported.some((error) => isBerthError(error, 'CONNECTION'))).toBe(true);
    console.log(
      `${mode}: ${JOBS + 50} jobs, each run once; ${redelivered} redelivered after an unused lease; ` +
        `reported ${reported.length} errors (${reported.filter((error) => isBerthError(error, 'CONFLICT')).length} CONFLICT)`,
    );
  }, 240_000);
});

const JOBS = 3_000;
const LEASE_MS = 10_000;

async function waitForCompleted(queue: { stats(): Promise<{ completed: number }> }, count: number, ms: number) {
  const deadline = Date.now() + ms;
  let stats = { completed: 0 };
  while (Date.now() < deadline) {
    stats = await queue.stats();
    if (stats.completed >= count) return;
    await sleep(50);
  }
  expect.unreachable(
    `only ${stats.completed} of ${count} jobs completed within ${ms / 1000} s: ${JSON.stringify(stats)}`,
  );
}

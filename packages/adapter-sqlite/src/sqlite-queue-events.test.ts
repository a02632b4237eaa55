import { type BerthLogger, isBerthError, type JobEvent, type QueueEvent } from '@berth/core';
import { describe, expect, it } from 'vitest';
import { openRawDatabase } from './fixtures/raw-database.js';
import { lines, startFixture, waitForLine } from './fixtures/sqlite-children.js';
import { databaseFiles } from './fixtures/temp-files.js';
import { SqliteBackend } from './sqlite-backend.js';
import { SqliteConnection } from './sqlite-connection.js';
import { MIGRATIONS, runMigrations } from './sqlite-migrations.js';

const { newFile } = databaseFiles('events');
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** Waits until `check` holds (the feed polls every 25 ms). */
async function until(check: () => boolean, timeoutMs = 5_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline) throw new Error('timed out waiting');
    await sleep(10);
  }
}

function timeouts(): number {
  return process.getActiveResourcesInfo().filter((kind) => kind === 'Timeout').length;
}

function recordingLogger(): BerthLogger & { readonly warnings: string[] } {
  const warnings: string[] = [];
  return { warnings, warn: (message) => warnings.push(message), error: (message) => warnings.push(message) };
}

describe('SQLite global job events', () => {
  it('declares global events', () => {
    const backend = new SqliteBackend({ filename: newFile() });
    expect(backend.capabilities.queue?.events).toBe('global');
  });

  it('a backend on the same file gets every event of the other, once each, in order, equal to the local ones', async () => {
    const filename = newFile();
    const a = new SqliteBackend({ filename });
    const b = new SqliteBackend({ filename });
    try {
      const qa = a.queue<{ n: number }>('events');
      const qb = b.queue<{ n: number }>('events');
      // A job enqueued before B listens is not B's to hear about.
      await qa.cancel((await qa.enqueue({ n: 0 })).id);
      const local: JobEvent[] = [];
      const remote: JobEvent[] = [];
      const filtered: JobEvent[] = [];
      const offA = qa.subscribe((event) => local.push(event));
      const offB = qb.subscribe((event) => remote.push(event));
      const offFiltered = qb.subscribe((event) => filtered.push(event), { types: ['progress', 'dead'] });
      const other: JobEvent[] = [];
      const offOther = b.queue('other').subscribe((event) => other.push(event));
      await a.queue('elsewhere').enqueue({ n: -1 });

      const big = { blob: 'p'.repeat(100 * 1024), at: new Date(1_700_000_000_000), list: [1, { x: null }] };
      await qa.enqueue({ n: 1 }, { runAt: new Date(Date.now() - 1) });
      const one = await qa.dequeue();
      if (one === null) throw new Error('nothing claimed');
      await qa.progress(one, big);
      await qa.complete(one, { ok: true });
      await qa.enqueue({ n: 2 }, { maxAttempts: 2, backoff: { type: 'fixed', delayMs: 0 } });
      const two = await qa.dequeue();
      if (two === null) throw new Error('nothing claimed');
      await qa.fail(two, new Error('e'.repeat(20_000)));
      const again = await qa.dequeue();
      if (again === null) throw new Error('nothing claimed');
      await qa.fail(again, Object.assign(new Error('second'), { name: 'MyError' }));
      await qa.retry(again.job.id);
      const three = await qa.dequeue();
      if (three === null) throw new Error('nothing claimed');
      await qa.release(three);
      await qa.cancel(three.job.id);
      const { id: four } = await qa.enqueue({ n: 4 }, { maxAttempts: 1 });
      expect(await qa.dequeue({ leaseMs: 1 })).not.toBeNull();
      await sleep(5);
      await qa.stats(); // settles the expired lease: expired, then dead
      await qa.cancelJobs();
      await qa.enqueue({ n: 5 });
      await qa.cancelJobs();
      await qa.retryJobs({ state: 'cancelled' });

      const types = local.map((event) => event.type);
      expect(types).toEqual([
        'enqueued',
        'started',
        'progress',
        'completed',
        'enqueued',
        'started',
        'failed',
        'started',
        'dead',
        'retried',
        'started',
        'released',
        'cancelled',
        'enqueued',
        'started',
        'expired',
        'dead',
        'enqueued',
        'cancelled',
        // The job cancelled before the subscriptions, the one cancelled by id, and n: 5.
        'retried',
        'retried',
        'retried',
      ]);
      await until(() => remote.length >= local.length);
      await sleep(100);
      expect(remote).toEqual(local);
      expect(remote.find((event) => event.type === 'progress')).toMatchObject({ progress: big });
      expect(remote.filter((event) => event.type === 'dead').map((event) => event.jobId)).toEqual([again.job.id, four]);
      const failed = remote.find((event) => event.type === 'failed');
      expect(failed?.type === 'failed' && failed.error.at instanceof Date && failed.retryAt instanceof Date).toBe(true);
      expect(filtered).toEqual(local.filter((event) => event.type === 'progress' || event.type === 'dead'));
      expect(other).toEqual([]);
      // A's own subscriber saw each of its events once: its feed skipped its own rows.
      expect(local.length).toBe(types.length);
      offA();
      offB();
      offFiltered();
      offOther();
    } finally {
      await a.close();
      await b.close();
    }
  });

  it('events() of a backend iterates the other backend events', async () => {
    const filename = newFile();
    const a = new SqliteBackend({ filename });
    const b = new SqliteBackend({ filename });
    try {
      const controller = new AbortController();
      const iterator = b.queue('events').events({ types: ['enqueued'], signal: controller.signal });
      const { id } = await a.queue('events').enqueue({ n: 1 });
      const first = await iterator.next();
      expect((first.value as QueueEvent).type).toBe('enqueued');
      expect(first.value).toMatchObject({ queue: 'events', jobId: id });
      controller.abort();
      expect((await iterator.next()).done).toBe(true);
    } finally {
      await a.close();
      await b.close();
    }
  });

  it('a transaction that rolls back publishes nothing; one that commits publishes its enqueues', async () => {
    const filename = newFile();
    const a = new SqliteBackend({ filename });
    const b = new SqliteBackend({ filename });
    try {
      const remote: JobEvent[] = [];
      const off = b.queue('events').subscribe((event) => remote.push(event));
      await expect(
        a.transaction(async (tx) => {
          await tx.queue('events').enqueue({ n: 1 });
          throw new Error('roll back');
        }),
      ).rejects.toThrow('roll back');
      const committed = await a.transaction(async (tx) => tx.queue('events').enqueue({ n: 2 }));
      await until(() => remote.length >= 1);
      await sleep(100);
      expect(remote.map((event) => [event.type, event.jobId])).toEqual([['enqueued', committed.id]]);
      off();
    } finally {
      await a.close();
      await b.close();
    }
  });

  it('writers add events only while another live backend listens', async () => {
    const filename = newFile();
    const a = new SqliteBackend({ filename });
    const b = new SqliteBackend({ filename });
    const raw = openRawDatabase(filename);
    const rows = () => (raw.prepare('SELECT count(*) AS n FROM _berth_job_events').get() as { n: number }).n;
    const listeners = () => raw.prepare('SELECT origin FROM _berth_event_listeners').pluck().all();
    try {
      await a.queue('events').enqueue({ n: 1 });
      expect(rows()).toBe(0);
      const remote: JobEvent[] = [];
      const off = b.queue('events').subscribe((event) => remote.push(event));
      expect(listeners()).toHaveLength(1);
      // B listens, so A writes; B's own changes are for B's subscribers only, so B writes none.
      const { id } = await a.queue('events').enqueue({ n: 2 });
      await b.queue('events').enqueue({ n: 3 });
      expect(rows()).toBe(1);
      await until(() => remote.length === 2);
      expect(remote.map((event) => event.jobId)).toContain(id);
      off();
      expect(listeners()).toEqual([]);
      await a.queue('events').enqueue({ n: 4 });
      expect(rows()).toBe(1);
      // A listener not seen for a minute (its process died) no longer counts.
      raw
        .prepare('INSERT INTO _berth_event_listeners (origin, seen_at) VALUES (?, ?)')
        .run('gone', Date.now() - 61_000);
      await a.queue('events').enqueue({ n: 5 });
      expect(rows()).toBe(1);
      raw.prepare('UPDATE _berth_event_listeners SET seen_at = ?').run(Date.now());
      await a.queue('events').enqueue({ n: 6 });
      expect(rows()).toBe(2);
    } finally {
      raw.close();
      await a.close();
      await b.close();
    }
  });

  it('polls only while subscribed: the last unsubscribe and close() stop it', async () => {
    const filename = newFile();
    const a = new SqliteBackend({ filename });
    const b = new SqliteBackend({ filename });
    try {
      await b.connect();
      const before = timeouts();
      const remote: JobEvent[] = [];
      const off1 = b.queue('events').subscribe((event) => remote.push(event));
      const off2 = b.queue('more').subscribe((event) => remote.push(event));
      expect(timeouts()).toBe(before + 1);
      off1();
      off1();
      expect(timeouts()).toBe(before + 1);
      off2();
      expect(timeouts()).toBe(before);
      await a.queue('events').enqueue({ n: 1 });
      await sleep(100);
      expect(remote).toEqual([]);

      const base = timeouts();
      b.queue('events').subscribe((event) => remote.push(event));
      expect(timeouts()).toBe(base + 1);
      await b.close();
      expect(timeouts()).toBe(base);
      await a.queue('events').enqueue({ n: 2 });
      await sleep(100);
      expect(remote).toEqual([]);
    } finally {
      await a.close();
      await b.close();
    }
  });

  it('the log keeps its last rows only, and a listener that fell behind the pruning is warned', async () => {
    const filename = newFile();
    const logger = recordingLogger();
    const a = new SqliteBackend({ filename });
    const b = new SqliteBackend({ filename, logger });
    const raw = openRawDatabase(filename);
    try {
      const remote: JobEvent[] = [];
      b.queue('events').subscribe((event) => remote.push(event));
      const queue = a.queue('events');
      for (let i = 0; i < 11_500; i++) {
        await queue.enqueue({ n: i });
        // The enqueues resolve without a timer turn: let B poll now and then, as another process would.
        if (i % 500 === 0) await sleep(30);
      }
      const count = () => (raw.prepare('SELECT count(*) AS n FROM _berth_job_events').get() as { n: number }).n;
      expect(count()).toBeGreaterThanOrEqual(10_000);
      expect(count()).toBeLessThanOrEqual(11_000);
      await until(() => remote.length === 11_500);
      expect(logger.warnings).toEqual([]);
      remote.length = 0;

      // Another writer adds and prunes rows faster than B polls (one synchronous burst).
      const insert = raw.prepare("INSERT INTO _berth_job_events (queue, origin, events) VALUES ('events', 'x', ?)");
      raw.transaction(() => {
        for (let i = 0; i < 12_000; i++) {
          insert.run(JSON.stringify([['released', `job-${i}`, 1_700_000_000_000 + i]]));
        }
        raw
          .prepare('DELETE FROM _berth_job_events WHERE seq <= (SELECT max(seq) - 10000 FROM _berth_job_events)')
          .run();
      })();
      await until(() => remote.length >= 10_000);
      expect(remote.map((event) => event.jobId)).toEqual(Array.from({ length: 10_000 }, (_, i) => `job-${i + 2_000}`));
      expect(remote[0]).toEqual({
        type: 'released',
        queue: 'events',
        jobId: 'job-2000',
        at: new Date(1_700_000_002_000),
      });
      expect(logger.warnings).toEqual([
        'berth: 2000 SQLite queue event rows were pruned before this backend read them; their events are lost',
      ]);
    } finally {
      raw.close();
      await a.close();
      await b.close();
    }
  }, 60_000);

  it('a worker in another process: the test process hears its events, and the child exits after close()', async () => {
    const filename = newFile();
    const backend = new SqliteBackend({ filename, busyTimeoutMs: 30_000 });
    await backend.connect();
    const child = startFixture('event-driver.ts', [filename]);
    let done: { ids: string[]; own: string[] } | undefined;
    const exited = lines(child, (line) => {
      if (line.startsWith('DONE ')) done = JSON.parse(line.slice(5));
    });
    try {
      await waitForLine(child, 'READY');
      const remote: JobEvent[] = [];
      const off = backend.queue('events').subscribe((event) => remote.push(event));
      child.stdin?.end('go\n');
      expect(await exited).toBe(0);
      const expected = [
        'enqueued',
        'started',
        'progress',
        'completed',
        'enqueued',
        'started',
        'failed',
        'started',
        'dead',
      ];
      await until(() => remote.length >= expected.length);
      await sleep(100);
      expect(remote.map((event) => event.type)).toEqual(expected);
      expect(done?.own).toEqual(expected);
      const [completed, dead] = done?.ids ?? [];
      expect(remote.filter((event) => event.type === 'completed').map((event) => event.jobId)).toEqual([completed]);
      expect(remote.at(-1)).toMatchObject({
        type: 'dead',
        jobId: dead,
        attempt: 2,
        error: { message: 'attempt 2 failed' },
      });
      off();
    } finally {
      if (child.exitCode === null) child.kill('SIGKILL');
      await backend.close();
    }
  }, 60_000);
});

describe('migration 7 (job event log)', () => {
  it('a database at the previous schema migrates on connect and its events flow', async () => {
    const filename = newFile();
    const connection = new SqliteConnection(openRawDatabase(filename));
    runMigrations(connection, MIGRATIONS.slice(0, -1));
    connection.close();
    const a = new SqliteBackend({ filename });
    const b = new SqliteBackend({ filename });
    try {
      const remote: JobEvent[] = [];
      b.queue('events').subscribe((event) => remote.push(event));
      await a.queue('events').enqueue({ n: 1 });
      await until(() => remote.length === 1);
      const raw = openRawDatabase(filename);
      const versions = raw.prepare('SELECT version FROM _berth_migrations ORDER BY version').pluck().all();
      raw.close();
      expect(versions).toEqual(MIGRATIONS.map((migration) => migration.version));
      expect(MIGRATIONS.at(-1)?.name).toBe('job event log');
    } finally {
      await a.close();
      await b.close();
    }
  });

  it('migrate: false refuses a database at the previous schema with SCHEMA', async () => {
    const filename = newFile();
    const connection = new SqliteConnection(openRawDatabase(filename));
    runMigrations(connection, MIGRATIONS.slice(0, -1));
    connection.close();
    const backend = new SqliteBackend({ filename, migrate: false });
    try {
      const error = await backend.connect().then(
        () => undefined,
        (thrown: unknown) => thrown,
      );
      expect(isBerthError(error, 'SCHEMA')).toBe(true);
      expect(String((error as Error).message)).toContain('7 job event log');
      await backend.migrate();
      await backend.connect();
    } finally {
      await backend.close();
    }
  });
});

import type { ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { openRawDatabase } from './fixtures/raw-database.js';
import { lines, startFixture } from './fixtures/sqlite-children.js';
import { SqliteBackend } from './sqlite-backend.js';

const directory = mkdtempSync(join(tmpdir(), 'berth-sqlite-admin-processes-'));
const started = new Set<ChildProcess>();
afterAll(() => {
  for (const child of started) if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  rmSync(directory, { recursive: true, force: true });
});
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

interface Child {
  readonly process: ChildProcess;
  readonly output: string[];
  readonly exited: Promise<number | null>;
  waitFor(prefix: string, timeoutMs?: number): Promise<void>;
}

function start(database: string, mode: string): Child {
  const child = startFixture('queue-admin-child.ts', [database, mode]);
  started.add(child);
  const output: string[] = [];
  const waiters: { prefix: string; resolve: () => void }[] = [];
  const exited = lines(child, (line) => {
    output.push(line);
    for (const waiter of waiters.filter((candidate) => line.startsWith(candidate.prefix))) {
      waiters.splice(waiters.indexOf(waiter), 1);
      waiter.resolve();
    }
  });
  return {
    process: child,
    output,
    exited,
    waitFor: (prefix, timeoutMs = 60_000) =>
      new Promise((resolve, reject) => {
        if (output.some((line) => line.startsWith(prefix))) return resolve();
        const timer = setTimeout(() => reject(new Error(`the child never printed ${prefix}`)), timeoutMs);
        waiters.push({
          prefix,
          resolve: () => {
            clearTimeout(timer);
            resolve();
          },
        });
      }),
  };
}

/** The counters stats() reads, checked against a count of the rows themselves. */
function countsAgree(database: string): { counters: Record<string, number>; rows: Record<string, number> } {
  const db = openRawDatabase(database, { readonly: true });
  try {
    const counters = Object.fromEntries(
      (
        db.prepare(`SELECT state, count FROM _berth_job_counts WHERE queue = 'jobs' AND count > 0`).all() as {
          state: string;
          count: number;
        }[]
      ).map((row) => [row.state, row.count]),
    );
    const rows = Object.fromEntries(
      (
        db.prepare(`SELECT state, count(*) AS count FROM _berth_jobs WHERE queue = 'jobs' GROUP BY state`).all() as {
          state: string;
          count: number;
        }[]
      ).map((row) => [row.state, row.count]),
    );
    expect(db.pragma('integrity_check', { simple: true })).toBe('ok');
    return { counters, rows };
  } finally {
    db.close();
  }
}

describe('retryJobs across processes', () => {
  it('a bulk retry in one process racing a worker in another: every job dies once, is retried once, completes', async () => {
    const database = join(directory, 'race.db');
    const JOBS = 1_500;
    {
      await using backend = new SqliteBackend({ filename: database, busyTimeoutMs: 30_000 });
      await backend
        .queue('jobs')
        .enqueueMany(Array.from({ length: JOBS }, (_, n) => ({ payload: { n }, maxAttempts: 1 })));
    }
    const worker = start(database, 'worker');
    const retrier = start(database, 'retry');
    try {
      await Promise.all([worker.waitFor('READY'), retrier.waitFor('READY')]);
      worker.process.stdin?.write('go\n');
      retrier.process.stdin?.write('go\n');
      await using backend = new SqliteBackend({ filename: database, busyTimeoutMs: 30_000 });
      const queue = backend.queue<{ n: number }>('jobs');
      const deadline = Date.now() + 90_000;
      while ((await queue.stats()).completed < JOBS && Date.now() < deadline) await sleep(50);
      expect(await queue.stats()).toStrictEqual({ waiting: 0, active: 0, completed: JOBS, dead: 0, cancelled: 0 });
      let cursor: string | undefined;
      let seen = 0;
      do {
        const page = await queue.listJobs({ state: 'completed', limit: 1_000, cursor });
        for (const job of page.jobs) {
          // Dead after its first run, retried once (attempts start over), completed on the next run.
          expect(job.errors.map((error) => error.message)).toStrictEqual(['first run']);
          expect(job.attempts).toBe(1);
          expect(job.result).toStrictEqual({ n: job.payload.n });
        }
        seen += page.jobs.length;
        cursor = page.cursor;
      } while (cursor !== undefined);
      expect(seen).toBe(JOBS);
    } finally {
      worker.process.stdin?.end('stop\n');
      retrier.process.stdin?.end('stop\n');
      expect(await Promise.all([worker.exited, retrier.exited])).toStrictEqual([0, 0]);
    }
    const retried = retrier.output
      .filter((line) => line.startsWith('RETRIED '))
      .reduce((sum, line) => sum + Number(line.slice('RETRIED '.length)), 0);
    expect(retried).toBe(JOBS);
    const { counters, rows } = countsAgree(database);
    expect(counters).toStrictEqual(rows);
  }, 150_000);

  it('SIGKILL during a bulk retry: each step is stored whole or not at all', async () => {
    const database = join(directory, 'kill.db');
    const JOBS = 60_000;
    {
      await using backend = new SqliteBackend({ filename: database, busyTimeoutMs: 30_000 });
      const queue = backend.queue('jobs');
      for (let start = 0; start < JOBS; start += 10_000) {
        await queue.enqueueMany(
          Array.from({ length: 10_000 }, (_, k) => ({ payload: { n: start + k }, maxAttempts: 1 })),
        );
      }
      // Dead, straight in the table, with the counts the adapter keeps moved in the same transaction.
      const db = openRawDatabase(database);
      db.transaction(() => {
        db.prepare(`UPDATE _berth_jobs SET state = 'dead', finished_at = created_at WHERE queue = 'jobs'`).run();
        db.prepare(`UPDATE _berth_job_counts SET count = 0 WHERE queue = 'jobs' AND state = 'waiting'`).run();
        db.prepare(`INSERT INTO _berth_job_counts (queue, state, count) VALUES ('jobs', 'dead', ?)`).run(JOBS);
      })();
      db.close();
      expect((await queue.stats()).dead).toBe(JOBS);
    }
    const child = start(database, 'retry-big');
    await child.waitFor('READY');
    child.process.stdin?.write('go\n');
    // Killed after its first step committed, while later steps run.
    await child.waitFor('STEP');
    await sleep(15);
    child.process.kill('SIGKILL');
    await child.exited;
    expect(child.process.signalCode).toBe('SIGKILL');
    const steps = child.output.filter((line) => line.startsWith('STEP ')).length;
    const { counters, rows } = countsAgree(database);
    expect(counters).toStrictEqual(rows);
    // Whole steps only: a multiple of the step size went back to waiting.
    const waiting = rows.waiting ?? 0;
    expect(waiting % 10_000).toBe(0);
    expect(waiting / 10_000).toBeGreaterThanOrEqual(steps);
    expect(waiting + (rows.dead ?? 0)).toBe(JOBS);
    console.log(`bulk retry killed after ${steps} reported step(s); ${waiting} jobs back to waiting`);
    // What is left can be retried from the start.
    await using backend = new SqliteBackend({ filename: database });
    const queue = backend.queue('jobs');
    let changed = 0;
    let cursor: string | undefined;
    do {
      const step = await queue.retryJobs({ limit: 10_000, cursor });
      changed += step.changed;
      cursor = step.cursor;
    } while (cursor !== undefined);
    expect(changed).toBe(JOBS - waiting);
    expect(await queue.stats()).toMatchObject({ waiting: JOBS, dead: 0 });
  }, 150_000);
});

import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { SqliteBackend } from './sqlite-backend.js';

const directory = mkdtempSync(join(tmpdir(), 'berth-sqlite-queue-processes-'));
const started = new Set<ChildProcess>();
afterAll(() => {
  // A case that failed or timed out leaves no worker behind.
  for (const child of started) if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  rmSync(directory, { recursive: true, force: true });
});

const fixture = fileURLToPath(new URL('./fixtures/queue-worker.ts', import.meta.url));
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

const JOBS = 5_000;
const CONCURRENCY = 8;
const LEASE_MS = 1_000;
const VICTIM = 'B';

interface Child {
  readonly name: string;
  readonly process: ChildProcess;
  readonly exited: Promise<void>;
  /** Resolves when the child prints a line starting with `prefix`; rejects after `timeoutMs`. */
  waitFor(prefix: string, timeoutMs?: number): Promise<void>;
}

function startWorker(database: string, ledger: string, name: string): Child {
  const child = spawn(
    process.execPath,
    [
      '--import',
      'tsx',
      '--conditions=@berth/source',
      fixture,
      database,
      ledger,
      name,
      String(CONCURRENCY),
      String(LEASE_MS),
    ],
    { stdio: ['pipe', 'pipe', 'inherit'] },
  );
  started.add(child);
  const waiters: { prefix: string; resolve: () => void }[] = [];
  let buffer = '';
  child.stdout?.on('data', (chunk: Buffer) => {
    buffer += chunk.toString();
    for (let newline = buffer.indexOf('\n'); newline >= 0; newline = buffer.indexOf('\n')) {
      const line = buffer.slice(0, newline);
      buffer = buffer.slice(newline + 1);
      for (const waiter of waiters.filter((candidate) => line.startsWith(candidate.prefix))) {
        waiters.splice(waiters.indexOf(waiter), 1);
        waiter.resolve();
      }
    }
  });
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  return {
    name,
    process: child,
    exited,
    waitFor: (prefix, timeoutMs = 30_000) =>
      new Promise((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error(`worker ${name} never printed ${prefix}`)), timeoutMs);
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

interface Run {
  readonly worker: string;
  readonly attempt: number;
}

describe('SqliteJobQueue across processes', () => {
  it(`3 worker processes on one file process ${JOBS} jobs; only the jobs in flight in a SIGKILLed worker run twice`, async () => {
    const database = join(directory, 'jobs.db');
    const ledger = join(directory, 'ledger.txt');
    writeFileSync(ledger, '');
    const backend = new SqliteBackend({ filename: database, busyTimeoutMs: 30_000 });
    const queue = backend.queue<{ n: number }>('jobs');
    const ids: string[] = [];
    for (let start = 0; start < JOBS; start += 1_000) {
      const batch = Array.from({ length: 1_000 }, (_, k) => ({ payload: { n: start + k } }));
      for (const result of await queue.enqueueMany(batch)) ids.push(result.id);
    }

    const children = ['A', VICTIM, 'C'].map((name) => startWorker(database, ledger, name));
    const victim = children[1] as Child;
    try {
      // Start together: a worker still loading must not find the jobs gone.
      await Promise.all(children.map((child) => child.waitFor('READY', 90_000)));
      for (const child of children) child.process.stdin?.write('go\n');
      // Kill the victim mid-stream, with jobs in its hands.
      await victim.waitFor('RUNS 500', 60_000);
      victim.process.kill('SIGKILL');
      await victim.exited;
      expect(victim.process.signalCode).toBe('SIGKILL');

      const deadline = Date.now() + 60_000;
      while ((await queue.stats()).completed < JOBS && Date.now() < deadline) await sleep(50);
      expect(await queue.stats()).toStrictEqual({ waiting: 0, active: 0, completed: JOBS, dead: 0, cancelled: 0 });
    } finally {
      for (const child of children) child.process.stdin?.end('stop\n');
      await Promise.all(children.map((child) => child.exited));
    }
    // The survivors closed their workers and backends cleanly.
    expect(children.filter((child) => child !== victim).map((child) => child.process.exitCode)).toStrictEqual([0, 0]);

    const runs = new Map<string, Run[]>();
    for (const line of readFileSync(ledger, 'utf8').split('\n')) {
      if (line === '') continue;
      const [id = '', worker = '', attempt = ''] = line.split(' ');
      runs.set(id, [...(runs.get(id) ?? []), { worker, attempt: Number(attempt) }]);
    }
    const twice: string[] = [];
    const inFlightAtKill: string[] = [];
    let claimedNeverStarted = 0;
    let totalRuns = 0;
    for (const id of ids) {
      const job = await queue.get(id);
      if (job === null) return expect.unreachable(`job ${id} is missing`);
      const jobRuns = runs.get(id) ?? [];
      totalRuns += jobRuns.length;
      const completedBy = (job.result as { worker: string }).worker;
      expect(job.state).toBe('completed');
      // Completed once, by the worker whose run is the job's last.
      expect(jobRuns.at(-1)?.worker, `job ${id}`).toBe(completedBy);
      expect(jobRuns.at(-1)?.attempt, `job ${id}`).toBe(job.attempts);
      if (jobRuns.some((run) => run.worker === VICTIM) && completedBy !== VICTIM) inFlightAtKill.push(id);
      if (jobRuns.length === 2) {
        twice.push(id);
        // The victim's run, then a redelivery after the lease, to another worker.
        expect(jobRuns.map((run) => run.worker === VICTIM)).toStrictEqual([true, false]);
        expect(jobRuns.map((run) => run.attempt)).toStrictEqual([1, 2]);
        expect(job.errors.map((error) => error.message)).toStrictEqual(['lease expired']);
      } else {
        expect(jobRuns, `runs of job ${id}`).toHaveLength(1);
        // A job the victim had leased but not yet started is redelivered too, and still runs once.
        if (job.attempts === 2) claimedNeverStarted += 1;
        else expect(job.attempts).toBe(1);
      }
    }
    expect(runs.size, 'jobs in the ledger that were never enqueued').toBe(JOBS);
    expect(twice.sort()).toStrictEqual(inFlightAtKill.sort());
    expect(twice.length).toBeGreaterThan(0);
    expect(twice.length + claimedNeverStarted).toBeLessThanOrEqual(CONCURRENCY);
    expect(totalRuns).toBe(JOBS + twice.length);
    const byWorker = new Map<string, number>();
    for (const jobRuns of runs.values()) {
      for (const run of jobRuns) byWorker.set(run.worker, (byWorker.get(run.worker) ?? 0) + 1);
    }
    console.log(
      `ledger: ${totalRuns} runs for ${JOBS} jobs; ${twice.length} ran twice (in flight in the killed worker), ` +
        `${claimedNeverStarted} leased by it but never started; runs per worker: ${JSON.stringify(Object.fromEntries(byWorker))}`,
    );
    await backend.close();
  }, 180_000);
});

/**
 * The parent side of a multi-process queue test: start worker processes
 * (scripts that call `runLedgerWorker`), kill one mid-run, then check the
 * ledger of handler runs against the jobs as the queue stores them.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import type { Job, JobQueue } from '@berth/core';
import { expect } from 'vitest';

export { freePort } from './free-port.js';

/**
 * A worker process started by {@link startQueueProcess}.
 *
 * ### Examples
 * ```ts
 * import { type QueueProcess, startQueueProcess } from '@berth/conformance-tests/processes';
 *
 * const workers: QueueProcess[] = ['A', 'B'].map((name) => startQueueProcess('./queue-worker.ts', ['/tmp/ledger.txt', name], name));
 * await Promise.all(workers.map((worker) => worker.waitFor('READY')));
 * for (const worker of workers) worker.process.stdin?.write('go\n');
 * const victim = workers[1];
 * victim?.process.kill('SIGKILL');
 * await victim?.exited;
 * ```
 */
export interface QueueProcess {
  readonly name: string;
  readonly process: ChildProcess;
  /** Resolves when the process has exited (killed or not). */
  readonly exited: Promise<void>;
  /** Resolves when the process prints a line starting with `prefix`; rejects after `timeoutMs` (default 30 s). */
  waitFor(prefix: string, timeoutMs?: number): Promise<void>;
}

/**
 * Starts the TypeScript file `script` in a fresh Node process (through tsx,
 * on the workspace's sources), its stdin a pipe, its stderr this process's.
 *
 * ### Examples
 * ```ts
 * import { startQueueProcess } from '@berth/conformance-tests/processes';
 *
 * const worker = startQueueProcess('/path/to/queue-worker.ts', ['/tmp/ledger.txt'], 'A');
 * await worker.waitFor('READY', 90_000);
 * worker.process.stdin?.write('go\n');
 * ```
 */
export function startQueueProcess(script: string, args: readonly string[], name: string): QueueProcess {
  const child = spawn(process.execPath, ['--import', 'tsx', '--conditions=@berth/source', script, ...args], {
    stdio: ['pipe', 'pipe', 'inherit'],
  });
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

/**
 * One handler run in the ledger.
 *
 * ### Examples
 * ```ts
 * import { type LedgerRun, readLedger } from '@berth/conformance-tests/processes';
 *
 * const runs: Map<string, LedgerRun[]> = readLedger('/tmp/ledger.txt');
 * const byB = [...runs.values()].flat().filter((run: LedgerRun) => run.worker === 'B').length;
 * ```
 */
export interface LedgerRun {
  readonly worker: string;
  readonly attempt: number;
}

/**
 * The ledger's runs per job id, in the order they were written.
 *
 * ### Examples
 * ```ts
 * import { readLedger } from '@berth/conformance-tests/processes';
 *
 * const runs = readLedger('/tmp/ledger.txt');
 * const ranTwice = [...runs].filter(([, jobRuns]) => jobRuns.length > 1).map(([id]) => id);
 * ```
 */
export function readLedger(file: string): Map<string, LedgerRun[]> {
  const runs = new Map<string, LedgerRun[]>();
  for (const line of readFileSync(file, 'utf8').split('\n')) {
    if (line === '') continue;
    const [id = '', worker = '', attempt = ''] = line.split(' ');
    runs.set(id, [...(runs.get(id) ?? []), { worker, attempt: Number(attempt) }]);
  }
  return runs;
}

/**
 * What {@link checkKilledWorkerLedger} checks.
 *
 * ### Examples
 * ```ts
 * import { MemoryBackend } from '@berth/adapter-memory';
 * import { type KilledWorkerRun, checkKilledWorkerLedger } from '@berth/conformance-tests/processes';
 *
 * declare const ids: string[]; // every job enqueued before the workers started
 * const run: KilledWorkerRun = {
 *   queue: new MemoryBackend().queue<{ n: number }>('jobs'),
 *   ids,
 *   ledger: '/tmp/ledger.txt',
 *   victim: 'B',
 *   concurrency: 8,
 * };
 * await checkKilledWorkerLedger(run);
 * ```
 */
export interface KilledWorkerRun {
  readonly queue: JobQueue<{ n: number }>;
  /** Every job enqueued for the run. */
  readonly ids: readonly string[];
  readonly ledger: string;
  /** The worker that was SIGKILLed. */
  readonly victim: string;
  /** The victim's `concurrency`: the most jobs it can hold unsettled. */
  readonly concurrency: number;
}

/**
 * What the ledger showed.
 *
 * ### Examples
 * ```ts
 * import { type KilledWorkerRun, checkKilledWorkerLedger } from '@berth/conformance-tests/processes';
 *
 * declare const run: KilledWorkerRun;
 * const summary = await checkKilledWorkerLedger(run);
 * console.log(`${summary.twice} jobs ran twice, ${summary.claimedNeverStarted} leased but never started`, summary.runsPerWorker);
 * ```
 */
export interface KilledWorkerSummary {
  readonly totalRuns: number;
  /** Jobs run twice: in flight in the victim when it died, then redelivered. */
  readonly twice: number;
  /** Jobs the victim leased but never started, redelivered and run once. */
  readonly claimedNeverStarted: number;
  readonly runsPerWorker: Readonly<Record<string, number>>;
}

/**
 * Checks, with vitest's `expect`, that every job completed exactly once and
 * that the only jobs run twice are those in flight in the killed worker
 * (the victim's run, then one redelivery after its lease expired), at most
 * `concurrency` of them. Reads the jobs through `listJobs`.
 *
 * ### Examples
 * ```ts
 * import type { JobQueue } from '@berth/core';
 * import { checkKilledWorkerLedger } from '@berth/conformance-tests/processes';
 *
 * declare const queue: JobQueue<{ n: number }>; // the queue the worker processes worked
 * declare const ids: string[];
 * // After the surviving workers finished every job and exited:
 * const summary = await checkKilledWorkerLedger({ queue, ids, ledger: '/tmp/ledger.txt', victim: 'B', concurrency: 8 });
 * console.log(`${summary.totalRuns} runs for ${ids.length} jobs`);
 * ```
 */
export async function checkKilledWorkerLedger(run: KilledWorkerRun): Promise<KilledWorkerSummary> {
  const { queue, victim } = run;
  const runs = readLedger(run.ledger);
  const jobs = new Map<string, Job<{ n: number }>>();
  let cursor: string | undefined;
  do {
    const page = await queue.listJobs({ limit: 1_000, order: 'oldest', ...(cursor === undefined ? {} : { cursor }) });
    for (const job of page.jobs) {
      expect(jobs.has(job.id), `job ${job.id} listed twice`).toBe(false);
      jobs.set(job.id, job);
    }
    cursor = page.cursor;
  } while (cursor !== undefined);
  expect(jobs.size, 'jobs stored').toBe(run.ids.length);

  const twice: string[] = [];
  const inFlightAtKill: string[] = [];
  let claimedNeverStarted = 0;
  let totalRuns = 0;
  for (const id of run.ids) {
    const job = jobs.get(id);
    if (job === undefined) return expect.unreachable(`job ${id} is missing`);
    const jobRuns = runs.get(id) ?? [];
    totalRuns += jobRuns.length;
    expect(job.state, `job ${id}`).toBe('completed');
    const completedBy = (job.result as { worker: string }).worker;
    // Completed once, by the worker whose run is the job's last.
    expect(jobRuns.at(-1)?.worker, `job ${id}`).toBe(completedBy);
    expect(jobRuns.at(-1)?.attempt, `job ${id}`).toBe(job.attempts);
    if (jobRuns.some((entry) => entry.worker === victim) && completedBy !== victim) inFlightAtKill.push(id);
    if (jobRuns.length === 2) {
      twice.push(id);
      // The victim's run, then a redelivery after the lease, to another worker.
      expect(jobRuns.map((entry) => entry.worker === victim)).toStrictEqual([true, false]);
      expect(jobRuns.map((entry) => entry.attempt)).toStrictEqual([1, 2]);
      expect(job.errors.map((error) => error.message)).toStrictEqual(['lease expired']);
    } else {
      expect(jobRuns, `runs of job ${id}`).toHaveLength(1);
      // A job the victim had leased but not yet started is redelivered too, and still runs once.
      if (job.attempts === 2) claimedNeverStarted += 1;
      else expect(job.attempts).toBe(1);
    }
  }
  expect(runs.size, 'jobs in the ledger that were never enqueued').toBe(run.ids.length);
  expect(twice.sort()).toStrictEqual(inFlightAtKill.sort());
  expect(twice.length, 'jobs in flight in the killed worker').toBeGreaterThan(0);
  expect(twice.length + claimedNeverStarted).toBeLessThanOrEqual(run.concurrency);
  expect(totalRuns).toBe(run.ids.length + twice.length);
  const runsPerWorker: Record<string, number> = {};
  for (const jobRuns of runs.values()) {
    for (const entry of jobRuns) runsPerWorker[entry.worker] = (runsPerWorker[entry.worker] ?? 0) + 1;
  }
  return { totalRuns, twice: twice.length, claimedNeverStarted, runsPerWorker };
}

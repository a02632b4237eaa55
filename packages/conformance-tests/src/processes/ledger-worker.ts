/**
 * The worker process of a multi-process queue test (see
 * `./queue-processes.ts`), whatever the engine: the test's fixture script
 * opens its backend and hands the queue to {@link runLedgerWorker}.
 *
 * Every handler run appends `<job id> <worker name> <attempt>` to the
 * ledger file before it does anything else, takes 0–3 ms (by the job's
 * `n`) and returns `{ worker }`. The process prints `READY` once it is set
 * up, starts working when `go` arrives on stdin (so that all workers start
 * together), prints `RUNS <n>` after every 100 runs, and after `stop` (or
 * the end of stdin: the test process is gone) closes the worker and the
 * backend, prints `DONE` and exits 0.
 */
import { closeSync, openSync, writeSync } from 'node:fs';
import type { JobQueue, Worker } from '@berth/core';

/**
 * How {@link runLedgerWorker} works its queue.
 *
 * ### Examples
 * ```ts
 * // fixtures/queue-worker.ts, started by startQueueProcess(script, [database, ledger, name], name)
 * import { SqliteBackend } from '@berth/adapter-sqlite';
 * import { type LedgerWorkerConfig, runLedgerWorker } from '@berth/conformance-tests/ledger-worker';
 *
 * const [database = '', ledger = '', name = ''] = process.argv.slice(2);
 * const backend = new SqliteBackend({ filename: database });
 * const config: LedgerWorkerConfig = { ledger, name, concurrency: 8, leaseMs: 1_000, close: () => backend.close() };
 * runLedgerWorker(backend.queue<{ n: number }>('jobs'), config);
 * ```
 */
export interface LedgerWorkerConfig {
  /** The ledger file, shared by every worker process (each appends whole lines). */
  readonly ledger: string;
  /** This worker's name in the ledger and in each job's result. */
  readonly name: string;
  readonly concurrency: number;
  readonly leaseMs: number;
  /** Default 20 ms, so a lease that expires is reclaimed soon. */
  readonly pollIntervalMs?: number | undefined;
  /** Closes what the script opened (the backend), after the worker closed. */
  close(): Promise<void>;
}

/**
 * Prints `READY`, then works `queue` between `go` and `stop` on stdin,
 * writing the ledger; exits the process once stopped.
 *
 * ### Examples
 * ```ts
 * import { MemoryBackend } from '@berth/adapter-memory';
 * import { runLedgerWorker } from '@berth/conformance-tests/ledger-worker';
 *
 * const backend = new MemoryBackend();
 * runLedgerWorker(backend.queue<{ n: number }>('jobs'), {
 *   ledger: '/tmp/ledger.txt',
 *   name: 'A',
 *   concurrency: 8,
 *   leaseMs: 2_000,
 *   close: () => backend.close(),
 * });
 * ```
 */
export function runLedgerWorker(queue: JobQueue<{ n: number }>, config: LedgerWorkerConfig): void {
  const { name } = config;
  // O_APPEND: each line lands whole at the end, whichever process writes it.
  const ledgerFd = openSync(config.ledger, 'a');
  let runs = 0;
  let running: Worker | undefined;
  const start = (): Worker =>
    queue.work(
      async (job) => {
        writeSync(ledgerFd, `${job.id} ${name} ${job.attempts}\n`);
        runs += 1;
        if (runs % 100 === 0) process.stdout.write(`RUNS ${runs}\n`);
        const pause = job.payload.n % 4;
        if (pause > 0) await new Promise((resolve) => setTimeout(resolve, pause));
        return { worker: name };
      },
      {
        concurrency: config.concurrency,
        leaseMs: config.leaseMs,
        pollIntervalMs: config.pollIntervalMs ?? 20,
        onError: (error) => process.stderr.write(`${name}: ${String(error)}\n`),
      },
    );
  process.stdout.write('READY\n');

  let stopping = false;
  async function stop(): Promise<void> {
    if (stopping) return;
    stopping = true;
    await running?.close();
    await config.close();
    closeSync(ledgerFd);
    process.stdout.write('DONE\n', () => process.exit(0));
  }
  process.stdin.setEncoding('utf8');
  process.stdin.on('data', (chunk: string) => {
    if (chunk.includes('go') && running === undefined && !stopping) running = start();
    if (chunk.includes('stop')) void stop();
  });
  process.stdin.on('end', () => void stop());
  // The test process may be gone: a failed write must not keep this one alive.
  process.stdout.on('error', () => void stop());
}

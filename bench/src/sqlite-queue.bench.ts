/**
 * The SQLite job queue on a real file (WAL, synchronous = NORMAL), against
 * the memory queue running the same shared worker. The ratio is what
 * durability costs: every enqueue, claim and completion is a committed
 * SQLite transaction. Enqueues are also compared with the engine's floor,
 * a bare prepared INSERT of the same JSON in its own transaction.
 *
 * Targets (issue 5): at least 20 000 jobs/s processed at concurrency 10 with
 * no-op handlers, and an idle worker starting a job within 2 ms (p50) of its
 * enqueue.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import { SqliteBackend, type SqliteDatabase } from '@berth/adapter-sqlite';
import { createBackend, type JobQueue, type QueueBackend } from '@berth/core';
import { type BenchSuite, type LatencyResult, latencyResult, type RunSuite } from './harness.js';
import type { OpenQueueBackend, QueueBenchConfig } from './memory-queue.bench.js';

interface Task {
  readonly kind: string;
  readonly n: number;
}

const BATCH = 100;
const task = (n: number): Task => ({ kind: 'noop', n });
const batch = Array.from({ length: BATCH }, (_, k) => ({ payload: task(k) }));

let directory: string | undefined;
let files = 0;

/** Opens a SQLite backend on a fresh file in a temporary folder (removed by {@link removeSqliteBenchFiles}). */
export const openSqlite: OpenQueueBackend = async () => {
  directory ??= mkdtempSync(join(tmpdir(), 'berth-bench-sqlite-'));
  files += 1;
  const backend = new SqliteBackend({ filename: join(directory, `${files}.db`) });
  await backend.connect();
  return backend;
};

export function removeSqliteBenchFiles(): void {
  if (directory !== undefined) rmSync(directory, { recursive: true, force: true });
  directory = undefined;
}

const openMemory: OpenQueueBackend = () => createBackend('memory:');

/** A backend opened in `setup` and closed in `teardown`. */
class BackendSlot {
  backend: QueueBackend | undefined;

  constructor(private readonly open: OpenQueueBackend) {}

  async setup(): Promise<void> {
    this.backend = await this.open();
  }

  async teardown(): Promise<void> {
    await this.backend?.close();
    this.backend = undefined;
  }

  queue(name: string): JobQueue<Task> {
    if (this.backend === undefined) throw new Error('setup() has not run');
    return this.backend.queue<Task>(name);
  }
}

/** The floor: a prepared INSERT of the job's JSON, in a transaction of its own, on a file of its own. */
class BareInsert {
  private backend: SqliteBackend | undefined;
  private db: SqliteDatabase | undefined;
  private insert: ReturnType<SqliteDatabase['prepare']> | undefined;

  async setup(): Promise<void> {
    this.backend = (await openSqlite()) as SqliteBackend;
    this.db = this.backend.native();
    this.db.exec('CREATE TABLE bare (seq INTEGER PRIMARY KEY, payload TEXT NOT NULL)');
    this.insert = this.db.prepare('INSERT INTO bare (payload) VALUES (?)');
  }

  one(n: number): void {
    this.insert?.run(JSON.stringify(task(n)));
  }

  many(): void {
    this.db?.transaction(() => {
      for (const item of batch) this.insert?.run(JSON.stringify(item.payload));
    })();
  }

  async teardown(): Promise<void> {
    await this.backend?.close();
  }
}

/** Enqueue throughput, one job at a time and in batches of 100. */
export function sqliteQueueSuites(): BenchSuite[] {
  const bareOne = new BareInsert();
  const bareMany = new BareInsert();
  const single = new BackendSlot(openSqlite);
  const many = new BackendSlot(openSqlite);
  let singleQueue: JobQueue<Task> | undefined;
  let manyQueue: JobQueue<Task> | undefined;
  return [
    {
      name: 'sqlite queue enqueue',
      cases: [
        {
          name: 'bare INSERT (autocommit)',
          baseline: true,
          setup: () => bareOne.setup(),
          run: (i) => bareOne.one(i),
          teardown: () => bareOne.teardown(),
        },
        {
          name: 'sqlite enqueue',
          setup: async () => {
            await single.setup();
            singleQueue = single.queue('bench_enqueue');
          },
          run: (i) => singleQueue?.enqueue(task(i)),
          teardown: () => single.teardown(),
        },
      ],
    },
    {
      name: `sqlite queue enqueue x${BATCH}`,
      cases: [
        {
          name: `bare INSERT x${BATCH} (one transaction)`,
          baseline: true,
          setup: () => bareMany.setup(),
          run: () => bareMany.many(),
          teardown: () => bareMany.teardown(),
        },
        {
          name: `sqlite enqueueMany(${BATCH})`,
          setup: async () => {
            await many.setup();
            manyQueue = many.queue('bench_enqueue_many');
          },
          run: () => manyQueue?.enqueueMany(batch),
          teardown: () => many.teardown(),
        },
      ],
    },
  ];
}

async function fill(queue: JobQueue<Task>, jobs: number): Promise<void> {
  for (let start = 0; start < jobs; start += 1_000) {
    const count = Math.min(1_000, jobs - start);
    await queue.enqueueMany(Array.from({ length: count }, (_, k) => ({ payload: task(start + k) })));
  }
}

/** Enqueues `jobs`, then times a worker from its start until every job is completed (as `stats` reports it). */
async function drainWithWorker(queue: JobQueue<Task>, jobs: number, concurrency: number): Promise<number> {
  await fill(queue, jobs);
  let resolve: () => void = () => {};
  const handled = new Promise<void>((settle) => {
    resolve = settle;
  });
  let count = 0;
  const begin = performance.now();
  const worker = queue.work(
    () => {
      count += 1;
      if (count === jobs) resolve();
    },
    { concurrency },
  );
  await handled;
  // The last completions may still be in flight; stats counts committed ones.
  while ((await queue.stats()).completed < jobs) await sleep(1);
  const ns = (performance.now() - begin) * 1e6;
  await worker.close();
  await queue.purge({ finishedBefore: new Date(Date.now() + 1) });
  return ns;
}

/**
 * The adapter's ceiling without a worker: `settleAndClaim` in a loop, each
 * call completing the previous batch and leasing `concurrency` more (one
 * transaction per batch).
 */
async function drainWithSettleAndClaim(queue: JobQueue<Task>, jobs: number, concurrency: number): Promise<number> {
  await fill(queue, jobs);
  if (queue.settleAndClaim === undefined) throw new Error(`queue ${queue.name} has no settleAndClaim`);
  const begin = performance.now();
  let leases = (await queue.settleAndClaim([], concurrency)).leases;
  while (leases.length > 0) {
    leases = (
      await queue.settleAndClaim(
        leases.map((lease) => ({ lease, outcome: 'complete' as const })),
        concurrency,
      )
    ).leases;
  }
  const ns = (performance.now() - begin) * 1e6;
  await queue.purge({ finishedBefore: new Date(Date.now() + 1) });
  return ns;
}

/** Processing throughput with no-op handlers at concurrency 1, 10 and 50: memory (baseline) and SQLite. */
export function sqliteQueueRunSuites(config: QueueBenchConfig): RunSuite[] {
  return [1, 10, 50].map((concurrency): RunSuite => {
    const memory = new BackendSlot(openMemory);
    const sqlite = new BackendSlot(openSqlite);
    const loop = new BackendSlot(openSqlite);
    return {
      name: `sqlite queue process, concurrency ${concurrency}`,
      operations: config.jobs,
      runs: config.runs,
      cases: [
        {
          name: 'memory queue.work',
          baseline: true,
          setup: () => memory.setup(),
          run: () => drainWithWorker(memory.queue('bench_process'), config.jobs, concurrency),
          teardown: () => memory.teardown(),
        },
        {
          name: 'sqlite queue.work',
          setup: () => sqlite.setup(),
          run: () => drainWithWorker(sqlite.queue('bench_process'), config.jobs, concurrency),
          teardown: () => sqlite.teardown(),
        },
        {
          name: 'sqlite settleAndClaim loop',
          setup: () => loop.setup(),
          run: () => drainWithSettleAndClaim(loop.queue('bench_process'), config.jobs, concurrency),
          teardown: () => loop.teardown(),
        },
      ],
    };
  });
}

/** Times `samples` enqueues to an idle worker until its handler starts, pausing between samples. */
async function handoffs(open: OpenQueueBackend, samples: number): Promise<number[]> {
  const backend = await open();
  try {
    const queue = backend.queue<Task>('bench_latency');
    let started: () => void = () => {};
    // The default 1 s poll never fires here: only the in-process notification wakes the worker.
    const worker = queue.work(() => started(), { concurrency: 1 });
    try {
      const latencies: number[] = [];
      const warmup = 20;
      for (let i = 0; i < warmup + samples; i += 1) {
        const at = new Promise<number>((resolve) => {
          started = () => resolve(performance.now());
        });
        const begin = performance.now();
        await queue.enqueue(task(i));
        const end = await at;
        if (i >= warmup) latencies.push((end - begin) * 1e6);
        await sleep(2);
      }
      return latencies;
    } finally {
      await worker.close();
    }
  } finally {
    await backend.close();
  }
}

/** Enqueue-to-start latency of an idle worker: memory (baseline) and SQLite. */
export async function sqliteQueueLatency(config: QueueBenchConfig): Promise<LatencyResult[]> {
  const suite = 'sqlite queue enqueue-to-start, idle worker';
  const baseline = latencyResult(suite, 'memory enqueue -> handler', await handoffs(openMemory, config.latencySamples));
  const sqlite = await handoffs(openSqlite, config.latencySamples);
  return [baseline, latencyResult(suite, 'sqlite enqueue -> handler', sqlite, baseline)];
}

/** Lines saying how the results compare with the targets. */
export function sqliteQueueTargets(
  results: readonly { readonly suite: string; readonly name: string; readonly opsPerSec: number }[],
  latency: readonly LatencyResult[],
): string[] {
  const throughput = results.find(
    (result) => result.suite === 'sqlite queue process, concurrency 10' && result.name === 'sqlite queue.work',
  );
  const start = latency.find((result) => result.name === 'sqlite enqueue -> handler');
  const lines: string[] = [];
  if (throughput !== undefined) {
    const jobs = Math.round(throughput.opsPerSec);
    lines.push(
      `target (issue 10): >= 25,000 jobs/s at concurrency 10 -> ${jobs.toLocaleString('en-US')} (${jobs >= 25_000 ? 'met' : 'NOT met'})`,
    );
  }
  if (start !== undefined) {
    const ms = start.p50Ns / 1e6;
    lines.push(`target: idle enqueue-to-start p50 <= 2 ms -> ${ms.toFixed(2)} ms (${ms <= 2 ? 'met' : 'NOT met'})`);
  }
  return lines;
}

/** `tsx --conditions=@berth/source src/sqlite-queue.bench.ts` runs this file alone. */
async function main(): Promise<void> {
  const { defaultOptions, formatLatencyTable, formatTable, runRunSuites, runSuites } = await import('./harness.js');
  const { defaultQueueConfig } = await import('./memory-queue.bench.js');
  const env = (name: string, fallback: number): number => {
    const value = Number(process.env[name]);
    return Number.isFinite(value) && value > 0 ? Math.round(value) : fallback;
  };
  const config: QueueBenchConfig = {
    ...defaultQueueConfig,
    jobs: env('BENCH_QUEUE_JOBS', defaultQueueConfig.jobs),
    runs: env('BENCH_QUEUE_RUNS', defaultQueueConfig.runs),
  };
  const progress = (result: { readonly suite: string; readonly name: string }): void => {
    process.stderr.write(`  done: ${result.suite} / ${result.name}\n`);
  };
  try {
    const options = { ...defaultOptions, timeMs: env('BENCH_TIME_MS', defaultOptions.timeMs) };
    const results = [
      ...(await runSuites(sqliteQueueSuites(), options, progress)),
      ...(await runRunSuites(sqliteQueueRunSuites(config), progress)),
    ];
    const latency = await sqliteQueueLatency(config);
    console.log(`\n${formatTable(results)}\n\n${formatLatencyTable(latency)}\n`);
    console.log(sqliteQueueTargets(results, latency).join('\n'));
  } finally {
    removeSqliteBenchFiles();
  }
}

if (process.argv[1] !== undefined && fileURLToPath(import.meta.url) === resolve(process.argv[1])) await main();

/**
 * How the side-by-side queue benchmarks (SQLite's and PostgreSQL's) drive
 * any `PeerQueue` and summarize what they measure: timed enqueues, draining
 * a pre-filled queue, idle enqueue-to-start handoffs, per-run samples and
 * their medians and ranges.
 */
import { performance } from 'node:perf_hooks';
import { setTimeout as sleep } from 'node:timers/promises';
import type { RunCase, RunSuite } from '../harness.js';
import { type PeerQueue, type Task, task } from './peer-queue.js';

/** A positive whole number from the environment variable `name`, or `fallback`. */
export function countFromEnv(name: string, fallback: number): number {
  const value = Number(process.env[name]);
  return Number.isFinite(value) && value > 0 ? Math.round(value) : fallback;
}

export const payloads = (count: number, offset = 0): Task[] =>
  Array.from({ length: count }, (_, k) => task(offset + k));

/** Times a worker on a filled queue of `jobs`, from its start (or `ready`) until the queue reports none left. */
export async function drain(queue: PeerQueue, jobs: number, concurrency: number): Promise<number> {
  let started = 0;
  let allStarted: () => void = () => {};
  const handled = new Promise<void>((settle) => {
    allStarted = settle;
  });
  let begin = performance.now();
  const worker = queue.work(concurrency, () => {
    started += 1;
    if (started === jobs) allStarted();
  });
  if (worker.ready !== undefined) {
    await worker.ready;
    begin = performance.now();
  }
  await handled;
  // The last completions may still be in flight; `remaining` counts what is stored.
  while ((await queue.remaining()) > 0) await sleep(1);
  const ns = (performance.now() - begin) * 1e6;
  await worker.stop();
  return ns;
}

/** Times `count` enqueues, one after the other, awaiting each. */
export async function enqueueOneByOne(
  queue: Pick<PeerQueue, 'enqueue'>,
  count: number,
  offset: number,
): Promise<number> {
  const items = payloads(count, offset);
  const begin = performance.now();
  for (const item of items) {
    const result = queue.enqueue(item);
    if (result instanceof Promise) await result;
  }
  return (performance.now() - begin) * 1e6;
}

/** Times `count` single enqueues with `inFlight` of them awaited at a time (callers of a busy service). */
export async function enqueueConcurrently(
  queue: PeerQueue,
  count: number,
  inFlight: number,
  offset: number,
): Promise<number> {
  const items = payloads(count, offset);
  let next = 0;
  const caller = async (): Promise<void> => {
    while (next < items.length) {
      const item = items[next] as Task;
      next += 1;
      await queue.enqueue(item);
    }
  };
  const begin = performance.now();
  await Promise.all(Array.from({ length: Math.min(inFlight, count) }, caller));
  return (performance.now() - begin) * 1e6;
}

/** Times `count` jobs enqueued `size` at a time through `enqueue`. */
export async function enqueueInBatches(
  enqueue: (items: readonly Task[]) => unknown,
  count: number,
  size: number,
  offset: number,
): Promise<number> {
  const batches = Array.from({ length: Math.ceil(count / size) }, (_, b) =>
    payloads(Math.min(size, count - b * size), offset + b * size),
  );
  const begin = performance.now();
  for (const items of batches) {
    const result = enqueue(items);
    if (result instanceof Promise) await result;
  }
  return (performance.now() - begin) * 1e6;
}

/** One idle worker on `queue`; `samples` enqueues, each timed until its handler starts, with pauses between. */
export async function handoffs(queue: PeerQueue, samples: number): Promise<number[]> {
  let started: () => void = () => {};
  const worker = queue.work(1, () => started());
  try {
    await sleep(20);
    const latencies: number[] = [];
    const warmup = 20;
    for (let i = 0; i < warmup + samples; i += 1) {
      const at = new Promise<number>((settle) => {
        started = () => settle(performance.now());
      });
      const begin = performance.now();
      const result = queue.enqueue(task(i));
      if (result instanceof Promise) await result;
      const end = await at;
      if (i >= warmup) latencies.push((end - begin) * 1e6);
      // Pauses of 2 to 4 ms, so enqueues do not keep one phase against a poller's timer.
      await sleep(2 + (i % 3));
    }
    return latencies;
  } finally {
    await worker.stop();
  }
}

/** Per-run samples of every case, in ns per job, warmup run left out. */
export type Samples = Map<string, number[]>;

const sampleKey = (suite: string, name: string): string => `${suite}\u0000${name}`;

/** Records what each run returns, leaving out the warmup run the harness makes first. */
export function recorded(suite: string, benchCase: RunCase, operations: number, samples: Samples): RunCase {
  const key = sampleKey(suite, benchCase.name);
  let warmedUp = false;
  return {
    ...benchCase,
    run: async () => {
      const ns = await benchCase.run();
      if (warmedUp) samples.set(key, [...(samples.get(key) ?? []), ns / operations]);
      warmedUp = true;
      return ns;
    },
  };
}

/** Median and range of a case's per-run throughput. */
export interface PeerThroughput {
  readonly suite: string;
  readonly name: string;
  readonly runs: number;
  readonly medianOpsPerSec: number;
  readonly minOpsPerSec: number;
  readonly maxOpsPerSec: number;
}

function median(sorted: readonly number[]): number {
  if (sorted.length === 0) return Number.NaN;
  const middle = Math.floor(sorted.length / 2);
  return sorted.length % 2 === 1
    ? (sorted[middle] ?? Number.NaN)
    : ((sorted[middle - 1] ?? Number.NaN) + (sorted[middle] ?? Number.NaN)) / 2;
}

/** The medians and ranges of every case of `suites` that ran. */
export function throughputOf(suites: readonly RunSuite[], samples: Samples): PeerThroughput[] {
  return suites.flatMap((runSuite) =>
    runSuite.cases.flatMap((benchCase): PeerThroughput[] => {
      const perJob = samples.get(sampleKey(runSuite.name, benchCase.name));
      if (perJob === undefined || perJob.length === 0) return [];
      const rates = perJob.map((ns) => 1e9 / ns).sort((a, b) => a - b);
      return [
        {
          suite: runSuite.name,
          name: benchCase.name,
          runs: rates.length,
          medianOpsPerSec: median(rates),
          minOpsPerSec: rates[0] ?? Number.NaN,
          maxOpsPerSec: rates[rates.length - 1] ?? Number.NaN,
        },
      ];
    }),
  );
}

export const jobsPerSec = (n: number): string => Math.round(n).toLocaleString('en-US');
export const ms = (ns: number): string => `${(ns / 1e6).toFixed(2)} ms`;
/** `12,345 (11,000-13,000)`: a median and its range. */
export const rateRange = (rate: PeerThroughput): string =>
  `${jobsPerSec(rate.medianOpsPerSec)} (${jobsPerSec(rate.minOpsPerSec)}-${jobsPerSec(rate.maxOpsPerSec)})`;

/** A table whose first column names rows and whose other columns are right-aligned. */
export function renderTable(header: readonly string[], rows: readonly (readonly string[])[]): string {
  const widths = header.map((title, column) =>
    Math.max(title.length, ...rows.map((row) => (row[column] ?? '').length)),
  );
  const render = (row: readonly string[]): string =>
    row
      .map((cell, column) => (column === 0 ? cell.padEnd(widths[column] ?? 0) : cell.padStart(widths[column] ?? 0)))
      .join('  ');
  return [render(header), widths.map((width) => '-'.repeat(width)).join('  '), ...rows.map(render)].join('\n');
}

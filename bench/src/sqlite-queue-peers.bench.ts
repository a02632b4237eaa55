/**
 * Berth's SQLite job queue side by side with the SQLite job queues users
 * would pick instead, plainjob and liteque, in the same run, each on a fresh
 * file in the same temporary folder: enqueue one at a time, enqueue in
 * batches, processing no-op jobs at concurrency 1, 10 and 50 (jobs/s from a
 * pre-filled queue until all are done), idle enqueue-to-start latency, and,
 * as diagnostics, the WAL pages each one writes per job and the raw
 * better-sqlite3 floor under Berth's and plainjob's enqueue: the same
 * statements on the same layout, through bare prepared statements, measured
 * in the same interleaved runs, so the report splits the gap between the two
 * into what the layout costs and what the library costs (peers/raw-floor.ts).
 *
 * Durability: each library runs with its own defaults, which are the same
 * here: WAL and synchronous = NORMAL (Berth's adapter, plainjob's
 * defineQueue and liteque's buildDBClient all set them). The report prints
 * what each connection reports. Tuning a peer away from its defaults would
 * compare Berth with a configuration its users do not run.
 *
 * Polling: neither peer can wake an idle worker when a job is enqueued; they
 * poll (both default to 1000 ms, which would make their idle latency about
 * half a second). They poll every BENCH_PEERS_POLL_MS (default 1 ms) here,
 * their fastest setting. Berth's worker keeps its defaults: an enqueue in the
 * same process wakes it.
 *
 * Targets (issue 10): Berth ahead of both peers on every row, and at least
 * 25 000 no-op jobs/s at concurrency 10.
 *
 *   BENCH_ONLY='^peers' pnpm bench                 # only this comparison
 *   tsx --conditions=@berth/source src/sqlite-queue-peers.bench.ts
 *   BENCH_PEERS_JOBS=2000 BENCH_PEERS_RUNS=3 …     # smaller processing runs
 *   (also BENCH_PEERS_ENQUEUE, BENCH_PEERS_LATENCY_SAMPLES, BENCH_PEERS_POLL_MS, BENCH_PEERS_WAL_JOBS)
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { cpus, loadavg, tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import Database from 'better-sqlite3';
import { type CaseResult, type LatencyResult, latencyResult, type RunCase, type RunSuite } from './harness.js';
import { berthPeer } from './peers/berth-peer.js';
import { litequePeer } from './peers/liteque-peer.js';
import type { PeerLibrary, PeerQueue } from './peers/peer-queue.js';
import {
  countFromEnv,
  drain,
  enqueueInBatches,
  enqueueOneByOne,
  handoffs,
  jobsPerSec,
  ms,
  type PeerThroughput,
  payloads,
  rateRange,
  recorded,
  renderTable,
  type Samples,
  throughputOf,
} from './peers/peer-runs.js';
import { plainjobPeer } from './peers/plainjob-peer.js';
import { berthLayoutFloor, type FloorLayout, plainjobLayoutFloor } from './peers/raw-floor.js';
import { WalMeter } from './peers/wal-meter.js';

export interface PeersConfig {
  /** Jobs enqueued per enqueue run (one at a time, or in batches). */
  readonly enqueueJobs: number;
  /** Jobs in one enqueueBatch call. */
  readonly batch: number;
  /** Jobs pre-filled before each processing run, all drained by the run. */
  readonly jobs: number;
  /** Measured runs per case, after one warmup run. */
  readonly runs: number;
  readonly latencySamples: number;
  /** How often an idle peer worker polls. */
  readonly pollMs: number;
  /** Jobs of each WAL measurement. */
  readonly walJobs: number;
}

export const defaultPeersConfig: PeersConfig = {
  enqueueJobs: 1_000,
  batch: 100,
  jobs: 2_000,
  runs: 3,
  latencySamples: 200,
  pollMs: 1,
  walJobs: 1_000,
};

export function peersConfigFromEnv(): PeersConfig {
  return {
    ...defaultPeersConfig,
    enqueueJobs: countFromEnv('BENCH_PEERS_ENQUEUE', defaultPeersConfig.enqueueJobs),
    jobs: countFromEnv('BENCH_PEERS_JOBS', defaultPeersConfig.jobs),
    runs: countFromEnv('BENCH_PEERS_RUNS', defaultPeersConfig.runs),
    latencySamples: countFromEnv('BENCH_PEERS_LATENCY_SAMPLES', defaultPeersConfig.latencySamples),
    pollMs: countFromEnv('BENCH_PEERS_POLL_MS', defaultPeersConfig.pollMs),
    walJobs: countFromEnv('BENCH_PEERS_WAL_JOBS', defaultPeersConfig.walJobs),
  };
}

/** liteque arms a timer per job for its timeout; a short one lets the process exit soon after the last run. */
const LITEQUE_TIMEOUT_SECS = 5;

export const PEERS_SUITES: {
  readonly enqueue: string;
  readonly batch: (size: number) => string;
  readonly process: (concurrency: number) => string;
  readonly latency: string;
  readonly wal: string;
} = {
  enqueue: 'peers: enqueue one at a time',
  batch: (size: number): string => `peers: enqueue in batches of ${size}`,
  process: (concurrency: number): string => `peers: process no-op jobs, concurrency ${concurrency}`,
  latency: 'peers: enqueue-to-start, idle worker',
  wal: 'peers: WAL written per job',
};

const CONCURRENCIES = [1, 10, 50] as const;
const LITEQUE_IN_TRANSACTION = 'liteque, batch in one transaction (undocumented)';

/** Fresh database files, all in one temporary folder. */
class BenchFiles {
  private directory: string | undefined;
  private count = 0;

  next(name: string): string {
    this.directory ??= mkdtempSync(join(tmpdir(), 'berth-bench-peers-'));
    this.count += 1;
    return join(this.directory, `${this.count}-${name.replace(/\W+/g, '-')}.db`);
  }

  /** Removes a database and its WAL and shared-memory files. */
  remove(file: string): void {
    for (const suffix of ['', '-wal', '-shm', '-journal']) rmSync(`${file}${suffix}`, { force: true });
  }

  removeAll(): void {
    if (this.directory !== undefined) rmSync(this.directory, { recursive: true, force: true });
    this.directory = undefined;
  }
}

/** A queue (a library's, or a floor's) opened on a fresh file in `setup` and closed in `teardown`. */
function openedCase<Q extends Pick<PeerQueue, 'close'>>(
  library: { readonly name: string; open(file: string): Promise<Q> },
  files: BenchFiles,
  name: string,
  run: (queue: Q, round: number) => Promise<number>,
): RunCase {
  let queue: Q | undefined;
  let round = 0;
  return {
    name,
    baseline: library.name === berthPeer.name,
    setup: async () => {
      queue = await library.open(files.next(library.name));
    },
    run: () => {
      if (queue === undefined) throw new Error('setup() has not run');
      round += 1;
      return run(queue, round);
    },
    teardown: () => queue?.close(),
  };
}

/** Opens a fresh file, fills it, times the drain, closes and removes the file. */
async function processRun(library: PeerLibrary, files: BenchFiles, jobs: number, concurrency: number): Promise<number> {
  const file = files.next(library.name);
  const queue = await library.open(file);
  try {
    await queue.fill(payloads(jobs));
    return await drain(queue, jobs, concurrency);
  } finally {
    await queue.close();
    files.remove(file);
  }
}

/** One idle worker on a fresh file; `samples` enqueues, each timed until its handler starts. */
async function handoffsOn(library: PeerLibrary, files: BenchFiles, samples: number): Promise<number[]> {
  const file = files.next(library.name);
  const queue = await library.open(file);
  try {
    return await handoffs(queue, samples);
  } finally {
    await queue.close();
    files.remove(file);
  }
}

/** WAL pages one library writes per job. */
export interface WalRow {
  readonly library: string;
  readonly pageSize: number;
  /** Enqueue one at a time. */
  readonly enqueue: number;
  /** Enqueue in batches. */
  readonly enqueueBatch: number;
  /** Claim and complete, concurrency 1 (after the one-at-a-time enqueues). */
  readonly settle1: number;
  /** Claim and complete, concurrency 10 (after the batched enqueues). */
  readonly settle10: number;
  /** Enqueue one at a time, claim and complete at concurrency 1: the whole life of a job. */
  readonly cycle: number;
}

async function walOf(library: PeerLibrary, files: BenchFiles, jobs: number, batch: number): Promise<WalRow> {
  const measure = async (
    enqueue: (queue: PeerQueue) => Promise<unknown>,
    concurrency: number,
  ): Promise<{ readonly enqueued: number; readonly total: number; readonly pageSize: number }> => {
    const file = files.next(library.name);
    const queue = await library.open(file);
    const meter = new WalMeter(file);
    try {
      meter.start();
      await enqueue(queue);
      const enqueued = meter.frames();
      await drain(queue, jobs, concurrency);
      return { enqueued, total: meter.frames(), pageSize: meter.pageSize };
    } finally {
      meter.close();
      await queue.close();
      files.remove(file);
    }
  };
  const single = await measure((queue) => enqueueOneByOne(queue, jobs, 0), 1);
  const batched = await measure((queue) => enqueueInBatches((items) => queue.enqueueBatch(items), jobs, batch, 0), 10);
  return {
    library: library.name,
    pageSize: single.pageSize,
    enqueue: single.enqueued / jobs,
    enqueueBatch: batched.enqueued / jobs,
    settle1: (single.total - single.enqueued) / jobs,
    settle10: (batched.total - batched.enqueued) / jobs,
    cycle: single.total / jobs,
  };
}

/** What one library runs with, as its connection reports it. */
export interface PeerDescription {
  readonly library: string;
  readonly config: string;
  readonly batch: string;
  readonly durability: string;
}

/** A raw better-sqlite3 floor's rate on one enqueue row, beside the rate of the library whose statements it runs. */
export interface FloorThroughput extends PeerThroughput {
  readonly library: string;
  readonly libraryMedianOpsPerSec: number;
  /** The library's median over the floor's (1: the library adds nothing to its statements). */
  readonly libraryOverFloor: number;
}

/** The comparison's part of the JSON report. */
export interface PeersReport {
  readonly config: PeersConfig;
  readonly sqliteVersion: string;
  readonly libraries: readonly PeerDescription[];
  /** The libraries' rows (the floors are in `floor`). */
  readonly throughput: readonly PeerThroughput[];
  /** Diagnostic, not a competitor: each library's enqueue statements on its own layout, through raw better-sqlite3. */
  readonly floor: readonly FloorThroughput[];
  readonly wal: readonly WalRow[];
  readonly targets: readonly string[];
}

/** The side-by-side comparison: its run suites, latency and WAL measurements, and its report. */
/** The peers comparison: its suites for the harness, the latency and WAL probes, and the report. */
export interface PeersBench {
  readonly config: PeersConfig;
  readonly runSuites: RunSuite[];
  latency(): Promise<LatencyResult[]>;
  wal(): Promise<WalRow[]>;
  describe(): Promise<PeerDescription[]>;
  report(
    descriptions: readonly PeerDescription[],
    latencies: readonly LatencyResult[],
    walRows: readonly WalRow[],
  ): { readonly text: string; readonly json: PeersReport };
  close(): void;
}

export function sqliteQueuePeersBench(config: PeersConfig = peersConfigFromEnv()): PeersBench {
  const files = new BenchFiles();
  const liteque = litequePeer(config.pollMs, LITEQUE_TIMEOUT_SECS);
  const libraries: readonly PeerLibrary[] = [berthPeer, plainjobPeer(config.pollMs), liteque];
  const floors: readonly FloorLayout[] = [berthLayoutFloor(), plainjobLayoutFloor()];
  const samples: Samples = new Map();

  const suite = (name: string, operations: number, cases: readonly RunCase[]): RunSuite => ({
    name,
    operations,
    runs: config.runs,
    cases: cases.map((benchCase) => recorded(name, benchCase, operations, samples)),
  });

  const runSuites: RunSuite[] = [
    suite(
      PEERS_SUITES.enqueue,
      config.enqueueJobs,
      [...libraries, ...floors].map((library) =>
        openedCase<Pick<PeerQueue, 'enqueue' | 'close'>>(library, files, library.name, (queue, round) =>
          enqueueOneByOne(queue, config.enqueueJobs, round * config.enqueueJobs),
        ),
      ),
    ),
    suite(PEERS_SUITES.batch(config.batch), config.enqueueJobs, [
      ...[...libraries, ...floors].map((library) =>
        openedCase<Pick<PeerQueue, 'enqueueBatch' | 'close'>>(library, files, library.name, (queue, round) =>
          enqueueInBatches(
            (items) => queue.enqueueBatch(items),
            config.enqueueJobs,
            config.batch,
            round * config.enqueueJobs,
          ),
        ),
      ),
      (() => {
        let queue: Awaited<ReturnType<typeof liteque.open>> | undefined;
        let round = 0;
        return {
          name: LITEQUE_IN_TRANSACTION,
          setup: async () => {
            queue = await liteque.open(files.next('liteque-tx'));
          },
          run: () => {
            if (queue === undefined) throw new Error('setup() has not run');
            const target = queue;
            round += 1;
            return enqueueInBatches(
              (items) => target.enqueueBatchInTransaction(items),
              config.enqueueJobs,
              config.batch,
              round * config.enqueueJobs,
            );
          },
          teardown: () => queue?.close(),
        };
      })(),
    ]),
    ...CONCURRENCIES.map((concurrency) =>
      suite(
        PEERS_SUITES.process(concurrency),
        config.jobs,
        libraries.map((library) => ({
          name: library.name,
          baseline: library === berthPeer,
          run: () => processRun(library, files, config.jobs, concurrency),
        })),
      ),
    ),
  ];

  async function latency(): Promise<LatencyResult[]> {
    const results: LatencyResult[] = [];
    let baseline: LatencyResult | undefined;
    for (const library of libraries) {
      const result = latencyResult(
        PEERS_SUITES.latency,
        library.name,
        await handoffsOn(library, files, config.latencySamples),
        baseline,
      );
      baseline ??= result;
      results.push(result);
    }
    return results;
  }

  async function wal(): Promise<WalRow[]> {
    const rows: WalRow[] = [];
    for (const library of libraries) rows.push(await walOf(library, files, config.walJobs, config.batch));
    return rows;
  }

  async function describe(): Promise<PeerDescription[]> {
    const descriptions: PeerDescription[] = [];
    for (const library of libraries) {
      const file = files.next(library.name);
      const queue = await library.open(file);
      try {
        descriptions.push({
          library: library.name,
          config: library.config,
          batch: library.batch,
          durability: queue.durability(),
        });
      } finally {
        await queue.close();
        files.remove(file);
      }
    }
    return descriptions;
  }

  const throughput = (): PeerThroughput[] => throughputOf(runSuites, samples);

  /** The floors' rates on the enqueue rows, each beside the rate of the library whose statements it runs. */
  function floorThroughput(measured: readonly PeerThroughput[]): FloorThroughput[] {
    return measured.flatMap((rate): FloorThroughput[] => {
      const floor = floors.find((candidate) => candidate.name === rate.name);
      if (floor === undefined) return [];
      const library = measured.find((candidate) => candidate.suite === rate.suite && candidate.name === floor.library);
      const libraryMedian = library?.medianOpsPerSec ?? Number.NaN;
      return [
        {
          ...rate,
          library: floor.library,
          libraryMedianOpsPerSec: libraryMedian,
          libraryOverFloor: libraryMedian / rate.medianOpsPerSec,
        },
      ];
    });
  }

  /** "ahead of both on every row" and the concurrency-10 floor, one line each. */
  function targets(rates: readonly PeerThroughput[], latencies: readonly LatencyResult[]): string[] {
    const lines: string[] = [];
    const peers = libraries.filter((library) => library !== berthPeer).map((library) => library.name);
    for (const runSuite of runSuites) {
      const rateOf = (name: string) =>
        rates.find((rate) => rate.suite === runSuite.name && rate.name === name)?.medianOpsPerSec;
      const berth = rateOf(berthPeer.name);
      if (berth === undefined) continue;
      const ratios = peers.map((peer) => ({ peer, ratio: berth / (rateOf(peer) ?? Number.NaN) }));
      const met = ratios.every(({ ratio }) => ratio > 1);
      lines.push(
        `ahead of both, ${runSuite.name.replace(/^peers: /, '')}: berth ${jobsPerSec(berth)} jobs/s = ${ratios
          .map(({ peer, ratio }) => `${ratio.toFixed(2)}x ${peer}`)
          .join(', ')} (medians): ${met ? 'met' : 'MISSED'}`,
      );
    }
    for (const percentile of ['p50Ns', 'p90Ns'] as const) {
      const berth = latencies.find((result) => result.name === berthPeer.name)?.[percentile];
      if (berth === undefined) continue;
      // The peer's latency over Berth's: above 1, Berth starts jobs sooner.
      const ratios = peers.map((peer) => {
        const theirs = latencies.find((result) => result.name === peer)?.[percentile] ?? Number.NaN;
        return { peer, theirs, ratio: theirs / berth };
      });
      const met = ratios.every(({ ratio }) => ratio > 1);
      lines.push(
        `ahead of both, idle enqueue-to-start ${percentile.slice(0, 3)}: berth ${ms(berth)}, ${ratios
          .map(({ peer, theirs, ratio }) => `${peer} ${ms(theirs)} (${ratio.toFixed(2)}x berth's)`)
          .join(', ')}: ${met ? 'met' : 'MISSED'}`,
      );
    }
    const ten = rates.find((rate) => rate.suite === PEERS_SUITES.process(10) && rate.name === berthPeer.name);
    if (ten !== undefined) {
      lines.push(
        `SQLite >= 25,000 no-op jobs/s at concurrency 10: ${jobsPerSec(ten.medianOpsPerSec)} (range ${jobsPerSec(ten.minOpsPerSec)}-${jobsPerSec(ten.maxOpsPerSec)}): ${ten.medianOpsPerSec >= 25_000 ? 'met' : 'MISSED'}`,
      );
    }
    return lines;
  }

  /** Medians and ranges, one row per measurement, one column per library. */
  function formatThroughput(rates: readonly PeerThroughput[], latencies: readonly LatencyResult[]): string {
    const names = libraries.map((library) => library.name);
    const rows: string[][] = runSuites.map((runSuite) => [
      `${runSuite.name.replace(/^peers: /, '')} (jobs/s)`,
      ...names.map((name) => {
        const rate = rates.find((candidate) => candidate.suite === runSuite.name && candidate.name === name);
        return rate === undefined ? '-' : rateRange(rate);
      }),
    ]);
    const extra = rates.find((rate) => rate.name === LITEQUE_IN_TRANSACTION);
    if (extra !== undefined) {
      rows.push([`  liteque: same batches in BEGIN/COMMIT`, '', '', rateRange(extra)]);
    }
    if (latencies.length > 0) {
      for (const [label, key] of [
        ['idle enqueue-to-start p50', 'p50Ns'],
        ['idle enqueue-to-start p90', 'p90Ns'],
      ] as const) {
        rows.push([
          label,
          ...names
            .map((name) => latencies.find((result) => result.name === name))
            .map((r) => (r === undefined ? '-' : ms(r[key]))),
        ]);
      }
    }
    return renderTable(['median (min-max) over runs', ...names], rows);
  }

  /**
   * Each floor beside its library, then, per row, Berth's rate over
   * plainjob's split in two factors whose product it is: floor over floor
   * (the layouts, same statements without a library) and each library's
   * share of its own floor (what the libraries' JavaScript costs).
   */
  function formatFloor(rows: readonly FloorThroughput[]): string {
    const suites = runSuites.filter((runSuite) => rows.some((row) => row.suite === runSuite.name));
    const rowOf = (suite: string, floor: FloorLayout) =>
      rows.find((row) => row.suite === suite && row.name === floor.name);
    const table = renderTable(
      ['raw better-sqlite3 floor (jobs/s)', ...floors.flatMap((floor) => [floor.name, floor.library, '/ floor'])],
      suites.map((runSuite) => [
        runSuite.name.replace(/^peers: /, ''),
        ...floors.flatMap((floor) => {
          const row = rowOf(runSuite.name, floor);
          return row === undefined
            ? ['-', '-', '-']
            : [
                `${jobsPerSec(row.medianOpsPerSec)} (${jobsPerSec(row.minOpsPerSec)}-${jobsPerSec(row.maxOpsPerSec)})`,
                jobsPerSec(row.libraryMedianOpsPerSec),
                `${row.libraryOverFloor.toFixed(2)}x`,
              ];
        }),
      ]),
    );
    const [ours, theirs] = floors;
    const splits = suites.flatMap((runSuite) => {
      const our = ours && rowOf(runSuite.name, ours);
      const their = theirs && rowOf(runSuite.name, theirs);
      if (our === undefined || their === undefined) return [];
      const layout = our.medianOpsPerSec / their.medianOpsPerSec;
      const library = our.libraryOverFloor / their.libraryOverFloor;
      return [
        `  ${runSuite.name.replace(/^peers: /, '')}: ${our.library} ${(our.libraryMedianOpsPerSec / their.libraryMedianOpsPerSec).toFixed(2)}x ${their.library}` +
          ` = layout ${layout.toFixed(2)}x (floor over floor) * library ${library.toFixed(2)}x` +
          ` (${our.libraryOverFloor.toFixed(2)} of its floor over ${their.libraryOverFloor.toFixed(2)})`,
      ];
    });
    return [
      table,
      "medians (floors' min-max); each floor runs its library's enqueue statements on that library's layout and",
      'pragmas through prepared statements alone (peers/raw-floor.ts), in the same interleaved runs as the libraries.',
      ...(splits.length > 0 ? ['where the gap comes from:', ...splits] : []),
    ].join('\n');
  }

  function formatWal(rows: readonly WalRow[]): string {
    const pages = (value: number, pageSize: number) =>
      `${value.toFixed(2)} (${((value * (pageSize + 24)) / 1024).toFixed(1)} KiB)`;
    return renderTable(
      [
        'WAL pages per job (KiB)',
        'enqueue',
        `enqueue x${config.batch}`,
        'claim+complete c=1',
        'claim+complete c=10',
        'full cycle c=1',
      ],
      rows.map((row) => [
        `${row.library} (page ${row.pageSize} B)`,
        pages(row.enqueue, row.pageSize),
        pages(row.enqueueBatch, row.pageSize),
        pages(row.settle1, row.pageSize),
        pages(row.settle10, row.pageSize),
        pages(row.cycle, row.pageSize),
      ]),
    );
  }

  return {
    config,
    runSuites,
    latency,
    wal,
    describe,
    /** The comparison's section of the printed report, and its part of the JSON report. */
    report(
      descriptions: readonly PeerDescription[],
      latencies: readonly LatencyResult[],
      walRows: readonly WalRow[],
    ): { readonly text: string; readonly json: PeersReport } {
      const measured = throughput();
      const floorRows = floorThroughput(measured);
      const rates = measured.filter((rate) => !floors.some((floor) => floor.name === rate.name));
      const ours = latencies.filter((result) => result.suite === PEERS_SUITES.latency);
      const lines = targets(rates, ours);
      const sqliteVersion = String(new Database(':memory:').prepare('SELECT sqlite_version()').pluck().get());
      const text = [
        `SQLite job queues side by side (SQLite ${sqliteVersion}; each on a fresh file in one tmp folder; ${config.runs} runs after one warmup;`,
        `enqueue ${config.enqueueJobs} jobs per run, processing ${config.jobs} pre-filled jobs per run, ${config.latencySamples} latency samples, WAL over ${config.walJobs} jobs;`,
        // Absolute figures move with the machine's load; the ratios, measured interleaved, much less.
        `load average ${loadavg()[0]?.toFixed(1)} on ${cpus().length} CPUs at the end)`,
        ...descriptions.map(
          (description) =>
            `  ${description.library}: ${description.durability}; ${description.config}; batches: ${description.batch}`,
        ),
        '',
        formatThroughput(rates, ours),
        ...(floorRows.length > 0 ? ['', formatFloor(floorRows)] : []),
        ...(walRows.length > 0 ? ['', formatWal(walRows)] : []),
        '',
        'targets (issue 10):',
        ...lines.map((line) => `  ${line}`),
      ].join('\n');
      return {
        text,
        json: {
          config,
          sqliteVersion,
          libraries: descriptions,
          throughput: rates,
          floor: floorRows,
          wal: walRows,
          targets: lines,
        },
      };
    },
    close: () => files.removeAll(),
  };
}

/** `tsx --conditions=@berth/source src/sqlite-queue-peers.bench.ts` runs this comparison alone. */
async function main(): Promise<void> {
  const { formatLatencyTable, formatTable, runRunSuites } = await import('./harness.js');
  const bench = sqliteQueuePeersBench();
  const progress = (result: { readonly suite: string; readonly name: string }): void => {
    process.stderr.write(`  done: ${result.suite} / ${result.name}\n`);
  };
  try {
    const descriptions = await bench.describe();
    const results: CaseResult[] = await runRunSuites(bench.runSuites, progress);
    const latency = await bench.latency();
    const wal = await bench.wal();
    console.log(`\n${formatTable(results)}\n\n${formatLatencyTable(latency)}\n`);
    console.log(bench.report(descriptions, latency, wal).text);
  } finally {
    bench.close();
  }
}

if (process.argv[1] !== undefined && fileURLToPath(import.meta.url) === resolve(process.argv[1])) await main();

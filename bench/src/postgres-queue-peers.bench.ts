/**
 * Berth's PostgreSQL job queue side by side with the PostgreSQL job queues
 * users would pick instead, pg-boss 12 and graphile-worker 0.18, in the same
 * run on the same server, each in fresh schemas of its own (dropped after):
 * enqueue one at a time, with 100 enqueues in flight, in batches of 100;
 * processing no-op jobs at concurrency 10 and 50 (jobs/s from a pre-filled
 * queue until all are done); idle enqueue-to-start latency.
 *
 * Every library runs in its fastest documented configuration, and where it
 * documents a faster one that changes what a worker holds (a local queue
 * that prefetches, batches a handler receives together) that one has a row
 * of its own: see pg-peers/*.ts for each. Berth runs its defaults, with
 * prefetch 0 and with BENCH_PG_PREFETCH jobs prefetched (default 100).
 *
 * Targets (issue 11), at concurrency 10: Berth without prefetch ≥ 2× pg-boss
 * (its faster configuration) and ≥ 2× graphile-worker (default); Berth with
 * prefetch ≥ graphile-worker batched; batch enqueue ≥ 2× graphile-worker;
 * idle enqueue-to-start p50 ≤ 3 ms. While Berth's queue is not built its
 * rows read "not available: …" and the peers still run.
 *
 * Every enqueue and every completion is a commit, and a commit waits for the
 * WAL to reach the disk: the latency table ends with one committed INSERT by
 * raw pg, timed the same way, which no queue on this server can beat.
 *
 *   pnpm bench:postgres                                # with the repository suites, under Node 22
 *   BENCH_ONLY='^postgres peers' pnpm bench:postgres   # only this comparison
 *   BENCH_PG_JOBS=2000 BENCH_PG_RUNS=2 …               # smaller processing runs
 *   (also BENCH_PG_ENQUEUE, BENCH_PG_LATENCY_SAMPLES, BENCH_PG_PREFETCH)
 */
import { cpus, loadavg } from 'node:os';
import { performance } from 'node:perf_hooks';
import { setTimeout as sleep } from 'node:timers/promises';
import { isBerthError } from '@berth/core';
import { type LatencyResult, latencyResult, type RunCase, type RunSuite } from './harness.js';
import { type PeerLibrary, type PeerQueue, task } from './peers/peer-queue.js';
import {
  countFromEnv,
  drain,
  enqueueConcurrently,
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
import { berthPgPeer } from './pg-peers/berth-pg-peer.js';
import { graphileWorkerPeer } from './pg-peers/graphile-worker-peer.js';
import { pgBossPeer } from './pg-peers/pg-boss-peer.js';
import { type BenchSchemas, quotedSchema } from './pg-peers/pg-database.js';
import { POSTGRES_PEERS_SUITES } from './postgres-suites.js';

export interface PgPeersConfig {
  /** Jobs enqueued per enqueue run. */
  readonly enqueueJobs: number;
  /** Enqueues awaited together in the concurrent enqueue suite. */
  readonly inFlight: number;
  /** Jobs in one batch enqueue. */
  readonly batch: number;
  /** Jobs pre-filled before each processing run, all drained by the run. */
  readonly jobs: number;
  /** Measured runs per case, after one warmup run. */
  readonly runs: number;
  readonly latencySamples: number;
  /** Berth's prefetch in its prefetching rows. */
  readonly prefetch: number;
}

export const defaultPgPeersConfig: PgPeersConfig = {
  enqueueJobs: 1_000,
  inFlight: 100,
  batch: 100,
  jobs: 2_000,
  runs: 3,
  latencySamples: 200,
  prefetch: 100,
};

export function pgPeersConfigFromEnv(): PgPeersConfig {
  return {
    ...defaultPgPeersConfig,
    enqueueJobs: countFromEnv('BENCH_PG_ENQUEUE', defaultPgPeersConfig.enqueueJobs),
    jobs: countFromEnv('BENCH_PG_JOBS', defaultPgPeersConfig.jobs),
    runs: countFromEnv('BENCH_PG_RUNS', defaultPgPeersConfig.runs),
    latencySamples: countFromEnv('BENCH_PG_LATENCY_SAMPLES', defaultPgPeersConfig.latencySamples),
    prefetch: countFromEnv('BENCH_PG_PREFETCH', defaultPgPeersConfig.prefetch),
  };
}

const CONCURRENCIES = [10, 50] as const;
/** The latency row of one committed INSERT by raw pg. */
const COMMIT_FLOOR = 'raw pg: one INSERT commit (floor)';

/** What one configuration runs with, for the report. */
export interface PgPeerDescription {
  readonly library: string;
  readonly config: string;
  readonly batch: string;
  /** What the server reports, or why the library did not run. */
  readonly durability: string;
}

/** The comparison's part of the JSON report. */
export interface PgPeersReport {
  readonly config: PgPeersConfig;
  readonly server: string;
  readonly loadAverage: number;
  readonly libraries: readonly PgPeerDescription[];
  readonly throughput: readonly PeerThroughput[];
  readonly latency: readonly LatencyResult[];
  /** Configurations that could not run, and why (Berth's queue before it is built). */
  readonly unavailable: Readonly<Record<string, string>>;
  readonly targets: readonly string[];
}

export interface PgPeersBench {
  readonly config: PgPeersConfig;
  readonly runSuites: RunSuite[];
  latency(): Promise<LatencyResult[]>;
  describe(): Promise<PgPeerDescription[]>;
  report(
    descriptions: readonly PgPeerDescription[],
    latencies: readonly LatencyResult[],
  ): { readonly text: string; readonly json: PgPeersReport };
}

export function postgresQueuePeersBench(
  schemas: BenchSchemas,
  config: PgPeersConfig = pgPeersConfigFromEnv(),
): PgPeersBench {
  const berth = berthPgPeer(0);
  const berthPrefetch = berthPgPeer(config.prefetch);
  const pgBoss = pgBossPeer('single');
  const pgBossBatch = pgBossPeer('batch');
  const graphile = graphileWorkerPeer('default');
  const graphileBatched = graphileWorkerPeer('batched');
  /** One row per library where the configuration does not change the measurement (enqueues, latency). */
  const libraries: readonly PeerLibrary[] = [berth, pgBoss, graphile];
  /** Every configuration, for processing. */
  const configurations: readonly PeerLibrary[] = [berth, berthPrefetch, pgBoss, pgBossBatch, graphile, graphileBatched];
  const samples: Samples = new Map();
  const unavailable = new Map<string, string>();

  /** Opens `library` in a fresh schema; notes UNSUPPORTED (Berth's queue not built yet) and rethrows. */
  async function open(library: PeerLibrary): Promise<{ queue: PeerQueue; schema: string }> {
    const schema = schemas.next(library.name);
    try {
      return { queue: await library.open(schema), schema };
    } catch (error) {
      if (isBerthError(error, 'UNSUPPORTED')) unavailable.set(library.name, error.message);
      await schemas.drop(schema);
      throw error;
    }
  }

  const suite = (name: string, operations: number, cases: readonly RunCase[]): RunSuite => ({
    name,
    operations,
    runs: config.runs,
    cases: cases.map((benchCase) => recorded(name, benchCase, operations, samples)),
  });

  /** A queue opened in `setup` and closed (its schema dropped) in `teardown`. */
  function openedCase(library: PeerLibrary, run: (queue: PeerQueue, round: number) => Promise<number>): RunCase {
    let opened: { queue: PeerQueue; schema: string } | undefined;
    let round = 0;
    return {
      name: library.name,
      baseline: library === berth,
      setup: async () => {
        opened = await open(library);
      },
      run: () => {
        if (opened === undefined) throw new Error('setup() has not run');
        round += 1;
        return run(opened.queue, round);
      },
      teardown: async () => {
        if (opened === undefined) return;
        await opened.queue.close();
        await schemas.drop(opened.schema);
      },
    };
  }

  async function processRun(library: PeerLibrary, concurrency: number): Promise<number> {
    const { queue, schema } = await open(library);
    try {
      await queue.fill(payloads(config.jobs));
      return await drain(queue, config.jobs, concurrency);
    } finally {
      await queue.close();
      await schemas.drop(schema);
    }
  }

  const runSuites: RunSuite[] = [
    suite(
      POSTGRES_PEERS_SUITES.enqueue,
      config.enqueueJobs,
      libraries.map((library) =>
        openedCase(library, (queue, round) => enqueueOneByOne(queue, config.enqueueJobs, round * config.enqueueJobs)),
      ),
    ),
    suite(
      POSTGRES_PEERS_SUITES.concurrent(config.inFlight),
      config.enqueueJobs,
      libraries.map((library) =>
        openedCase(library, (queue, round) =>
          enqueueConcurrently(queue, config.enqueueJobs, config.inFlight, round * config.enqueueJobs),
        ),
      ),
    ),
    suite(
      POSTGRES_PEERS_SUITES.batch(config.batch),
      config.enqueueJobs,
      libraries.map((library) =>
        openedCase(library, (queue, round) =>
          enqueueInBatches(
            (items) => queue.enqueueBatch(items),
            config.enqueueJobs,
            config.batch,
            round * config.enqueueJobs,
          ),
        ),
      ),
    ),
    ...CONCURRENCIES.map((concurrency) =>
      suite(
        POSTGRES_PEERS_SUITES.process(concurrency),
        config.jobs,
        configurations.map((library) => ({
          name: library.name,
          baseline: library === berth,
          run: () => processRun(library, concurrency),
        })),
      ),
    ),
  ];

  /**
   * The server's floor under any enqueue-to-start: one committed single-row
   * INSERT by raw pg (a WAL flush), timed like the handoffs, in the same run.
   */
  async function commitFloor(baseline: LatencyResult | undefined): Promise<LatencyResult> {
    const schema = await schemas.create('floor');
    const table = `${quotedSchema(schema)}.floor`;
    try {
      await schemas.pool.query(`CREATE TABLE ${table} (id bigint PRIMARY KEY, data jsonb NOT NULL)`);
      const samples: number[] = [];
      for (let i = 0; i < 20 + config.latencySamples; i += 1) {
        const begin = performance.now();
        await schemas.pool.query({
          name: `floor_${schema}`,
          text: `INSERT INTO ${table} (id, data) VALUES ($1, $2)`,
          values: [i, JSON.stringify(task(i))],
        });
        if (i >= 20) samples.push((performance.now() - begin) * 1e6);
        await sleep(2 + (i % 3));
      }
      return latencyResult(POSTGRES_PEERS_SUITES.latency, COMMIT_FLOOR, samples, baseline);
    } finally {
      await schemas.drop(schema);
    }
  }

  async function latency(): Promise<LatencyResult[]> {
    const results: LatencyResult[] = [];
    let baseline: LatencyResult | undefined;
    for (const library of libraries) {
      let opened: { queue: PeerQueue; schema: string };
      try {
        opened = await open(library);
      } catch (error) {
        if (isBerthError(error, 'UNSUPPORTED')) continue;
        throw error;
      }
      try {
        const result = latencyResult(
          POSTGRES_PEERS_SUITES.latency,
          library.name,
          await handoffs(opened.queue, config.latencySamples),
          baseline,
        );
        // Berth is the baseline when it runs; otherwise the ratios are against the first peer.
        baseline ??= result;
        results.push(result);
      } finally {
        await opened.queue.close();
        await schemas.drop(opened.schema);
      }
    }
    results.push(await commitFloor(baseline));
    return results;
  }

  async function describe(): Promise<PgPeerDescription[]> {
    const descriptions: PgPeerDescription[] = [];
    for (const library of configurations) {
      let durability: string;
      try {
        const { queue, schema } = await open(library);
        durability = queue.durability();
        await queue.close();
        await schemas.drop(schema);
      } catch (error) {
        if (!isBerthError(error, 'UNSUPPORTED')) throw error;
        durability = `not available: ${error.message}`;
      }
      descriptions.push({ library: library.name, config: library.config, batch: library.batch, durability });
    }
    return descriptions;
  }

  function targets(rates: readonly PeerThroughput[], latencies: readonly LatencyResult[]): string[] {
    const rateOf = (suiteName: string, library: PeerLibrary): number | undefined =>
      rates.find((rate) => rate.suite === suiteName && rate.name === library.name)?.medianOpsPerSec;
    const notRun = (library: PeerLibrary): string =>
      `${library.name} not measured${unavailable.has(library.name) ? ` (not available: ${unavailable.get(library.name)})` : ''}`;
    /** `ours` at least `factor` times each of `theirs` (medians). */
    const atLeast = (
      label: string,
      suiteName: string,
      ours: PeerLibrary,
      factor: number,
      theirs: readonly PeerLibrary[],
    ): string[] => {
      const peerRates = theirs.map((peer) => ({ peer, rate: rateOf(suiteName, peer) }));
      // A suite BENCH_ONLY left out has no line.
      if (!rates.some((rate) => rate.suite === suiteName)) return [];
      const peersText = peerRates
        .map(({ peer, rate }) => `${peer.name} ${rate === undefined ? '-' : jobsPerSec(rate)}/s`)
        .join(', ');
      const best = Math.max(...peerRates.map(({ rate }) => rate ?? Number.NaN));
      const ourRate = rateOf(suiteName, ours);
      if (ourRate === undefined) return [`${label} (target ≥ ${factor}x; ${peersText}): ${notRun(ours)}`];
      const ratio = ourRate / best;
      return [
        `${label}: ${ours.name} ${jobsPerSec(ourRate)}/s = ${ratio.toFixed(2)}x (${peersText}) (target ≥ ${factor}x): ${ratio >= factor ? 'met' : 'MISSED'}`,
      ];
    };
    const ten = POSTGRES_PEERS_SUITES.process(10);
    const lines = [
      ...atLeast('no prefetch, concurrency 10, vs pg-boss (faster config)', ten, berth, 2, [pgBoss, pgBossBatch]),
      ...atLeast('no prefetch, concurrency 10, vs graphile-worker (default)', ten, berth, 2, [graphile]),
      ...atLeast('prefetch, concurrency 10, vs graphile-worker batched', ten, berthPrefetch, 1, [graphileBatched]),
      ...atLeast('batch enqueue vs graphile-worker', POSTGRES_PEERS_SUITES.batch(config.batch), berth, 2, [graphile]),
    ];
    const ours = latencies.find((result) => result.name === berth.name);
    const peersLatency = latencies
      .filter((result) => result.name !== berth.name)
      .map((result) => `${result.name} ${ms(result.p50Ns)}`)
      .join(', ');
    if (latencies.length === 0) return lines;
    lines.push(
      ours === undefined
        ? `idle enqueue-to-start p50 (target ≤ 3 ms; ${peersLatency}): ${notRun(berth)}`
        : `idle enqueue-to-start p50: ${ms(ours.p50Ns)} (${peersLatency}) (target ≤ 3 ms): ${ours.p50Ns <= 3e6 ? 'met' : 'MISSED'}`,
    );
    return lines;
  }

  function formatThroughput(rates: readonly PeerThroughput[], latencies: readonly LatencyResult[]): string {
    const cell = (rate: PeerThroughput | undefined, library: PeerLibrary): string =>
      rate !== undefined ? rateRange(rate) : unavailable.has(library.name) ? 'not available' : '-';
    const rows: string[][] = runSuites.flatMap((runSuite) => {
      // A suite BENCH_ONLY left out has no rows.
      if (!rates.some((rate) => rate.suite === runSuite.name)) return [];
      const shown = runSuite.name.startsWith('postgres peers: process') ? configurations : libraries;
      return shown.map((library) => [
        `${runSuite.name.replace(/^postgres peers: /, '')} (jobs/s)`,
        library.name,
        cell(
          rates.find((rate) => rate.suite === runSuite.name && rate.name === library.name),
          library,
        ),
      ]);
    });
    for (const name of latencies.length === 0 ? [] : [...libraries.map((library) => library.name), COMMIT_FLOOR]) {
      const result = latencies.find((candidate) => candidate.name === name);
      rows.push([
        'idle enqueue-to-start p50 / p90',
        name,
        result !== undefined
          ? `${ms(result.p50Ns)} / ${ms(result.p90Ns)}`
          : unavailable.has(name)
            ? 'not available'
            : '-',
      ]);
    }
    return renderTable(['measurement', 'library (configuration)', 'median (min-max) over runs'], rows);
  }

  return {
    config,
    runSuites,
    latency,
    describe,
    report(descriptions, latencies) {
      const rates = throughputOf(runSuites, samples);
      const ours = latencies.filter((result) => result.suite === POSTGRES_PEERS_SUITES.latency);
      const lines = targets(rates, ours);
      const load = loadavg()[0] ?? Number.NaN;
      const server = schemas.url.replace(/\/\/[^@/]*@/, '//');
      const text = [
        `PostgreSQL job queues side by side (${server}; each in fresh schemas; ${config.runs} runs after one warmup;`,
        `enqueue ${config.enqueueJobs} jobs per run, processing ${config.jobs} pre-filled jobs per run, ${config.latencySamples} latency samples;`,
        // Absolute figures move with the machine's load; the ratios, measured interleaved, much less.
        `load average ${load.toFixed(1)} on ${cpus().length} CPUs at the end)`,
        ...descriptions.map(
          (description) =>
            `  ${description.library}: ${description.durability}; ${description.config}; batches: ${description.batch}`,
        ),
        '',
        formatThroughput(rates, ours),
        '',
        'targets (issue 11):',
        ...lines.map((line) => `  ${line}`),
      ].join('\n');
      return {
        text,
        json: {
          config,
          server,
          loadAverage: load,
          libraries: descriptions,
          throughput: rates,
          latency: ours,
          unavailable: Object.fromEntries(unavailable),
          targets: lines,
        },
      };
    },
  };
}

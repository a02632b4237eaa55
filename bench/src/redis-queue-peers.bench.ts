/**
 * Berth's Redis job queue side by side with BullMQ 6.7 (the Redis job
 * queue users would pick instead), in the same run on the same server, each
 * under fresh key prefixes of its own (deleted after): enqueue one at a
 * time, with 100 enqueues in flight, in batches of 100; processing no-op
 * jobs at concurrency 10 and 50 (jobs/s from the worker's start, on a
 * pre-filled queue, until none is left); idle enqueue-to-start latency.
 *
 * BullMQ runs in its fastest documented configuration (see
 * redis-peers/bullmq-peer.ts), Berth through the port on a `RedisBackend`
 * at its defaults (`backend.queue('jobs', { retention })`), with the
 * retention that matches BullMQ's `removeOnComplete`
 * (redis-peers/berth-redis-peer.ts). The processing suites have a second
 * Berth row with `work(handler, { concurrency, prefetch })`
 * (BENCH_REDIS_PREFETCH jobs, default 100): the port's option documented
 * for throughput, as BullMQ's row runs its fastest documented settings.
 *
 * Targets (issue 12): at concurrency 10 Berth ≥ 1.5× BullMQ's jobs/s (the
 * row without prefetch; the prefetch row's ratio is reported beside it);
 * idle enqueue-to-start p50 no worse than BullMQ's.
 *
 * Berth's idle latency has a second row, its worker on another `RedisBackend`
 * on the same prefix (what a worker in another process sees: a PUBLISH
 * wakes it, then it claims), beside the first, where the enqueue leases the
 * job for the idle worker of its own backend in its script (the in-process
 * hand-off).
 * The target compares the first, as BullMQ's row also enqueues and works in
 * one process.
 *
 * The latency table ends with the bare handoff by raw ioredis (an LPUSH
 * waking a BLPOP on another connection), timed the same way: one round
 * trip each way, which no queue on this server beats.
 *
 *   BENCH_ONLY='^redis peers' pnpm bench
 *   BENCH_REDIS_JOBS=2000 BENCH_REDIS_RUNS=2 …   # smaller processing runs
 *   (also BENCH_REDIS_ENQUEUE, BENCH_REDIS_LATENCY_SAMPLES, BENCH_REDIS_PREFETCH)
 */
import { cpus, loadavg } from 'node:os';
import { performance } from 'node:perf_hooks';
import { setTimeout as sleep } from 'node:timers/promises';
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
import {
  berthRedisQueue,
  berthRedisQueuePeer,
  berthRedisQueueRemoteWorkerPeer,
} from './redis-peers/berth-redis-peer.js';
import { bullmqPeer } from './redis-peers/bullmq-peer.js';
import type { BenchPrefixes } from './redis-peers/redis-server.js';
import { REDIS_PEERS_SUITES } from './redis-suites.js';

export interface RedisPeersConfig {
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
  /** Berth's prefetch in its prefetching processing rows. */
  readonly prefetch: number;
}

export const defaultRedisPeersConfig: RedisPeersConfig = {
  enqueueJobs: 2_000,
  inFlight: 100,
  batch: 100,
  jobs: 10_000,
  runs: 3,
  latencySamples: 200,
  prefetch: 100,
};

export function redisPeersConfigFromEnv(): RedisPeersConfig {
  return {
    ...defaultRedisPeersConfig,
    enqueueJobs: countFromEnv('BENCH_REDIS_ENQUEUE', defaultRedisPeersConfig.enqueueJobs),
    jobs: countFromEnv('BENCH_REDIS_JOBS', defaultRedisPeersConfig.jobs),
    runs: countFromEnv('BENCH_REDIS_RUNS', defaultRedisPeersConfig.runs),
    latencySamples: countFromEnv('BENCH_REDIS_LATENCY_SAMPLES', defaultRedisPeersConfig.latencySamples),
    prefetch: countFromEnv('BENCH_REDIS_PREFETCH', defaultRedisPeersConfig.prefetch),
  };
}

const CONCURRENCIES = [10, 50] as const;
/** The latency row of the bare handoff by raw ioredis. */
const HANDOFF_FLOOR = 'raw ioredis: LPUSH wakes BLPOP (floor)';

/** What one library runs with, for the report. */
export interface RedisPeerDescription {
  readonly library: string;
  readonly config: string;
  readonly batch: string;
  /** What the server reports of durability and eviction. */
  readonly server: string;
}

/** The comparison's part of the JSON report. */
export interface RedisPeersReport {
  readonly config: RedisPeersConfig;
  readonly server: string;
  readonly loadAverage: number;
  readonly libraries: readonly RedisPeerDescription[];
  readonly throughput: readonly PeerThroughput[];
  readonly latency: readonly LatencyResult[];
  readonly targets: readonly string[];
}

export interface RedisPeersBench {
  readonly config: RedisPeersConfig;
  readonly runSuites: RunSuite[];
  latency(): Promise<LatencyResult[]>;
  describe(): Promise<RedisPeerDescription[]>;
  report(
    descriptions: readonly RedisPeerDescription[],
    latencies: readonly LatencyResult[],
  ): { readonly text: string; readonly json: RedisPeersReport };
}

export function redisQueuePeersBench(
  prefixes: BenchPrefixes,
  config: RedisPeersConfig = redisPeersConfigFromEnv(),
): RedisPeersBench {
  const berth: PeerLibrary = berthRedisQueuePeer;
  const bullmq = bullmqPeer();
  const libraries: readonly PeerLibrary[] = [berth, bullmq];
  const berthPrefetch = berthRedisQueue(config.prefetch);
  // Prefetch changes only how a worker claims, so only the processing suites have its row.
  const processLibraries: readonly PeerLibrary[] = [berth, berthPrefetch, bullmq];
  // The idle latency also of a Berth worker apart from the enqueuer (no in-process hand-off), BullMQ's path.
  const latencyLibraries: readonly PeerLibrary[] = [berth, berthRedisQueueRemoteWorkerPeer, bullmq];
  const samples: Samples = new Map();

  /** Opens `library` under a fresh prefix, deleted again if the opening fails. */
  async function open(library: PeerLibrary): Promise<{ queue: PeerQueue; prefix: string }> {
    const prefix = prefixes.next(library.name);
    try {
      return { queue: await library.open(prefix), prefix };
    } catch (error) {
      await prefixes.drop(prefix);
      throw error;
    }
  }

  async function shut(opened: { queue: PeerQueue; prefix: string }): Promise<void> {
    try {
      await opened.queue.close();
    } finally {
      await prefixes.drop(opened.prefix);
    }
  }

  const suite = (name: string, operations: number, cases: readonly RunCase[]): RunSuite => ({
    name,
    operations,
    runs: config.runs,
    cases: cases.map((benchCase) => recorded(name, benchCase, operations, samples)),
  });

  /** A queue opened in `setup` and closed (its keys deleted) in `teardown`. */
  function openedCase(library: PeerLibrary, run: (queue: PeerQueue, round: number) => Promise<number>): RunCase {
    let opened: { queue: PeerQueue; prefix: string } | undefined;
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
        if (opened !== undefined) await shut(opened);
      },
    };
  }

  async function processRun(library: PeerLibrary, concurrency: number): Promise<number> {
    const opened = await open(library);
    try {
      await opened.queue.fill(payloads(config.jobs));
      return await drain(opened.queue, config.jobs, concurrency);
    } finally {
      await shut(opened);
    }
  }

  const runSuites: RunSuite[] = [
    suite(
      REDIS_PEERS_SUITES.enqueue,
      config.enqueueJobs,
      libraries.map((library) =>
        openedCase(library, (queue, round) => enqueueOneByOne(queue, config.enqueueJobs, round * config.enqueueJobs)),
      ),
    ),
    suite(
      REDIS_PEERS_SUITES.concurrent(config.inFlight),
      config.enqueueJobs,
      libraries.map((library) =>
        openedCase(library, (queue, round) =>
          enqueueConcurrently(queue, config.enqueueJobs, config.inFlight, round * config.enqueueJobs),
        ),
      ),
    ),
    suite(
      REDIS_PEERS_SUITES.batch(config.batch),
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
        REDIS_PEERS_SUITES.process(concurrency),
        config.jobs,
        processLibraries.map((library) => ({
          name: library.name,
          baseline: library === berth,
          run: () => processRun(library, concurrency),
        })),
      ),
    ),
  ];

  /**
   * The server's floor under any enqueue-to-start: an LPUSH of the job's
   * JSON waking a BLPOP on a second connection, parsed there, timed like the
   * handoffs (20 warmups, pauses of 2 to 4 ms), in the same run.
   */
  async function handoffFloor(baseline: LatencyResult | undefined): Promise<LatencyResult> {
    const prefix = prefixes.next('floor');
    const list = `${prefix}list`;
    const blocking = prefixes.redis.duplicate();
    try {
      await blocking.connect();
      const samples: number[] = [];
      for (let i = 0; i < 20 + config.latencySamples; i += 1) {
        const popped = blocking.blpop(list, 5).then((reply) => {
          if (reply === null) throw new Error('BLPOP timed out');
          JSON.parse(reply[1]);
          return performance.now();
        });
        // Let the BLPOP reach the server first, as an idle worker's wait has.
        await sleep(1);
        const begin = performance.now();
        await prefixes.redis.lpush(list, JSON.stringify(task(i)));
        const end = await popped;
        if (i >= 20) samples.push((end - begin) * 1e6);
        await sleep(1 + (i % 3));
      }
      return latencyResult(REDIS_PEERS_SUITES.latency, HANDOFF_FLOOR, samples, baseline);
    } finally {
      blocking.disconnect();
      await prefixes.drop(prefix);
    }
  }

  async function latency(): Promise<LatencyResult[]> {
    const results: LatencyResult[] = [];
    let baseline: LatencyResult | undefined;
    for (const library of latencyLibraries) {
      const opened = await open(library);
      try {
        const result = latencyResult(
          REDIS_PEERS_SUITES.latency,
          library.name,
          await handoffs(opened.queue, config.latencySamples),
          baseline,
        );
        // Berth's first row is the baseline of the ratios.
        baseline ??= result;
        results.push(result);
      } finally {
        await shut(opened);
      }
    }
    results.push(await handoffFloor(baseline));
    return results;
  }

  async function describe(): Promise<RedisPeerDescription[]> {
    const descriptions: RedisPeerDescription[] = [];
    for (const library of processLibraries) {
      const opened = await open(library);
      let server: string;
      try {
        server = opened.queue.durability();
      } finally {
        await shut(opened);
      }
      descriptions.push({ library: library.name, config: library.config, batch: library.batch, server });
    }
    return descriptions;
  }

  function targets(rates: readonly PeerThroughput[], latencies: readonly LatencyResult[]): string[] {
    const notRun = (library: PeerLibrary): string => `${library.name} not measured`;
    const lines: string[] = [];
    const ten = REDIS_PEERS_SUITES.process(10);
    // A suite BENCH_ONLY left out has no line.
    if (rates.some((rate) => rate.suite === ten)) {
      const rateOf = (library: PeerLibrary): number | undefined =>
        rates.find((rate) => rate.suite === ten && rate.name === library.name)?.medianOpsPerSec;
      const theirs = rateOf(bullmq);
      const peerText = `bullmq ${theirs === undefined ? '-' : jobsPerSec(theirs)}/s`;
      for (const library of [berth, berthPrefetch]) {
        const ours = rateOf(library);
        const what =
          library === berth ? 'concurrency 10 vs BullMQ' : `concurrency 10, prefetch ${config.prefetch}, vs BullMQ`;
        if (ours === undefined || theirs === undefined) {
          lines.push(`${what} (target ≥ 1.5x; ${peerText}): ${notRun(ours === undefined ? library : bullmq)}`);
        } else {
          const ratio = ours / theirs;
          lines.push(
            `${what}: ${library.name} ${jobsPerSec(ours)}/s = ${ratio.toFixed(2)}x (${peerText}) (target ≥ 1.5x): ${ratio >= 1.5 ? 'met' : 'MISSED'}`,
          );
        }
      }
    }
    if (latencies.length > 0) {
      const ours = latencies.find((result) => result.name === berth.name);
      const theirs = latencies.find((result) => result.name === bullmq.name);
      const peerText = `bullmq ${theirs === undefined ? '-' : ms(theirs.p50Ns)}`;
      lines.push(
        ours === undefined || theirs === undefined
          ? `idle enqueue-to-start p50 (target ≤ BullMQ's; ${peerText}): ${notRun(ours === undefined ? berth : bullmq)}`
          : `idle enqueue-to-start p50: berth ${ms(ours.p50Ns)} (${peerText}) (target ≤ BullMQ's): ${ours.p50Ns <= theirs.p50Ns ? 'met' : 'MISSED'}`,
      );
    }
    return lines;
  }

  function formatThroughput(rates: readonly PeerThroughput[], latencies: readonly LatencyResult[]): string {
    const cell = (rate: PeerThroughput | undefined): string => (rate !== undefined ? rateRange(rate) : '-');
    const rows: string[][] = runSuites.flatMap((runSuite) => {
      if (!rates.some((rate) => rate.suite === runSuite.name)) return [];
      const rowLibraries = runSuite.cases.some((benchCase) => benchCase.name === berthPrefetch.name)
        ? processLibraries
        : libraries;
      return rowLibraries.map((library) => [
        `${runSuite.name.replace(/^redis peers: /, '')} (jobs/s)`,
        library.name,
        cell(rates.find((rate) => rate.suite === runSuite.name && rate.name === library.name)),
      ]);
    });
    for (const name of latencies.length === 0
      ? []
      : [...latencyLibraries.map((library) => library.name), HANDOFF_FLOOR]) {
      const result = latencies.find((candidate) => candidate.name === name);
      rows.push([
        'idle enqueue-to-start p50 / p90',
        name,
        result !== undefined ? `${ms(result.p50Ns)} / ${ms(result.p90Ns)}` : '-',
      ]);
    }
    return renderTable(['measurement', 'library', 'median (min-max) over runs'], rows);
  }

  return {
    config,
    runSuites,
    latency,
    describe,
    report(descriptions, latencies) {
      const rates = throughputOf(runSuites, samples);
      const ours = latencies.filter((result) => result.suite === REDIS_PEERS_SUITES.latency);
      const lines = targets(rates, ours);
      const load = loadavg()[0] ?? Number.NaN;
      const server = prefixes.url.replace(/\/\/[^@/]*@/, '//');
      const text = [
        `Redis job queues side by side (${server}; each under fresh key prefixes; ${config.runs} runs after one warmup;`,
        `enqueue ${config.enqueueJobs} jobs per run, processing ${config.jobs} pre-filled jobs per run, ${config.latencySamples} latency samples;`,
        // Absolute figures move with the machine's load; the ratios, measured interleaved, much less.
        `load average ${load.toFixed(1)} on ${cpus().length} CPUs at the end)`,
        ...descriptions.map(
          (description) =>
            `  ${description.library}: ${description.server}; ${description.config}; batches: ${description.batch}`,
        ),
        '',
        formatThroughput(rates, ours),
        '',
        'targets (issue 12):',
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
          targets: lines,
        },
      };
    },
  };
}

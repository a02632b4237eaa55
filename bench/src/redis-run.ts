/**
 * Runs the Redis benchmarks (Berth's repository against raw ioredis, and
 * Berth's job queue beside BullMQ) for `run.ts`, which prints their text
 * and puts their report in its JSON:
 *
 *   BENCH_ONLY='^redis' pnpm bench                 # all of them
 *   BENCH_ONLY='^redis (?!peers)' pnpm bench       # the repository against raw ioredis
 *   BENCH_ONLY='^redis peers' pnpm bench           # the job queues side by side
 *   BERTH_REDIS_URL=redis://… pnpm bench           # another server (default: the tests' 127.0.0.1:6379)
 *
 * Everything is written under `bench:<label>_<pid>_<time>_<n>:` key
 * prefixes, deleted with SCAN + UNLINK at the end; a run killed midway
 * leaves its keys behind (`redis-cli --scan --pattern 'bench:*'` lists them).
 */
import { cpus, loadavg } from 'node:os';
import {
  type BenchOptions,
  type CaseResult,
  formatLatencyTable,
  formatTable,
  formatTargets,
  type LatencyResult,
  runRunSuites,
  runSuites,
} from './harness.js';
import { BenchPrefixes } from './redis-peers/redis-server.js';
import { type RedisPeersReport, redisQueuePeersBench } from './redis-queue-peers.bench.js';
import { redisRepositoryBench, redisRepositoryTargets } from './redis-repository.bench.js';
import { REDIS_PEERS_SUITES } from './redis-suites.js';

/** What the Redis benchmarks measured, as the JSON report holds it. */
export interface RedisReport {
  readonly server: string;
  /** The one-minute load average when the suites were done (2 shared cores: it moves every absolute figure). */
  readonly loadAverage: number;
  readonly results: readonly CaseResult[];
  readonly latency: readonly LatencyResult[];
  readonly peers?: RedisPeersReport | undefined;
}

/** The report, and everything to print, in order. */
export interface RedisBenchResults {
  readonly report: RedisReport;
  readonly text: string;
}

/** Runs the Redis suites whose names `only` matches (all without it). */
export async function runRedisBenches(
  options: BenchOptions,
  only: RegExp | undefined,
  progress: (result: { readonly suite: string; readonly name: string }) => void,
): Promise<RedisBenchResults> {
  const wants = (name: string): boolean => only === undefined || only.test(name);
  const selected = <T extends { readonly name: string }>(suites: readonly T[]): T[] =>
    suites.filter((suite) => wants(suite.name));
  const prefixes = new BenchPrefixes();
  try {
    await prefixes.reachable();
    const server = await prefixes.describe();
    const repository = await redisRepositoryBench(prefixes);
    const peers = redisQueuePeersBench(prefixes);
    try {
      const loadBefore = loadavg()[0] ?? Number.NaN;
      const results = [
        ...(await runSuites(selected(repository.suites), options, progress)),
        ...(await runRunSuites(selected([...repository.runSuites, ...peers.runSuites]), progress)),
      ];
      const peersSelected = selected(peers.runSuites).length > 0 || wants(REDIS_PEERS_SUITES.latency);
      const latency = wants(REDIS_PEERS_SUITES.latency) ? await peers.latency() : [];
      for (const result of latency) progress(result);
      const peersReport = peersSelected ? peers.report(await peers.describe(), latency) : undefined;
      const loadAverage = loadavg()[0] ?? Number.NaN;
      const repositoryRan = results.some((result) => !result.suite.startsWith('redis peers'));
      const text = [
        `${server}, node ${process.version}; load average ${loadBefore.toFixed(1)} at the start, ` +
          `${loadAverage.toFixed(1)} at the end, on ${cpus().length} CPUs`,
        '',
        ...(results.length > 0 ? [formatTable(results), ''] : []),
        ...(latency.length > 0 ? [formatLatencyTable(latency), ''] : []),
        ...(repositoryRan
          ? [
              'targets (issue 12), repository against raw ioredis:',
              formatTargets(results, redisRepositoryTargets)
                .split('\n')
                .map((line) => `  ${line}`)
                .join('\n'),
              '',
            ]
          : []),
        ...(peersReport === undefined ? [] : [peersReport.text]),
      ].join('\n');
      return { report: { server, loadAverage, results, latency, peers: peersReport?.json }, text };
    } finally {
      await repository.close();
    }
  } finally {
    await prefixes.dropAll();
  }
}

/**
 * Runs the PostgreSQL benchmarks (Berth's repository against raw `pg`, and
 * Berth's job queue beside pg-boss and graphile-worker), prints their tables
 * and targets and writes bench/results/postgres/<timestamp>.json and
 * latest.json. pg-boss 12 and graphile-worker 0.18 need Node 22:
 *
 *   pnpm bench:postgres                                   # under Node 22 from .node-matrix/
 *   BENCH_ONLY='^postgres peers' pnpm bench:postgres      # only the queue comparison
 *   BENCH_ONLY='^postgres (?!peers)' pnpm bench:postgres  # only the repository suites
 *   BERTH_POSTGRES_URL=postgres://… pnpm bench:postgres   # another server (default: the tests' local one)
 *
 * `pnpm bench` (run.ts) runs this too when Node is 22 or later and BENCH_ONLY
 * selects a PostgreSQL suite (or is unset); under an older Node it says to
 * use `pnpm bench:postgres`.
 */
import { resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import {
  type BenchOptions,
  type BenchReport,
  type CaseResult,
  defaultOptions,
  environment,
  formatLatencyTable,
  formatTable,
  formatTargets,
  type LatencyResult,
  runRunSuites,
  runSuites,
  writeReport,
} from './harness.js';
import { BenchSchemas } from './pg-peers/pg-database.js';
import { type PgPeersReport, postgresQueuePeersBench } from './postgres-queue-peers.bench.js';
import { postgresRepositoryBench, postgresRepositoryTargets } from './postgres-repository.bench.js';
import { POSTGRES_BENCH_NODE_MAJOR, POSTGRES_PEERS_SUITES, postgresNodeMessage } from './postgres-suites.js';

/** What the PostgreSQL benchmarks measured, as the JSON report holds it. */
export interface PostgresReport {
  readonly server: { readonly version: string; readonly synchronousCommit: string };
  readonly results: readonly CaseResult[];
  readonly latency: readonly LatencyResult[];
  readonly peers?: PgPeersReport | undefined;
}

/** The report, and everything to print, in order. */
export interface PostgresBenchResults {
  readonly report: PostgresReport;
  readonly text: string;
}

/** Runs the PostgreSQL suites whose names `only` matches (all without it). */
export async function runPostgresBenches(
  options: BenchOptions,
  only: RegExp | undefined,
  progress: (result: { readonly suite: string; readonly name: string }) => void,
): Promise<PostgresBenchResults> {
  const major = Number(process.versions.node.split('.')[0]);
  if (major < POSTGRES_BENCH_NODE_MAJOR) throw new Error(postgresNodeMessage());
  const wants = (name: string): boolean => only === undefined || only.test(name);
  const selected = <T extends { readonly name: string }>(suites: readonly T[]): T[] =>
    suites.filter((suite) => wants(suite.name));
  const schemas = new BenchSchemas();
  try {
    await schemas.reachable();
    const server = await schemas.describe();
    const repository = await postgresRepositoryBench(schemas);
    const peers = postgresQueuePeersBench(schemas);
    try {
      const results = [
        ...(await runSuites(selected(repository.suites), options, progress)),
        ...(await runRunSuites(selected([...repository.runSuites, ...peers.runSuites]), progress)),
      ];
      const peersSelected = selected(peers.runSuites).length > 0 || wants(POSTGRES_PEERS_SUITES.latency);
      const latency = wants(POSTGRES_PEERS_SUITES.latency) ? await peers.latency() : [];
      for (const result of latency) progress(result);
      const peersReport = peersSelected ? peers.report(await peers.describe(), latency) : undefined;
      const text = [
        `PostgreSQL ${server.version} (synchronous_commit=${server.synchronousCommit}), node ${process.version}`,
        '',
        formatTable(results),
        '',
        ...(latency.length > 0 ? [formatLatencyTable(latency), ''] : []),
        'targets (issue 11), repository against raw pg:',
        formatTargets(results, postgresRepositoryTargets)
          .split('\n')
          .map((line) => `  ${line}`)
          .join('\n'),
        '',
        ...(peersReport === undefined ? [] : [peersReport.text]),
      ].join('\n');
      return { report: { server, results, latency, peers: peersReport?.json }, text };
    } finally {
      await repository.close();
    }
  } finally {
    await schemas.dropAll();
  }
}

function numberFromEnv(name: string, fallback: number): number {
  const value = Number(process.env[name]);
  return Number.isFinite(value) && value > 0 ? value : fallback;
}

async function main(): Promise<void> {
  const options: BenchOptions = {
    ...defaultOptions,
    timeMs: numberFromEnv('BENCH_TIME_MS', defaultOptions.timeMs),
    warmupMs: numberFromEnv('BENCH_WARMUP_MS', defaultOptions.warmupMs),
  };
  const only = process.env.BENCH_ONLY ? new RegExp(process.env.BENCH_ONLY) : undefined;
  const startedAt = new Date();
  const env = environment();
  console.log(`Berth PostgreSQL benchmarks: node ${env.node}, ${env.cpus} x ${env.cpu}`);
  console.log(`warmup ${options.warmupMs} ms, ${options.timeMs} ms per case in ${options.rounds} interleaved rounds`);
  console.log(only === undefined ? '' : `only suites matching ${only}\n`);
  const measured = await runPostgresBenches(options, only, (result) => {
    process.stderr.write(`  done: ${result.suite} / ${result.name}\n`);
  });
  console.log(`\n${measured.text}`);
  const report: BenchReport & Omit<PostgresReport, 'results' | 'latency'> = {
    startedAt: startedAt.toISOString(),
    durationMs: Date.now() - startedAt.getTime(),
    ...env,
    options,
    ...(only === undefined ? {} : { only: only.source }),
    ...measured.report,
  };
  const file = await writeReport(report, new URL('../results/postgres/', import.meta.url));
  console.log(`wrote ${file.pathname} and latest.json`);
}

if (process.argv[1] !== undefined && fileURLToPath(import.meta.url) === resolve(process.argv[1])) await main();

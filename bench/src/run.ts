/**
 * Runs the benchmarks, prints tables and writes bench/results/<timestamp>.json
 * and bench/results/latest.json.
 *
 *   pnpm bench                       # ~1.25 s per case
 *   BENCH_TIME_MS=300 pnpm bench     # quicker, noisier
 *   BENCH_QUEUE_JOBS=5000 BENCH_QUEUE_RUNS=2 pnpm bench   # smaller queue processing runs
 *   BENCH_ONLY='^sqlite (?!queue)' pnpm bench   # only suites whose name matches (no latency runs)
 *   BENCH_ONLY='^top-n' BENCH_TOPN_SIZES=1000,10000 pnpm bench   # top-N and rank at chosen sizes
 *   BENCH_ONLY='^peers' pnpm bench   # Berth's SQLite queue beside plainjob and liteque (latency and WAL included)
 *   BENCH_ONLY='^document size' pnpm bench   # 1 MB and 10 MB documents on the file store vs JSON.parse/stringify + fs
 *   BENCH_ONLY='^s3 document' pnpm bench     # the S3 document backend: PUTs per writes, 1/10 MB load and save, in-memory rates
 *   pnpm bench:postgres              # PostgreSQL: repository vs raw pg, queue vs pg-boss and graphile-worker (Node 22)
 *   BENCH_ONLY='^redis' pnpm bench   # Redis: repository vs raw ioredis, queue beside BullMQ (the server at BERTH_REDIS_URL or 127.0.0.1:6379)
 *   BENCH_ONLY='^berth copy' pnpm bench   # berth copy of 10k and 100k documents from SQLite into SQLite, PostgreSQL, Redis vs raw drivers
 *
 * The PostgreSQL suites (names starting `postgres`) run here too when Node is
 * 22 or later; under an older Node this prints how to run them instead.
 */
import { createBackend } from '@berth/core';
import type { CopyReport } from './copy.bench.js';
import { COPY_SUITE } from './copy-fixture.js';
import { DOCUMENT_SIZE_SUITE, type DocumentSizeRow, documentSizeBench } from './document-size.bench.js';
import {
  type BenchOptions,
  type BenchReport,
  defaultOptions,
  environment,
  formatLatencyTable,
  formatTable,
  formatTargets,
  runRunSuites,
  runSuites,
  writeReport,
} from './harness.js';
import { hotPathTargets } from './hot-path-targets.js';
import { memoryCacheSuites } from './memory-cache.bench.js';
import {
  defaultQueueConfig,
  formatWorkerOverhead,
  memoryQueueLatency,
  memoryQueueRunSuites,
  memoryQueueSuites,
  type QueueBenchConfig,
} from './memory-queue.bench.js';
import { memoryRepositorySuites } from './memory-repository.bench.js';
import { memoryUpsertSuites } from './memory-upsert.bench.js';
import type { PostgresBenchResults, PostgresReport } from './postgres-run.js';
import { POSTGRES_BENCH_NODE_MAJOR, POSTGRES_SUITE_NAMES, postgresNodeMessage } from './postgres-suites.js';
import type { RedisBenchResults, RedisReport } from './redis-run.js';
import { REDIS_SUITE_NAMES } from './redis-suites.js';
import { S3_DOCUMENT_SUITE, type S3DocumentReport, s3DocumentBench } from './s3-document.bench.js';
import {
  removeSqliteBenchFiles,
  sqliteQueueLatency,
  sqliteQueueRunSuites,
  sqliteQueueSuites,
  sqliteQueueTargets,
} from './sqlite-queue.bench.js';
import { PEERS_SUITES, type PeersReport, sqliteQueuePeersBench } from './sqlite-queue-peers.bench.js';
import { formatSqliteTargets, sqliteRepositoryBench } from './sqlite-repository.bench.js';
import { formatTopN, removeTopNFiles, topNRunSuites, topNSizes } from './top-n.bench.js';

function numberFromEnv(name: string, fallback: number): number {
  const value = Number(process.env[name]);
  return Number.isFinite(value) && value > 0 ? value : fallback;
}

const options: BenchOptions = {
  ...defaultOptions,
  timeMs: numberFromEnv('BENCH_TIME_MS', defaultOptions.timeMs),
  warmupMs: numberFromEnv('BENCH_WARMUP_MS', defaultOptions.warmupMs),
};

/** Suites whose name matches run; without BENCH_ONLY, all of them and the latency measurements. */
const only = process.env.BENCH_ONLY ? new RegExp(process.env.BENCH_ONLY) : undefined;
const selected = <T extends { readonly name: string }>(suites: readonly T[]): T[] =>
  suites.filter((suite) => only === undefined || only.test(suite.name));

/** BENCH_COPY_SIZES (comma-separated document counts), default 10,000 and 100,000. */
function copySizes(): number[] {
  const sizes = (process.env.BENCH_COPY_SIZES ?? '10000,100000').split(',').map(Number);
  return sizes.every((size) => Number.isInteger(size) && size > 0) ? sizes : [10_000, 100_000];
}

const queueConfig: QueueBenchConfig = {
  ...defaultQueueConfig,
  jobs: Math.round(numberFromEnv('BENCH_QUEUE_JOBS', defaultQueueConfig.jobs)),
  runs: Math.round(numberFromEnv('BENCH_QUEUE_RUNS', defaultQueueConfig.runs)),
};

const openMemory = () => createBackend('memory:');
const progress = (result: { readonly suite: string; readonly name: string }): void => {
  process.stderr.write(`  done: ${result.suite} / ${result.name}\n`);
};

const startedAt = new Date();
const backend = await openMemory();
const sqliteRepository = sqliteRepositoryBench();
const peers = sqliteQueuePeersBench();
/** The peers' latency and WAL measurements run when their suite names are selected (always without BENCH_ONLY). */
const wants = (name: string): boolean => only === undefined || only.test(name);
try {
  const env = environment();
  console.log(`Berth benchmarks: node ${env.node}, ${env.cpus} x ${env.cpu}`);
  console.log(`warmup ${options.warmupMs} ms, ${options.timeMs} ms per case in ${options.rounds} interleaved rounds`);
  console.log(`queue processing: ${queueConfig.jobs} jobs per run, ${queueConfig.runs} runs after one warmup`);
  console.log(only === undefined ? '' : `only suites matching ${only}\n`);
  const results = [
    ...(await runSuites(
      selected([
        ...memoryRepositorySuites(backend),
        ...memoryUpsertSuites(backend),
        ...memoryCacheSuites(),
        ...memoryQueueSuites(openMemory),
        ...sqliteRepository.suites,
        ...sqliteQueueSuites(),
      ]),
      options,
      progress,
    )),
    ...(await runRunSuites(
      selected([
        ...memoryQueueRunSuites(openMemory, queueConfig),
        ...sqliteRepository.runSuites,
        ...sqliteQueueRunSuites(queueConfig),
        ...topNRunSuites(topNSizes()),
        ...peers.runSuites,
      ]),
      progress,
    )),
  ];
  const latency =
    only === undefined
      ? [...(await memoryQueueLatency(openMemory, queueConfig)), ...(await sqliteQueueLatency(queueConfig))]
      : [];
  const peersSelected = selected(peers.runSuites).length > 0 || wants(PEERS_SUITES.latency) || wants(PEERS_SUITES.wal);
  if (wants(PEERS_SUITES.latency)) latency.push(...(await peers.latency()));
  const peersWal = wants(PEERS_SUITES.wal) ? await peers.wal() : [];
  const peersReport = peersSelected ? peers.report(await peers.describe(), latency, peersWal) : undefined;
  for (const result of latency) progress(result);
  const documentSize = wants(DOCUMENT_SIZE_SUITE)
    ? await documentSizeBench(Math.round(numberFromEnv('BENCH_DOCUMENT_RUNS', 3)), (name) =>
        process.stderr.write(`  done: ${name}\n`),
      )
    : undefined;
  const s3Document = wants(S3_DOCUMENT_SUITE)
    ? await s3DocumentBench(options, Math.round(numberFromEnv('BENCH_DOCUMENT_RUNS', 3)), (name) =>
        process.stderr.write(`  done: ${name}\n`),
      )
    : undefined;
  // Imported only when selected: it needs the PostgreSQL and Redis servers.
  const copy = wants(COPY_SUITE)
    ? await (await import('./copy.bench.js')).copyBench(
        Math.round(numberFromEnv('BENCH_COPY_RUNS', 3)),
        copySizes(),
        (name) => process.stderr.write(`  done: ${name}\n`),
      )
    : undefined;
  const postgresSelected = POSTGRES_SUITE_NAMES.some(wants);
  const postgresRuns = Number(process.versions.node.split('.')[0]) >= POSTGRES_BENCH_NODE_MAJOR;
  // Imported only here: pg-boss and graphile-worker do not load under an older Node.
  const postgres: PostgresBenchResults | undefined =
    postgresSelected && postgresRuns
      ? await (await import('./postgres-run.js')).runPostgresBenches(options, only, progress)
      : undefined;
  // Imported only when selected: it loads BullMQ and ioredis and needs the Redis server.
  const redis: RedisBenchResults | undefined = REDIS_SUITE_NAMES.some(wants)
    ? await (await import('./redis-run.js')).runRedisBenches(options, only, progress)
    : undefined;

  console.log(`\n${formatTable(results)}\n`);
  console.log('p50/p99 are per operation; fast operations are timed in batches (see batchSize in the JSON),');
  console.log('queue processing in whole runs (one sample per run; ops/s is jobs completed per second).\n');
  if (latency.length > 0) console.log(`${formatLatencyTable(latency)}\n`);
  console.log(`${formatSqliteTargets(results)}\n`);
  console.log(`${formatTargets(results, hotPathTargets)}`);
  console.log(`${formatWorkerOverhead(results)}\n`);
  console.log(`${sqliteQueueTargets(results, latency).join('\n')}\n`);
  console.log(`${formatTopN()}\n`);
  if (peersReport !== undefined) console.log(`${peersReport.text}\n`);
  if (documentSize !== undefined) console.log(`${documentSize.text}\n`);
  if (s3Document !== undefined) console.log(`${s3Document.text}\n`);
  if (copy !== undefined) console.log(`${copy.text}\n`);
  if (postgres !== undefined) console.log(`${postgres.text}\n`);
  else if (postgresSelected) console.log(`${postgresNodeMessage()}\n`);
  if (redis !== undefined) console.log(`${redis.text}\n`);
  const report: BenchReport & {
    readonly peers?: PeersReport;
    readonly postgres?: PostgresReport;
    readonly redis?: RedisReport;
    readonly documentSize?: readonly DocumentSizeRow[];
    readonly s3Document?: S3DocumentReport;
    readonly copy?: CopyReport;
  } = {
    startedAt: startedAt.toISOString(),
    durationMs: Date.now() - startedAt.getTime(),
    ...env,
    options,
    ...(only === undefined ? {} : { only: only.source }),
    results,
    latency,
    ...(peersReport === undefined ? {} : { peers: peersReport.json }),
    ...(postgres === undefined ? {} : { postgres: postgres.report }),
    ...(redis === undefined ? {} : { redis: redis.report }),
    ...(documentSize === undefined ? {} : { documentSize: documentSize.rows }),
    ...(s3Document === undefined ? {} : { s3Document: s3Document.json }),
    ...(copy === undefined ? {} : { copy: copy.report }),
  };
  const file = await writeReport(report, new URL('../results/', import.meta.url));
  console.log(`wrote ${file.pathname} and latest.json`);
} finally {
  await backend.close();
  await sqliteRepository.close();
  removeSqliteBenchFiles();
  removeTopNFiles();
  peers.close();
}

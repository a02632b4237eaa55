/**
 * Runs the benchmarks, prints a table and writes bench/results/<timestamp>.json
 * and bench/results/latest.json.
 *
 *   pnpm bench                       # ~1.25 s per case
 *   BENCH_TIME_MS=300 pnpm bench     # quicker, noisier
 */
import { createBackend } from '@berth/core';
import { type BenchOptions, defaultOptions, environment, formatTable, runSuites, writeReport } from './harness.js';
import { memoryRepositorySuites } from './memory-repository.bench.js';

function numberFromEnv(name: string, fallback: number): number {
  const value = Number(process.env[name]);
  return Number.isFinite(value) && value > 0 ? value : fallback;
}

const options: BenchOptions = {
  ...defaultOptions,
  timeMs: numberFromEnv('BENCH_TIME_MS', defaultOptions.timeMs),
  warmupMs: numberFromEnv('BENCH_WARMUP_MS', defaultOptions.warmupMs),
};

const startedAt = new Date();
const backend = await createBackend('memory:');
try {
  await backend.connect();
  const env = environment();
  console.log(`Berth benchmarks: node ${env.node}, ${env.cpus} x ${env.cpu}`);
  console.log(`warmup ${options.warmupMs} ms, ${options.timeMs} ms per case in ${options.rounds} interleaved rounds\n`);
  const results = await runSuites(memoryRepositorySuites(backend), options, (result) => {
    process.stderr.write(`  done: ${result.suite} / ${result.name}\n`);
  });
  console.log(`\n${formatTable(results)}\n`);
  console.log('p50/p99 are per operation; fast operations are timed in batches (see batchSize in the JSON).');
  const file = await writeReport(
    {
      startedAt: startedAt.toISOString(),
      durationMs: Date.now() - startedAt.getTime(),
      ...env,
      options,
      results,
    },
    new URL('../results/', import.meta.url),
  );
  console.log(`wrote ${file.pathname} and latest.json`);
} finally {
  await backend.close();
}

/**
 * A small benchmark harness: cases of a suite run side by side (interleaved
 * in rounds, so drift and GC hit them alike) and are reported against the
 * suite's baseline from the same run.
 */
import { mkdir, writeFile } from 'node:fs/promises';
import os from 'node:os';
import { performance } from 'node:perf_hooks';
import { isBerthError } from '@berth/core';

/** One thing to measure. `run` is one operation; it may be async. */
interface BenchCase {
  readonly name: string;
  /** The case the others are compared with; one per suite. */
  readonly baseline?: boolean | undefined;
  /** Runs once before warmup (fill a collection, build an index). */
  readonly setup?: (() => unknown) | undefined;
  /** One operation; `i` counts calls, so cases can vary keys without random numbers. */
  readonly run: (i: number) => unknown;
  /** Runs once after measuring. */
  readonly teardown?: (() => unknown) | undefined;
}

/** Cases that do the same work in different ways. */
export interface BenchSuite {
  readonly name: string;
  readonly cases: readonly BenchCase[];
}

export interface BenchOptions {
  /** Time each case runs before measuring, in ms. */
  readonly warmupMs: number;
  /** Measured time per case, in ms, split across `rounds`. */
  readonly timeMs: number;
  /** How many interleaved rounds the measured time is split into. */
  readonly rounds: number;
  /** Stop a case after this many measured operations even if time remains. */
  readonly maxOps: number;
}

export interface CaseResult {
  readonly suite: string;
  readonly name: string;
  readonly baseline: boolean;
  readonly ops: number;
  /** Operations timed together in one sample (1 unless an operation is faster than the timer). */
  readonly batchSize: number;
  readonly opsPerSec: number;
  readonly meanNs: number;
  readonly p50Ns: number;
  readonly p99Ns: number;
  /** Mean time relative to the suite's baseline (2 = twice as slow); 1 for the baseline. */
  readonly vsBaseline: number | null;
  /** Why the case did not run: the adapter answered UNSUPPORTED (a port not built yet). */
  readonly unavailable?: string | undefined;
}

/**
 * Why a case cannot run, when its setup or first run fails with Berth's
 * UNSUPPORTED (an adapter whose port is not built yet); any other error is a
 * broken benchmark and propagates.
 */
function unavailableBecause(error: unknown): string {
  if (isBerthError(error, 'UNSUPPORTED')) return error.message;
  throw error;
}

export interface BenchReport {
  readonly startedAt: string;
  readonly durationMs: number;
  readonly node: string;
  readonly platform: string;
  readonly cpu: string;
  readonly cpus: number;
  readonly options: BenchOptions;
  /** BENCH_ONLY, when only the suites it matches ran. */
  readonly only?: string | undefined;
  readonly results: readonly CaseResult[];
  /** Latency measurements (enqueue to handler start), separate because they have no ops/s. */
  readonly latency: readonly LatencyResult[];
}

export const defaultOptions: BenchOptions = { warmupMs: 250, timeMs: 1000, rounds: 4, maxOps: 2_000_000 };

/** Samples shorter than this are batched, so timer overhead does not dominate. */
const MIN_SAMPLE_NS = 20_000;

interface Measure {
  readonly batchSize: number;
  /** Set when the case could not run (see `unavailableBecause`). */
  unavailable?: string | undefined;
  ops: number;
  /** Per-operation time of each sample, in ns. */
  readonly samples: number[];
  totalNs: number;
}

async function runBatch(run: BenchCase['run'], start: number, count: number): Promise<number> {
  const begin = performance.now();
  for (let i = start; i < start + count; i += 1) {
    const result = run(i);
    if (result instanceof Promise) await result;
  }
  return (performance.now() - begin) * 1e6;
}

/** Runs for `ms`, returns how many operations ran and the time they took. */
async function runFor(
  run: BenchCase['run'],
  counter: { i: number },
  ms: number,
  batchSize: number,
  measure?: Measure,
  maxOps = Number.POSITIVE_INFINITY,
): Promise<void> {
  const deadline = performance.now() + ms;
  while (performance.now() < deadline && (measure === undefined || measure.ops < maxOps)) {
    const ns = await runBatch(run, counter.i, batchSize);
    counter.i += batchSize;
    if (measure !== undefined) {
      measure.ops += batchSize;
      measure.totalNs += ns;
      measure.samples.push(ns / batchSize);
    }
  }
}

/**
 * Picks a batch size so one sample lasts at least MIN_SAMPLE_NS. Runs after
 * warmup and takes the fastest of three tries, so a cold first call or a GC
 * pause does not make a fast operation look slow enough to time alone.
 */
async function calibrate(run: BenchCase['run'], counter: { i: number }): Promise<number> {
  let batchSize = 1;
  for (;;) {
    let fastest = Number.POSITIVE_INFINITY;
    for (let attempt = 0; attempt < 3; attempt += 1) {
      fastest = Math.min(fastest, await runBatch(run, counter.i, batchSize));
      counter.i += batchSize;
    }
    if (fastest >= MIN_SAMPLE_NS || batchSize >= 1 << 16) return batchSize;
    batchSize *= 2;
  }
}

function percentile(sorted: readonly number[], p: number): number {
  if (sorted.length === 0) return Number.NaN;
  const index = Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1));
  return sorted[index] ?? Number.NaN;
}

/** Runs every suite, its cases interleaved round by round. */
export async function runSuites(
  suites: readonly BenchSuite[],
  options: BenchOptions = defaultOptions,
  onResult: (result: CaseResult) => void = () => {},
): Promise<CaseResult[]> {
  const results: CaseResult[] = [];
  for (const suite of suites) {
    const counters = suite.cases.map(() => ({ i: 0 }));
    const measures: Measure[] = [];
    for (const [index, benchCase] of suite.cases.entries()) {
      const counter = counters[index] ?? { i: 0 };
      try {
        await benchCase.setup?.();
        await runFor(benchCase.run, counter, options.warmupMs, 1);
        const batchSize = await calibrate(benchCase.run, counter);
        measures.push({ batchSize, ops: 0, samples: [], totalNs: 0 });
      } catch (error) {
        measures.push({ batchSize: 1, ops: 0, samples: [], totalNs: 0, unavailable: unavailableBecause(error) });
      }
    }
    for (let round = 0; round < options.rounds; round += 1) {
      for (const [index, benchCase] of suite.cases.entries()) {
        const measure = measures[index];
        const counter = counters[index];
        if (measure === undefined || counter === undefined || measure.unavailable !== undefined) continue;
        await runFor(
          benchCase.run,
          counter,
          options.timeMs / options.rounds,
          measure.batchSize,
          measure,
          options.maxOps,
        );
      }
    }
    for (const benchCase of suite.cases) await benchCase.teardown?.();

    for (const result of toResults(suite.name, suite.cases, measures)) {
      results.push(result);
      onResult(result);
    }
  }
  return results;
}

function meanOf(measure: Measure | undefined): number {
  return measure === undefined || measure.ops === 0 ? Number.NaN : measure.totalNs / measure.ops;
}

/** Results of a suite's cases, each against the suite's baseline. */
function toResults(
  suite: string,
  cases: readonly { readonly name: string; readonly baseline?: boolean | undefined }[],
  measures: readonly Measure[],
): CaseResult[] {
  const baselineIndex = cases.findIndex((benchCase) => benchCase.baseline === true);
  const baselineMean = baselineIndex >= 0 ? meanOf(measures[baselineIndex]) : undefined;
  return cases.flatMap((benchCase, index): CaseResult[] => {
    const measure = measures[index];
    if (measure === undefined) return [];
    const sorted = [...measure.samples].sort((a, b) => a - b);
    const meanNs = meanOf(measure);
    const ratio = baselineMean === undefined ? null : meanNs / baselineMean;
    return [
      {
        suite,
        name: benchCase.name,
        baseline: benchCase.baseline === true,
        ops: measure.ops,
        batchSize: measure.batchSize,
        opsPerSec: measure.totalNs === 0 ? 0 : (measure.ops * 1e9) / measure.totalNs,
        meanNs,
        p50Ns: percentile(sorted, 50),
        p99Ns: percentile(sorted, 99),
        // A ratio against a baseline that did not run is no ratio.
        vsBaseline: ratio === null || Number.isNaN(ratio) ? null : ratio,
        ...(measure.unavailable === undefined ? {} : { unavailable: measure.unavailable }),
      },
    ];
  });
}

/**
 * A case too slow to repeat by the thousand (draining a queue of 20 000
 * jobs): each run does `operations` operations and times itself, leaving
 * out its own preparation.
 */
export interface RunCase {
  readonly name: string;
  readonly baseline?: boolean | undefined;
  readonly setup?: (() => unknown) | undefined;
  /** One run; resolves to the nanoseconds its timed part took. */
  readonly run: () => Promise<number>;
  readonly teardown?: (() => unknown) | undefined;
}

/** Cases measured in whole runs, interleaved run by run. */
export interface RunSuite {
  readonly name: string;
  /** Operations in one run. */
  readonly operations: number;
  /** Measured runs per case, after one warmup run. */
  readonly runs: number;
  readonly cases: readonly RunCase[];
}

/**
 * Runs every run suite; results read like `runSuites`' with one sample per
 * run (so `batchSize` is the operations of a run).
 */
export async function runRunSuites(
  suites: readonly RunSuite[],
  onResult: (result: CaseResult) => void = () => {},
): Promise<CaseResult[]> {
  const results: CaseResult[] = [];
  for (const suite of suites) {
    const measures: Measure[] = [];
    for (const benchCase of suite.cases) {
      try {
        await benchCase.setup?.();
        await benchCase.run();
        measures.push({ batchSize: suite.operations, ops: 0, samples: [], totalNs: 0 });
      } catch (error) {
        const unavailable = unavailableBecause(error);
        measures.push({ batchSize: suite.operations, ops: 0, samples: [], totalNs: 0, unavailable });
      }
    }
    for (let round = 0; round < suite.runs; round += 1) {
      for (const [index, benchCase] of suite.cases.entries()) {
        const measure = measures[index];
        if (measure === undefined || measure.unavailable !== undefined) continue;
        const ns = await benchCase.run();
        measure.ops += suite.operations;
        measure.totalNs += ns;
        measure.samples.push(ns / suite.operations);
      }
    }
    for (const benchCase of suite.cases) await benchCase.teardown?.();
    for (const result of toResults(suite.name, suite.cases, measures)) {
      results.push(result);
      onResult(result);
    }
  }
  return results;
}

/** How long something takes to happen, over many samples. */
export interface LatencyResult {
  readonly suite: string;
  readonly name: string;
  readonly baseline: boolean;
  readonly samples: number;
  readonly meanNs: number;
  readonly p50Ns: number;
  readonly p90Ns: number;
  readonly p99Ns: number;
  readonly maxNs: number;
  /** p50 relative to the baseline's p50; 1 for the baseline. */
  readonly vsBaseline: number;
}

/** Summarizes latency samples (in ns); pass the baseline's result to get a ratio. */
export function latencyResult(
  suite: string,
  name: string,
  samplesNs: readonly number[],
  baseline?: LatencyResult,
): LatencyResult {
  const sorted = [...samplesNs].sort((a, b) => a - b);
  const p50Ns = percentile(sorted, 50);
  return {
    suite,
    name,
    baseline: baseline === undefined,
    samples: sorted.length,
    meanNs: sorted.reduce((sum, ns) => sum + ns, 0) / sorted.length,
    p50Ns,
    p90Ns: percentile(sorted, 90),
    p99Ns: percentile(sorted, 99),
    maxNs: sorted[sorted.length - 1] ?? Number.NaN,
    vsBaseline: baseline === undefined ? 1 : p50Ns / baseline.p50Ns,
  };
}

/** `1234` ns → `1.23 µs`. */
function formatNs(ns: number): string {
  if (!Number.isFinite(ns)) return '-';
  if (ns < 1_000) return `${ns.toFixed(0)} ns`;
  if (ns < 1_000_000) return `${(ns / 1_000).toFixed(2)} µs`;
  return `${(ns / 1_000_000).toFixed(2)} ms`;
}

function formatOps(opsPerSec: number): string {
  return Math.round(opsPerSec).toLocaleString('en-US');
}

function renderTable(header: readonly string[], rows: readonly (readonly string[])[]): string {
  const widths = header.map((title, column) =>
    Math.max(title.length, ...rows.map((row) => (row[column] ?? '').length)),
  );
  // The first two columns name things; the rest are numbers, aligned right.
  const render = (row: readonly string[]): string =>
    row
      .map((cell, column) => {
        const width = widths[column] ?? 0;
        return column >= 2 ? cell.padStart(width) : cell.padEnd(width);
      })
      .join('  ');
  const separator = widths.map((width) => '-'.repeat(width)).join('  ');
  return [render(header), separator, ...rows.map(render)].join('\n');
}

function formatRatio(result: { readonly baseline: boolean; readonly vsBaseline: number | null }): string {
  return result.baseline ? 'baseline' : result.vsBaseline === null ? '-' : `${result.vsBaseline.toFixed(2)}x`;
}

/** The results as an aligned text table. */
export function formatTable(results: readonly CaseResult[]): string {
  return renderTable(
    ['suite', 'case', 'ops/s', 'mean', 'p50', 'p99', 'vs baseline'],
    results.map((result) =>
      result.unavailable !== undefined
        ? [result.suite, result.name, '-', '-', '-', '-', `not available: ${result.unavailable}`]
        : [
            result.suite,
            result.name,
            formatOps(result.opsPerSec),
            formatNs(result.meanNs),
            formatNs(result.p50Ns),
            formatNs(result.p99Ns),
            formatRatio(result),
          ],
    ),
  );
}

/** Latency results as an aligned text table. */
export function formatLatencyTable(results: readonly LatencyResult[]): string {
  return renderTable(
    ['suite', 'case', 'samples', 'p50', 'p90', 'p99', 'max', 'vs baseline (p50)'],
    results.map((result) => [
      result.suite,
      result.name,
      String(result.samples),
      formatNs(result.p50Ns),
      formatNs(result.p90Ns),
      formatNs(result.p99Ns),
      formatNs(result.maxNs),
      formatRatio(result),
    ]),
  );
}

/** Writes the report to `<dir>/<timestamp>.json` and `<dir>/latest.json`; returns the first path. */
export async function writeReport(report: BenchReport, dir: URL): Promise<URL> {
  await mkdir(dir, { recursive: true });
  const json = `${JSON.stringify(report, null, 2)}\n`;
  const file = new URL(`${report.startedAt.replace(/[:.]/g, '-')}.json`, dir);
  await writeFile(file, json);
  await writeFile(new URL('latest.json', dir), json);
  return file;
}

/** Machine details recorded with every report. */
export function environment(): Pick<BenchReport, 'node' | 'platform' | 'cpu' | 'cpus'> {
  const cpus = os.cpus();
  return {
    node: process.version,
    platform: `${process.platform}-${process.arch}`,
    cpu: cpus[0]?.model ?? 'unknown',
    cpus: cpus.length,
  };
}

/** A ratio an issue asks for: the suite's case against its baseline (the peer), at most `max`. */
export interface Target {
  readonly suite: string;
  /** The case measured (default: the suite's first case that is not the baseline). */
  readonly name?: string | undefined;
  readonly label: string;
  readonly max: number;
  /** What the baseline is, as the line names it (`lru-cache`, `raw`). */
  readonly peer: string;
}

/** One line per target: the measured ratio against the peer and whether it is met. */
export function formatTargets(results: readonly CaseResult[], targets: readonly Target[]): string {
  return targets
    .map(({ suite, name, label, max, peer }) => {
      const ratio = results.find(
        (candidate) =>
          candidate.suite === suite && !candidate.baseline && (name === undefined || candidate.name === name),
      )?.vsBaseline;
      if (ratio === undefined || ratio === null) return `${label}: not measured (target ≤ ${max}x ${peer})`;
      return `${label}: ${ratio.toFixed(2)}x ${peer} (target ≤ ${max}x): ${ratio <= max ? 'met' : 'MISSED'}`;
    })
    .join('\n');
}

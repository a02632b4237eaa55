/** What the document benchmarks share: the seed-shaped fixture, an RSS sampler, the median. */
import { stat } from 'node:fs/promises';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { Worker } from 'node:worker_threads';
import { DocumentBackend, FileDocumentStore } from '@berth/adapter-memory';

/** One entity of the seed shape: a player with a few nested fields (about 190 bytes of JSON). */
function player(i: number): Record<string, unknown> {
  return {
    name: `player number ${i}`,
    level: i % 100,
    gold: i * 3,
    tags: ['founder', i % 2 === 0 ? 'even' : 'odd'],
    stats: { hp: 100 + (i % 50), mp: 50, strength: 12, agility: i % 20 },
    joined: '2026-01-01T00:00:00.000Z',
  };
}

/** Writes a document of about `mb` MB through the backend itself, so it holds Berth's metadata too. */
async function writeFixture(path: string, mb: number): Promise<number> {
  const perEntity = JSON.stringify({ p00000000: player(0) }).length + 60; // + its [version, createdAt, updatedAt]
  const count = Math.ceil((mb * 1_000_000) / perEntity);
  const backend = new DocumentBackend({ store: new FileDocumentStore(path), debounceMs: 60_000 });
  const players = backend.repository<{ id: string }>('players');
  for (let start = 0; start < count; start += 10_000) {
    const batch = [];
    for (let i = start; i < Math.min(count, start + 10_000); i += 1) {
      batch.push({ id: `p${String(i).padStart(8, '0')}`, ...player(i) });
    }
    await players.insertMany(batch);
  }
  await backend.close();
  return (await stat(path)).size;
}

export interface PhaseResult {
  readonly ms: number;
  /** Highest RSS during the phase minus RSS at its start, in bytes. */
  readonly peakRssBytes: number;
}

/** One load, and one save after updating one entity. */
export interface LoadSaveResult {
  readonly load: PhaseResult;
  readonly save: PhaseResult;
}

/** Samples the process's RSS from a worker thread; `timed` measures the time and peak growth while `work` runs. */
export function rssSampler(): { timed(work: () => Promise<unknown>): Promise<PhaseResult>; stop(): Promise<number> } {
  const peak = new BigInt64Array(new SharedArrayBuffer(8));
  const worker = new Worker(
    `const { workerData } = require('node:worker_threads');
     const peak = workerData; const tick = new Int32Array(new SharedArrayBuffer(4));
     for (;;) {
       const rss = BigInt(process.memoryUsage.rss());
       if (rss > Atomics.load(peak, 0)) Atomics.store(peak, 0, rss);
       Atomics.wait(tick, 0, 0, 1);
     }`,
    { eval: true, workerData: peak },
  );
  return {
    async timed(work) {
      const start = process.memoryUsage.rss();
      Atomics.store(peak, 0, BigInt(start));
      const started = performance.now();
      await work();
      const ms = performance.now() - started;
      await new Promise((resolve) => setTimeout(resolve, 5)); // one more sample after the last allocation
      return { ms, peakRssBytes: Math.max(0, Number(Atomics.load(peak, 0)) - start) };
    },
    stop: () => worker.terminate(),
  };
}

function median(values: readonly number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const middle = Math.floor(sorted.length / 2);
  return sorted.length % 2 === 1
    ? (sorted[middle] ?? Number.NaN)
    : ((sorted[middle - 1] ?? 0) + (sorted[middle] ?? 0)) / 2;
}

/** Medians over the runs of one case at one document size. */
export interface SizeRow<Case extends string> {
  readonly sizeBytes: number;
  readonly case: Case;
  readonly runs: number;
  readonly loadMs: number;
  readonly loadPeakRssBytes: number;
  readonly saveMs: number;
  readonly savePeakRssBytes: number;
}

function sizeRow<Case extends string>(
  sizeBytes: number,
  name: Case,
  results: readonly LoadSaveResult[],
): SizeRow<Case> {
  return {
    sizeBytes,
    case: name,
    runs: results.length,
    loadMs: median(results.map((r) => r.load.ms)),
    loadPeakRssBytes: median(results.map((r) => r.load.peakRssBytes)),
    saveMs: median(results.map((r) => r.save.ms)),
    savePeakRssBytes: median(results.map((r) => r.save.peakRssBytes)),
  };
}

/**
 * For a 1 MB and a 10 MB document: writes the fixture file at `<directory>/players-<mb>mb.json`, lets `prepare`
 * give each case its own copy (each saves what it loaded) and say how to measure one case, then measures every
 * case `runs` times, the cases alternating run by run, and returns one row of medians per case and size.
 */
export async function sizeRows<Case extends string>(
  directory: string,
  cases: readonly Case[],
  runs: number,
  prepare: (fixture: string, mb: number) => Promise<(name: Case) => Promise<LoadSaveResult>>,
): Promise<SizeRow<Case>[]> {
  const rows: SizeRow<Case>[] = [];
  for (const mb of [1, 10]) {
    const fixture = join(directory, `players-${mb}mb.json`);
    const sizeBytes = await writeFixture(fixture, mb);
    const measure = await prepare(fixture, mb);
    const samples = new Map<Case, LoadSaveResult[]>(cases.map((name) => [name, []]));
    for (let run = 0; run < runs; run += 1) {
      for (const name of cases) samples.get(name)?.push(await measure(name));
    }
    for (const name of cases) rows.push(sizeRow(sizeBytes, name, samples.get(name) ?? []));
  }
  return rows;
}

/** A title line, then one line per row. */
export function formatSizeRows(title: string, rows: readonly SizeRow<string>[]): string {
  const mb = (bytes: number): string => `${(bytes / 1e6).toFixed(1)} MB`;
  const lines = [title, 'document   case                          load      load peak   save      save peak'];
  for (const row of rows) {
    lines.push(
      [
        mb(row.sizeBytes).padEnd(10),
        row.case.padEnd(29),
        `${row.loadMs.toFixed(0)} ms`.padEnd(9),
        mb(row.loadPeakRssBytes).padEnd(11),
        `${row.saveMs.toFixed(0)} ms`.padEnd(9),
        mb(row.savePeakRssBytes),
      ].join(' '),
    );
  }
  return lines.join('\n');
}

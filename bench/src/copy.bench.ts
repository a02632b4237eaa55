/**
 * `berth copy` of 100,000 documents (issue 15: "100,000 documents copy with
 * bounded memory; a benchmark reports documents/s and peak memory").
 *
 * The source is a SQLite file written through Berth's SQLite backend:
 * customers of about 400 bytes of JSON (a nested object, a Date, a list)
 * with an index declared on `country` (`copy-fixture.ts`). Each case copies
 * the whole collection into a fresh target, in a fresh process of its own,
 * so one case's heap never counts against another's:
 *
 * - `berth copy <sqlite:source> <target url>`: the CLI, spawned from its
 *   sources through tsx (`packages/cli/src/bin.ts`), or, with
 *   `BENCH_COPY_CLI=dist`, the built `packages/cli/dist/bin.js` under plain
 *   node (build it first: `pnpm --filter @berth/cli... build`);
 * - the raw drivers doing the same movement (`copy-raw.ts`, through tsx like
 *   the CLI's sources, so both carry the same loader).
 *
 * Targets: a new SQLite file, a new PostgreSQL schema (`bench_copy_…`,
 * dropped after the run) and a new Redis key prefix (`bench:copy_…:`,
 * deleted after). Documents/s is the documents over the process's whole
 * life (spawn to exit: start-up, connecting, the copy, the CLI's
 * verification); peak memory is the process's VmHWM (the kernel's RSS
 * high-water mark, read from /proc/self/status by a preload as the process
 * exits), so nothing is sampled and nothing is missed. The same is measured
 * at 10,000 documents: a bounded copy's peak does not grow with the data.
 * "start-up" rows are the same launchers doing no copy (`berth --help`, the
 * raw script without arguments): the floor both peaks stand on.
 *
 *   BENCH_ONLY='^berth copy' pnpm bench
 *   BENCH_COPY_RUNS=5 BENCH_COPY_SIZES=100000 BENCH_ONLY='^berth copy' pnpm bench
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import * as postgres from '@berth/adapter-postgres';
import * as redis from '@berth/adapter-redis';
import * as sqlite from '@berth/adapter-sqlite';
import { createBackend } from '@berth/core';
import { COPY_COLLECTION, COPY_SUITE, seedSource } from './copy-fixture.js';
import { BenchSchemas, postgresUrl } from './pg-peers/pg-database.js';
import { BenchPrefixes, redisUrl } from './redis-peers/redis-server.js';

const TARGETS = ['SQLite', 'PostgreSQL', 'Redis'] as const;
type TargetName = (typeof TARGETS)[number];
/**
 * `berth copy` from the SQLite source, the same from a `file:` document of
 * the same customers, `copyBackends()` called in a child process, and the
 * raw drivers; by the short names BENCH_COPY_TOOLS takes.
 */
const TOOL_IDS = {
  cli: 'berth copy',
  file: 'berth copy, file: source',
  library: 'copyBackends() in a child',
  raw: 'raw drivers',
} as const;
type Tool = (typeof TOOL_IDS)[keyof typeof TOOL_IDS];

/** BENCH_COPY_TOOLS (comma-separated: cli, file, library, raw), default all; the raw drivers always run (the baseline). */
function selectedTools(): Tool[] {
  const wanted = (process.env.BENCH_COPY_TOOLS ?? 'cli,file,library,raw').split(',').map((id) => id.trim());
  return Object.entries(TOOL_IDS)
    .filter(([id]) => id === 'raw' || wanted.includes(id))
    .map(([, tool]) => tool);
}

/** The source files of one size: the SQLite file and the `file:` document of the same customers. */
interface Sources {
  readonly sqlite: string;
  readonly file: string;
}

const here = dirname(fileURLToPath(import.meta.url));
const cliDirectory = resolve(here, '../../packages/cli');
const rawScript = join(here, 'copy-raw.ts');
const libraryScript = join(here, 'copy-library.ts');

/** One process: how long it lived, its RSS high-water mark, and the copy's own time when it printed it. */
export interface ProcessSample {
  readonly ms: number;
  readonly peakRssBytes: number;
  /** `copy-ms <ms>` from its output (the raw script and the library child time the copy alone). */
  readonly copyMs?: number | undefined;
}

/** A preload that writes the process's VmHWM (kB) to the file named by BERTH_BENCH_PEAK_FILE as it exits. */
const PEAK_PROBE =
  'data:text/javascript,' +
  encodeURIComponent(
    `import { readFileSync, writeFileSync } from 'node:fs';
     process.on('exit', () => {
       const status = readFileSync('/proc/self/status', 'utf8');
       writeFileSync(process.env.BERTH_BENCH_PEAK_FILE, /VmHWM:\\s+(\\d+)/.exec(status)?.[1] ?? '0');
     });`,
  );

/** tsx's loader by path: the processes run in a temporary folder (where `berth copy` leaves its checkpoint), outside this package. */
const TSX = import.meta.resolve('tsx');

/** How the CLI is launched: its sources through tsx (default), or the build under plain node. */
function cliCommand(): { readonly args: readonly string[]; readonly label: string } {
  if (process.env.BENCH_COPY_CLI === 'dist') {
    return { args: [join(cliDirectory, 'dist/bin.js')], label: 'packages/cli/dist/bin.js' };
  }
  return {
    args: ['--conditions=@berth/source', '--import', TSX, join(cliDirectory, 'src/bin.ts')],
    label: 'packages/cli/src/bin.ts through tsx',
  };
}

const rawCommand = ['--conditions=@berth/source', '--import', TSX, rawScript];
const libraryCommand = ['--conditions=@berth/source', '--import', TSX, libraryScript];

/** Why a process failed: its exit code and the end of what it wrote. */
class ProcessFailed extends Error {
  constructor(
    readonly code: number | null,
    readonly output: string,
    what: string,
  ) {
    // Stack frames and Node's version line say nothing a reader of the table needs.
    const said = output
      .trim()
      .split('\n')
      .filter((line) => line.trim() !== '' && !/^\s+at |^Node\.js v/.test(line));
    super(`${what} exited with ${code}: ${said.slice(-3).join(' | ')}`);
  }
}

/**
 * Runs `node <args>` in the folder of `peakFile`, with the peak probe
 * preloaded; resolves to its lifetime and peak RSS (and `copy-ms` when it
 * prints one), or rejects with the end of its output when it fails.
 */
export function measureProcess(args: readonly string[], peakFile: string, what: string): Promise<ProcessSample> {
  rmSync(peakFile, { force: true });
  return new Promise((resolvePromise, reject) => {
    const started = performance.now();
    const child = spawn(process.execPath, ['--import', PEAK_PROBE, ...args], {
      cwd: dirname(peakFile),
      env: { ...process.env, BERTH_BENCH_PEAK_FILE: peakFile, NO_COLOR: '1' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    // Only the end is kept: a progress line per batch must not grow this process.
    let output = '';
    const keep = (chunk: Buffer): void => {
      output = (output + chunk.toString('utf8')).slice(-4_000);
    };
    child.stdout.on('data', keep);
    child.stderr.on('data', keep);
    child.on('error', reject);
    child.on('close', (code) => {
      const ms = performance.now() - started;
      if (code !== 0) {
        reject(new ProcessFailed(code, output, what));
        return;
      }
      const kilobytes = Number(readFileSync(peakFile, 'utf8'));
      const copyMs = /^copy-ms ([\d.]+)$/m.exec(output)?.[1];
      resolvePromise({ ms, peakRssBytes: kilobytes * 1024, copyMs: copyMs === undefined ? undefined : Number(copyMs) });
    });
  });
}

/** A fresh target of one engine for one run: its URL for the CLI, its spec for the raw script, and its removal. */
interface TargetRun {
  readonly url: string;
  readonly raw: readonly [kind: string, target: string, extra: string];
  count(): Promise<number>;
  remove(): Promise<void>;
}

function withQuery(url: string, name: string, value: string): string {
  return `${url}${url.includes('?') ? '&' : '?'}${name}=${encodeURIComponent(value)}`;
}

/** Counts the copied collection through Berth (the CLI's targets). */
async function berthCount(url: string, adapter: object): Promise<number> {
  const backend = await createBackend(url, { adapters: [adapter as typeof sqlite] });
  await backend.connect();
  try {
    return await backend.repository(COPY_COLLECTION).count();
  } finally {
    await backend.close();
  }
}

class Targets {
  private counter = 0;
  readonly schemas = new BenchSchemas();
  readonly prefixes = new BenchPrefixes();

  constructor(private readonly directory: string) {}

  async reachable(): Promise<void> {
    await this.schemas.reachable();
    await this.prefixes.reachable();
  }

  fresh(name: TargetName): TargetRun {
    this.counter += 1;
    if (name === 'SQLite') {
      const path = join(this.directory, `target-${this.counter}.db`);
      const url = `sqlite:${path}`;
      return {
        url,
        raw: ['sqlite', path, ''],
        count: () => berthCount(url, sqlite),
        remove: async () => {
          for (const suffix of ['', '-wal', '-shm']) rmSync(`${path}${suffix}`, { force: true });
        },
      };
    }
    if (name === 'PostgreSQL') {
      const schema = this.schemas.next('copy');
      const url = withQuery(postgresUrl(), 'schema', schema);
      return {
        url,
        raw: ['postgres', postgresUrl(), schema],
        count: () => berthCount(url, postgres),
        remove: () => this.schemas.drop(schema),
      };
    }
    const prefix = this.prefixes.next('copy');
    const url = withQuery(redisUrl(), 'keyPrefix', prefix);
    return {
      url,
      raw: ['redis', redisUrl(), prefix],
      count: () => berthCount(url, redis),
      remove: async () => {
        await this.prefixes.drop(prefix);
      },
    };
  }

  async close(): Promise<void> {
    try {
      await this.schemas.dropAll();
    } finally {
      await this.prefixes.dropAll();
    }
  }
}

/** The median and range of one figure over the runs. */
export interface Spread {
  readonly median: number;
  readonly min: number;
  readonly max: number;
}

/** Medians and ranges of one case at one size. */
export interface CopyRow {
  readonly documents: number;
  readonly target: TargetName;
  readonly tool: Tool;
  readonly runs: number;
  /** Documents over the process's whole life. */
  readonly documentsPerSecond: Spread;
  /**
   * Documents over the copy's own time: timed inside the process (raw drivers, `copyBackends()`), or, for the CLI,
   * the process's life minus the median life of `berth --help` (`copyOnlyFrom` says which).
   */
  readonly documentsPerSecondCopyOnly: Spread;
  readonly copyOnlyFrom: 'timed in the process' | 'process life minus berth --help';
  readonly peakRssBytes: Spread;
  /** Median over the runs of this case's time over the raw drivers' (from SQLite) in the same round; undefined for the raw rows. */
  readonly timeVsRaw?: Spread | undefined;
  /** Why the case did not run (the CLI's own message), when it failed. */
  readonly unavailable?: string | undefined;
}

/** The process floor: the launcher and its modules, doing no copy. */
export interface StartupRow {
  readonly tool: 'berth copy' | 'raw drivers';
  readonly command: string;
  readonly ms: number;
  readonly peakRssBytes: number;
}

export interface CopyReport {
  readonly cli: string;
  readonly source: { readonly collection: string; readonly bytesPerDocument: number; readonly index: string };
  readonly loadAverage: readonly number[];
  readonly rows: readonly CopyRow[];
  readonly startup: readonly StartupRow[];
}

function median(values: readonly number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const middle = Math.floor(sorted.length / 2);
  return sorted.length % 2 === 1
    ? (sorted[middle] ?? Number.NaN)
    : ((sorted[middle - 1] ?? 0) + (sorted[middle] ?? 0)) / 2;
}

function spread(values: readonly number[]): Spread {
  if (values.length === 0) return { median: Number.NaN, min: Number.NaN, max: Number.NaN };
  return { median: median(values), min: Math.min(...values), max: Math.max(...values) };
}

type CaseKey = `${number} ${TargetName} ${Tool}`;

/** Copies `documents` customers once with `tool` into a fresh `target`; checks the count. */
async function copyOnce(
  tool: Tool,
  targets: Targets,
  target: TargetName,
  sources: Sources,
  documents: number,
  peakFile: string,
): Promise<ProcessSample> {
  const run = targets.fresh(target);
  try {
    const from = tool === 'berth copy, file: source' ? `file:${sources.file}` : `sqlite:${sources.sqlite}`;
    const what = `${tool} into ${target}`;
    const sample =
      tool === 'raw drivers'
        ? await measureProcess([...rawCommand, sources.sqlite, COPY_COLLECTION, ...run.raw], peakFile, what)
        : tool === 'copyBackends() in a child'
          ? await measureProcess([...libraryCommand, from, run.url], peakFile, what)
          : await measureProcess([...cliCommand().args, 'copy', from, run.url], peakFile, what);
    // The raw layouts are not Berth's; the raw script counts what it wrote, and fails on any error.
    if (tool !== 'raw drivers') {
      const copied = await run.count();
      if (copied !== documents) throw new Error(`${tool} into ${target} left ${copied} of ${documents} documents`);
    }
    return sample;
  } finally {
    await run.remove();
  }
}

/** Every case, `runs` times, cases alternating run by run; one row of medians per case and size. */
export async function copyBench(
  runs: number,
  sizes: readonly number[],
  onProgress: (name: string) => void = () => undefined,
): Promise<{ readonly report: CopyReport; readonly text: string }> {
  const directory = mkdtempSync(join(tmpdir(), 'berth-bench-copy-'));
  const targets = new Targets(directory);
  const peakFile = join(directory, 'peak');
  try {
    await targets.reachable();
    const tools = selectedTools();
    const samples = new Map<CaseKey, ProcessSample[]>();
    const unavailable = new Map<CaseKey, string>();
    const ratios = new Map<CaseKey, number[]>();
    let bytesPerDocument = 0;
    const sources = new Map<number, Sources>();
    for (const documents of sizes) {
      const files: Sources = {
        sqlite: join(directory, `source-${documents}.db`),
        file: join(directory, `source-${documents}.json`),
      };
      ({ bytesPerDocument } = await seedSource(`sqlite:${files.sqlite}`, documents));
      await seedSource(`file:${files.file}`, documents);
      sources.set(documents, files);
      onProgress(`${COPY_SUITE}: seeded ${documents} documents`);
    }
    const startup: Record<'berth copy' | 'raw drivers', ProcessSample[]> = { 'berth copy': [], 'raw drivers': [] };
    for (let round = 0; round < runs; round += 1) {
      startup['berth copy'].push(await measureProcess([...cliCommand().args, '--help'], peakFile, 'berth --help'));
      startup['raw drivers'].push(await measureProcess(rawCommand, peakFile, 'the raw script'));
      for (const documents of sizes) {
        const source = sources.get(documents) ?? { sqlite: '', file: '' };
        for (const target of TARGETS) {
          const times = new Map<Tool, number>();
          // The order flips every round, so neither tool always runs on a warmer server.
          for (const tool of round % 2 === 0 ? tools : [...tools].reverse()) {
            const key: CaseKey = `${documents} ${target} ${tool}`;
            if (unavailable.has(key)) continue;
            try {
              const sample = await copyOnce(tool, targets, target, source, documents, peakFile);
              samples.set(key, [...(samples.get(key) ?? []), sample]);
              times.set(tool, sample.ms);
            } catch (error) {
              // A CLI that cannot copy yet (or fails) is reported, not fatal; the raw baseline must work.
              if (tool === 'raw drivers' || !(error instanceof ProcessFailed)) throw error;
              unavailable.set(key, error.message);
            }
            onProgress(`${COPY_SUITE} ${documents} / ${target} / ${tool} (run ${round + 1})`);
          }
          const raw = times.get('raw drivers');
          for (const [tool, ms] of times) {
            if (tool === 'raw drivers' || raw === undefined) continue;
            const key: CaseKey = `${documents} ${target} ${tool}`;
            ratios.set(key, [...(ratios.get(key) ?? []), ms / raw]);
          }
        }
      }
    }
    const startupMs = (tool: 'berth copy' | 'raw drivers'): number => median(startup[tool].map((sample) => sample.ms));
    const rows = sizes.flatMap((documents) =>
      TARGETS.flatMap((target) =>
        tools.map((tool): CopyRow => {
          const key: CaseKey = `${documents} ${target} ${tool}`;
          const measured = samples.get(key) ?? [];
          const ratio = ratios.get(key);
          return {
            documents,
            target,
            tool,
            runs: measured.length,
            documentsPerSecond: spread(measured.map((sample) => (documents * 1000) / sample.ms)),
            // A CLI run quicker than the median start-up (small copies, a noisy machine) has no rate after it.
            documentsPerSecondCopyOnly: spread(
              measured
                .map((sample) => sample.copyMs ?? sample.ms - startupMs('berth copy'))
                .filter((ms) => ms > 0)
                .map((ms) => (documents * 1000) / ms),
            ),
            copyOnlyFrom: measured.some((sample) => sample.copyMs === undefined)
              ? 'process life minus berth --help'
              : 'timed in the process',
            peakRssBytes: spread(measured.map((sample) => sample.peakRssBytes)),
            ...(ratio === undefined ? {} : { timeVsRaw: spread(ratio) }),
            ...(unavailable.has(key) ? { unavailable: unavailable.get(key) } : {}),
          };
        }),
      ),
    );
    const cli = cliCommand().label;
    const report: CopyReport = {
      cli,
      source: { collection: COPY_COLLECTION, bytesPerDocument, index: 'country (string)' },
      loadAverage: (await import('node:os')).loadavg(),
      rows,
      startup: (['berth copy', 'raw drivers'] as const).map((tool) => ({
        tool,
        command: tool === 'berth copy' ? `${cli} --help` : 'copy-raw.ts without arguments',
        ms: startupMs(tool),
        peakRssBytes: median(startup[tool].map((sample) => sample.peakRssBytes)),
      })),
    };
    return { report, text: formatCopy(report, runs) };
  } finally {
    try {
      await targets.close();
    } finally {
      rmSync(directory, { recursive: true, force: true });
    }
  }
}

const mb = (bytes: number): string => (bytes / 1024 / 1024).toFixed(1);
const rate = (value: number): string => (Number.isFinite(value) ? Math.round(value).toLocaleString('en-US') : '-');

function formatCopy(report: CopyReport, runs: number): string {
  const lines = [
    `${COPY_SUITE}: ${report.source.collection} of ~${report.source.bytesPerDocument} B JSON ` +
      `(index on ${report.source.index}); median of ${runs} runs (range), each a fresh process; ` +
      `CLI: ${report.cli}; load average ${report.loadAverage.map((value) => value.toFixed(1)).join(' ')}`,
    `${'documents'.padEnd(10)} ${'target'.padEnd(11)} ${'tool (source SQLite unless named)'.padEnd(33)} ` +
      `${'documents/s (process)'.padEnd(27)} ${'documents/s (copy only)'.padEnd(28)} ${'peak RSS (MiB)'.padEnd(21)} process time vs raw`,
  ];
  for (const row of report.rows) {
    const head = [String(row.documents).padEnd(10), row.target.padEnd(11), row.tool.padEnd(33)].join(' ');
    if (row.unavailable !== undefined) {
      lines.push(`${head} not available: ${row.unavailable}`);
      continue;
    }
    const { documentsPerSecond: speed, documentsPerSecondCopyOnly: net, peakRssBytes: peak, timeVsRaw: ratio } = row;
    lines.push(
      [
        head,
        `${rate(speed.median)} (${rate(speed.min)}–${rate(speed.max)})`.padEnd(27),
        `${row.copyOnlyFrom === 'timed in the process' ? ' ' : '~'}${rate(net.median)} (${rate(net.min)}–${rate(net.max)})`.padEnd(
          28,
        ),
        `${mb(peak.median)} (${mb(peak.min)}–${mb(peak.max)})`.padEnd(21),
        row.tool === 'raw drivers'
          ? 'baseline'
          : ratio === undefined
            ? '-'
            : `${ratio.median.toFixed(2)}x (${ratio.min.toFixed(2)}–${ratio.max.toFixed(2)}x)`,
      ].join(' '),
    );
  }
  for (const row of report.startup) {
    lines.push(`start-up: ${row.tool} (${row.command}): ${row.ms.toFixed(0)} ms, ${mb(row.peakRssBytes)} MiB peak RSS`);
  }
  lines.push(...peakGrowth(report.rows));
  return lines.join('\n');
}

/** One line per case measured at two sizes: how much the peak grew with ten times the data. */
function peakGrowth(rows: readonly CopyRow[]): string[] {
  const sizes = [...new Set(rows.map((row) => row.documents))].sort((a, b) => a - b);
  const small = sizes[0];
  const large = sizes[sizes.length - 1];
  if (small === undefined || large === undefined || small === large) return [];
  const peakOf = (documents: number, target: TargetName, tool: Tool): number | undefined => {
    const row = rows.find((r) => r.documents === documents && r.target === target && r.tool === tool);
    return row === undefined || row.unavailable !== undefined || row.runs === 0 ? undefined : row.peakRssBytes.median;
  };
  const lines = [`peak RSS at ${large} documents against ${small}:`];
  for (const target of TARGETS) {
    for (const tool of Object.values(TOOL_IDS)) {
      const before = peakOf(small, target, tool);
      const after = peakOf(large, target, tool);
      if (before === undefined || after === undefined) continue;
      const delta = after - before;
      lines.push(
        `  ${target} / ${tool}: ${mb(before)} → ${mb(after)} MiB (${delta >= 0 ? '+' : ''}${mb(delta)} MiB for ${large - small} more documents)`,
      );
    }
  }
  return lines;
}

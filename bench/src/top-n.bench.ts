/**
 * Top-N and rank served by an index, at 1,000 to 1,000,000 documents: the
 * SQLite adapter against raw better-sqlite3 SQL on a plain expression index
 * (in the same file, same documents), and the memory adapter. Also `count()`
 * without a filter against raw `SELECT count(*)`.
 *
 * Building: SQLite rows are inserted through raw SQL into the adapter's
 * table layout in one transaction (about 10× faster than insertMany, which
 * validates every document), before the adapter opens the table, so the
 * adapter then builds its declared index over them once; the memory
 * collection is filled by insertMany in batches of 10,000.
 *
 *   BENCH_ONLY='^top-n' pnpm bench
 *   BENCH_TOPN_SIZES=1000,10000 BENCH_ONLY='^top-n' pnpm bench
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { MemoryBackend } from '@berth/adapter-memory';
import { SqliteBackend } from '@berth/adapter-sqlite';
import type { Document, Repository } from '@berth/core';
import Database from 'better-sqlite3';
import type { RunSuite } from './harness.js';
import { createDocumentTable } from './sqlite-tables.js';

interface Player extends Document {
  readonly name: string;
  readonly points: number;
}

/** Points are a permutation of 0..size-1 (few ties), so a top-20 reads 20 entries whatever the size. */
function player(i: number, size: number): Player {
  return { id: `p${String(i).padStart(8, '0')}`, name: `player ${i}`, points: (i * 7919) % size };
}

const RAW_POINTS = `json_extract(doc, '$.points')`;

/** The collections of one size, built once, shared by its cases. */
interface Fixture {
  readonly size: number;
  readonly sqlite: SqliteBackend;
  readonly players: Repository<Player>;
  readonly raw: Database.Database;
  readonly memory: MemoryBackend;
  readonly memoryPlayers: Repository<Player>;
  readonly buildMs: { readonly sqlite: number; readonly memory: number };
}

let directory: string | undefined;

async function buildFixture(size: number): Promise<Fixture> {
  directory ??= mkdtempSync(join(tmpdir(), 'berth-bench-top-n-'));
  const filename = join(directory, `players-${size}.db`);
  const started = performance.now();
  const raw = new Database(filename);
  raw.pragma('journal_mode = WAL');
  raw.pragma('synchronous = NORMAL');
  for (const table of ['players', 'raw_players']) createDocumentTable(raw, table);
  const now = Date.now();
  const insert = raw.prepare('INSERT INTO players (id, doc, version, created_at, updated_at) VALUES (?, ?, 1, ?, ?)');
  raw.transaction(() => {
    for (let i = 0; i < size; i++) {
      const document = player(i, size);
      insert.run(document.id, JSON.stringify(document), now, now);
    }
  })();
  raw.exec('INSERT INTO raw_players SELECT * FROM players');
  // What a user writing SQL by hand would index: the field's value.
  raw.exec(`CREATE INDEX raw_players_points ON raw_players (${RAW_POINTS})`);
  const sqlite = new SqliteBackend({ filename });
  const players = sqlite.repository<Player>('players', { indexes: [{ field: 'points', type: 'number' }] });
  await players.count({ points: 0 }); // builds the declared index over the rows
  const sqliteMs = performance.now() - started;
  const memoryStarted = performance.now();
  const memory = new MemoryBackend();
  const memoryPlayers = memory.repository<Player>('players', { indexes: [{ field: 'points', type: 'number' }] });
  for (let start = 0; start < size; start += 10_000) {
    const batch: Player[] = [];
    for (let i = start; i < Math.min(size, start + 10_000); i++) batch.push(player(i, size));
    await memoryPlayers.insertMany(batch);
  }
  return {
    size,
    sqlite,
    players,
    raw,
    memory,
    memoryPlayers,
    buildMs: { sqlite: sqliteMs, memory: performance.now() - memoryStarted },
  };
}

/** Per-operation times of each run of each case, kept for the median-and-range table. */
const samples = new Map<string, number[]>();

function timed(suite: string, name: string, operations: number, run: (i: number) => unknown): () => Promise<number> {
  return async () => {
    const begin = performance.now();
    for (let i = 0; i < operations; i++) {
      const result = run(i);
      if (result instanceof Promise) await result;
    }
    const ns = (performance.now() - begin) * 1e6;
    const key = `${suite}\u0000${name}`;
    samples.set(key, [...(samples.get(key) ?? []), ns / operations]);
    return ns;
  };
}

/** The run suites of every size; fixtures are built in the first case's setup and dropped in the last teardown. */
export function topNRunSuites(sizes: readonly number[], runs = 7): RunSuite[] {
  const suites: RunSuite[] = [];
  for (const size of sizes) {
    let fixture: Fixture | undefined;
    const get = (): Fixture => fixture as Fixture;
    const setup = async (): Promise<void> => {
      fixture ??= await buildFixture(size);
      process.stderr.write(
        `  built ${size} players: sqlite ${Math.round(get().buildMs.sqlite)} ms, memory ${Math.round(get().buildMs.memory)} ms\n`,
      );
    };
    const teardown = async (): Promise<void> => {
      if (fixture === undefined) return;
      fixture.raw.close();
      await fixture.sqlite.close();
      await fixture.memory.close();
      fixture = undefined;
    };
    const label = size.toLocaleString('en-US');
    const operations = 200;
    const topSuite = `top-n: top-20 by points, ${label} documents`;
    const rankSuite = `top-n: rank count (points > 99th percentile), ${label} documents`;
    const countSuite = `top-n: count() without filter, ${label} documents`;
    const threshold = Math.floor(size * 0.99);
    const rawTop = () =>
      get().raw.prepare(`SELECT id, doc FROM raw_players ORDER BY ${RAW_POINTS} DESC LIMIT 20`) as Database.Statement<
        [],
        { doc: string }
      >;
    let rawTopStatement: Database.Statement<[], { doc: string }> | undefined;
    let rawRankStatement: Database.Statement<[number], { n: number }> | undefined;
    let rawCountStatement: Database.Statement<[], { n: number }> | undefined;
    suites.push({
      name: topSuite,
      operations,
      runs,
      cases: [
        {
          name: 'raw better-sqlite3 (plain index)',
          baseline: true,
          setup,
          run: timed(topSuite, 'raw', operations, () => {
            rawTopStatement ??= rawTop();
            return rawTopStatement.all().map((row) => JSON.parse(row.doc) as Player);
          }),
        },
        {
          name: 'SqliteRepository.find',
          run: timed(topSuite, 'sqlite', operations, () =>
            get().players.find({ orderBy: { field: 'points', direction: 'desc' }, limit: 20 }),
          ),
        },
        {
          name: 'MemoryRepository.find',
          run: timed(topSuite, 'memory', operations, () =>
            get().memoryPlayers.find({ orderBy: { field: 'points', direction: 'desc' }, limit: 20 }),
          ),
        },
      ],
    });
    suites.push({
      name: rankSuite,
      operations: 20,
      runs,
      cases: [
        {
          name: 'raw better-sqlite3 (plain index)',
          baseline: true,
          run: timed(rankSuite, 'raw', 20, () => {
            rawRankStatement ??= get().raw.prepare(
              `SELECT count(*) AS n FROM raw_players WHERE ${RAW_POINTS} > ?`,
            ) as Database.Statement<[number], { n: number }>;
            return rawRankStatement.get(threshold)?.n;
          }),
        },
        {
          name: 'SqliteRepository.count',
          run: timed(rankSuite, 'sqlite', 20, () => get().players.count({ points: { $gt: threshold } })),
        },
        {
          name: 'MemoryRepository.count',
          run: timed(rankSuite, 'memory', 20, () => get().memoryPlayers.count({ points: { $gt: threshold } })),
        },
      ],
    });
    suites.push({
      name: countSuite,
      operations: 20,
      runs,
      cases: [
        {
          name: 'raw better-sqlite3',
          baseline: true,
          run: timed(countSuite, 'raw', 20, () => {
            rawCountStatement ??= get().raw.prepare('SELECT count(*) AS n FROM players') as Database.Statement<
              [],
              { n: number }
            >;
            return rawCountStatement.get()?.n;
          }),
        },
        {
          name: 'SqliteRepository.count',
          run: timed(countSuite, 'sqlite', 20, () => get().players.count()),
        },
        {
          name: 'MemoryRepository.count',
          run: timed(countSuite, 'memory', 20, () => get().memoryPlayers.count()),
          teardown,
        },
      ],
    });
  }
  return suites;
}

function format(ns: number): string {
  return ns >= 1e6 ? `${(ns / 1e6).toFixed(2)} ms` : `${(ns / 1e3).toFixed(1)} µs`;
}

function median(values: readonly number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const middle = sorted.length >> 1;
  return sorted.length % 2 === 1
    ? (sorted[middle] as number)
    : ((sorted[middle - 1] as number) + (sorted[middle] as number)) / 2;
}

/** Median and range of the runs of each case, and the ratio of medians to raw SQL. */
export function formatTopN(): string {
  if (samples.size === 0) return '';
  const lines = ['top-N / rank / count (per operation: median [min – max] of the runs; × = median / raw median)'];
  const suites = [...new Set([...samples.keys()].map((key) => key.split('\u0000')[0] as string))];
  for (const suite of suites) {
    const raw = samples.get(`${suite}\u0000raw`);
    const parts = ['raw', 'sqlite', 'memory'].map((name) => {
      const values = samples.get(`${suite}\u0000${name}`);
      if (values === undefined) return `${name} -`;
      const ratio = raw === undefined ? '' : ` ${(median(values) / median(raw)).toFixed(2)}×`;
      return `${name} ${format(median(values))} [${format(Math.min(...values))} – ${format(Math.max(...values))}]${ratio}`;
    });
    lines.push(`  ${suite}: ${parts.join('; ')}`);
  }
  return lines.join('\n');
}

export function removeTopNFiles(): void {
  if (directory !== undefined) rmSync(directory, { recursive: true, force: true });
  directory = undefined;
}

/** The sizes to measure: BENCH_TOPN_SIZES (comma-separated) or 1,000 to 1,000,000. */
export function topNSizes(): number[] {
  const fromEnv = process.env.BENCH_TOPN_SIZES?.split(',')
    .map(Number)
    .filter((size) => size > 0);
  return fromEnv !== undefined && fromEnv.length > 0 ? fromEnv : [1_000, 10_000, 100_000, 1_000_000];
}

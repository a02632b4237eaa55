/**
 * The SQLite adapter against raw better-sqlite3 doing the same work on the
 * same schema: one table per collection (`id` primary key, the document as
 * JSON text, version and timestamps in columns), the same expression index
 * on `guild`, the same pragmas (WAL, synchronous NORMAL) and the same JSON
 * encoding. The raw side uses prepared statements and `JSON.parse` /
 * `JSON.stringify` and checks nothing, so the ratio is what validation,
 * copying, the query model, metadata and the async API cost.
 *
 * Targets (issue 5): get by id ≤ 2× raw; bulk insert of 10 000 documents in
 * one transaction ≤ 1.3× raw.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { SqliteBackend } from '@berth/adapter-sqlite';
import type { BenchSuite, CaseResult, RunSuite } from './harness.js';
import { GUILDS, type Hero, hero, heroId, SIZE } from './heroes.js';
import { sqliteNumberSuites } from './sqlite-numbers.bench.js';
import { fillRepository, openRaw, RawTable } from './sqlite-tables.js';

/** Documents per bulk insert. */
const BULK = 10_000;

/** The SQLite suites on temp files, and `close()` to remove them. */
export interface SqliteRepositoryBench {
  /** Single operations, timed by the harness. */
  readonly suites: readonly BenchSuite[];
  /** Bulk insert of 10 000 documents, timed per run. */
  readonly runSuites: readonly RunSuite[];
  close(): Promise<void>;
}

export function sqliteRepositoryBench(bulkRuns = 5): SqliteRepositoryBench {
  const directory = mkdtempSync(join(tmpdir(), 'berth-bench-sqlite-'));
  const backend = new SqliteBackend({ filename: join(directory, 'berth.db') });
  const raw = openRaw(join(directory, 'raw.db'));
  const indexes = [{ field: 'guild', type: 'string' } as const];
  const inserted = backend.repository<Hero>('bench_insert', { indexes });
  const heroes = backend.repository<Hero>('bench_heroes', { indexes });
  const updated = backend.repository<Hero>('bench_update', { indexes });
  const bulk = backend.repository<Hero>('bench_bulk', { indexes });
  const rawInserted = new RawTable(raw, 'bench_insert');
  const rawHeroes = new RawTable(raw, 'bench_heroes');
  const rawUpdated = new RawTable(raw, 'bench_update');
  const rawBulk = new RawTable(raw, 'bench_bulk');
  const bulkDocuments = Array.from({ length: BULK }, (_, i) => hero(i));
  const timed = async (work: () => unknown): Promise<number> => {
    const started = performance.now();
    await work();
    return (performance.now() - started) * 1e6;
  };

  const suites: BenchSuite[] = [
    {
      name: 'sqlite get by id',
      cases: [
        {
          name: 'raw better-sqlite3',
          baseline: true,
          setup: () => rawHeroes.fill(),
          run: (i) => rawHeroes.get(heroId(i % SIZE)),
        },
        { name: 'sqlite get', setup: () => fillRepository(heroes), run: (i) => heroes.get(heroId(i % SIZE)) },
      ],
    },
    {
      name: 'sqlite insert',
      cases: [
        { name: 'raw better-sqlite3', baseline: true, run: (i) => rawInserted.insert(hero(i)) },
        { name: 'sqlite insert', run: (i) => inserted.insert(hero(i)) },
      ],
    },
    {
      name: 'sqlite update $inc',
      cases: [
        {
          name: 'raw read + write in a transaction',
          baseline: true,
          setup: () => rawUpdated.fill(),
          run: (i) => rawUpdated.increment(heroId(i % SIZE)),
        },
        {
          name: 'sqlite update $inc',
          setup: () => fillRepository(updated),
          run: (i) => updated.update(heroId(i % SIZE), { $inc: { level: 1 } }),
        },
      ],
    },
    {
      name: 'sqlite find indexed eq (100 hits)',
      cases: [
        {
          name: 'raw better-sqlite3',
          baseline: true,
          setup: () => rawHeroes.fill(),
          run: (i) => rawHeroes.findByGuild(`guild-${i % GUILDS}`),
        },
        {
          name: 'sqlite find',
          setup: () => fillRepository(heroes),
          run: (i) => heroes.find({ where: { guild: `guild-${i % GUILDS}` } }),
        },
      ],
    },
    ...sqliteNumberSuites(backend, raw),
  ];

  const runSuites: RunSuite[] = [
    {
      name: 'sqlite bulk insert 10 000 (one transaction)',
      operations: BULK,
      runs: bulkRuns,
      cases: [
        {
          name: 'raw better-sqlite3',
          baseline: true,
          run: async () => {
            rawBulk.clear();
            return timed(() => rawBulk.insertMany(bulkDocuments));
          },
        },
        {
          name: 'sqlite insertMany',
          run: async () => {
            await bulk.deleteMany({});
            return timed(() => bulk.insertMany(bulkDocuments));
          },
        },
      ],
    },
  ];

  return {
    suites,
    runSuites,
    close: async () => {
      await backend.close();
      raw.close();
      rmSync(directory, { recursive: true, force: true });
    },
  };
}

const TARGETS: readonly { readonly suite: string; readonly label: string; readonly max: number }[] = [
  { suite: 'sqlite get by id', label: 'get by id', max: 2 },
  { suite: 'sqlite bulk insert 10 000 (one transaction)', label: 'bulk insert 10 000', max: 1.3 },
];

/** One line per issue target: the measured ratio against raw better-sqlite3 and whether it is met. */
export function formatSqliteTargets(results: readonly CaseResult[]): string {
  return TARGETS.map(({ suite, label, max }) => {
    const result = results.find((candidate) => candidate.suite === suite && !candidate.baseline);
    const ratio = result?.vsBaseline;
    if (ratio === undefined || ratio === null) return `sqlite ${label}: not measured (target ≤ ${max}x raw)`;
    return `sqlite ${label}: ${ratio.toFixed(2)}x raw (target ≤ ${max}x): ${ratio <= max ? 'met' : 'MISSED'}`;
  }).join('\n');
}

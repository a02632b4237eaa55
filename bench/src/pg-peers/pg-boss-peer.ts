/**
 * pg-boss 12 as the side-by-side benchmark drives it, in the fastest
 * configurations its documentation gives (types.d.ts of 12.38):
 *
 * - LISTEN/NOTIFY on (`useListenNotify` on the instance, `notify: true` on
 *   the queue), so an enqueue wakes an idle worker instead of its poll.
 * - `pollingIntervalSeconds: 0.5`, the smallest it accepts (default 2);
 *   at the defaults a worker waits 2 s (30 s with notify) after each fetch
 *   that does not trigger a burst, and processing stalls.
 * - one job per fetch (`batchSize` 1, `localConcurrency` N): a worker would
 *   wait a poll after every job; `burstWhenReadyExceeds: 1` with the queue
 *   cache refreshed every second (its minimum) makes it fetch again at once
 *   while jobs are waiting.
 * - or batches (`batchSize` N, one worker, `burstWhenBatchFull`): the
 *   handler gets N jobs and runs them together; pg-boss completes the batch.
 *
 * Its queue cache (what `burstWhenReadyExceeds` reads) is refreshed by
 * supervision: supervise and monitor every second, their minimum. Scheduling
 * is off. With notify active a worker's idle poll is
 * `notifyPollingIntervalSeconds` (default 30): 0.5 here as well. Each
 * instance has its own schema.
 */

import pg from 'pg';
import { PgBoss } from 'pg-boss';
import { fillInChunks, type PeerLibrary, type PeerQueue, type PeerWorker, type Task } from '../peers/peer-queue.js';
import { postgresUrl, quotedSchema } from './pg-database.js';

const QUEUE = 'bench';

/** How a pg-boss worker fetches: one job per fetch, or a batch per fetch. */
export type PgBossMode = 'single' | 'batch';

class PgBossPeerQueue implements PeerQueue {
  constructor(
    private readonly boss: PgBoss,
    private readonly counter: pg.Pool,
    private readonly schema: string,
    private readonly mode: PgBossMode,
    private readonly synchronousCommit: string,
  ) {}

  enqueue(payload: Task): Promise<unknown> {
    return this.boss.send(QUEUE, payload);
  }

  enqueueBatch(payloads: readonly Task[]): Promise<unknown> {
    return this.boss.insert(
      QUEUE,
      payloads.map((data) => ({ data })),
    );
  }

  async fill(payloads: readonly Task[]): Promise<void> {
    await fillInChunks(payloads, (chunk) => this.enqueueBatch(chunk));
    // Let the queue cache see the backlog, so `burstWhenReadyExceeds` engages from the start (not timed).
    if (this.mode === 'single') await new Promise((settle) => setTimeout(settle, 1_100));
  }

  work(concurrency: number, onStart: () => void): PeerWorker {
    const started =
      this.mode === 'single'
        ? this.boss.work<Task>(
            QUEUE,
            {
              localConcurrency: concurrency,
              batchSize: 1,
              pollingIntervalSeconds: 0.5,
              notifyPollingIntervalSeconds: 0.5,
              burstWhenReadyExceeds: 1,
            },
            async () => onStart(),
          )
        : this.boss.work<Task>(
            QUEUE,
            {
              batchSize: concurrency,
              burstWhenBatchFull: true,
              pollingIntervalSeconds: 0.5,
              notifyPollingIntervalSeconds: 0.5,
            },
            async (jobs) => {
              await Promise.all(jobs.map(async () => onStart()));
            },
          );
    return {
      ready: started,
      stop: async () => {
        await started;
        await this.boss.offWork(QUEUE, { wait: true });
      },
    };
  }

  async remaining(): Promise<number> {
    const { rows } = await this.counter.query<{ count: string }>(
      `SELECT count(*) AS count FROM ${quotedSchema(this.schema)}.job WHERE name = $1 AND state IN ('created', 'retry', 'active')`,
      [QUEUE],
    );
    return Number(rows[0]?.count ?? 0);
  }

  durability(): string {
    return `synchronous_commit=${this.synchronousCommit}`;
  }

  async close(): Promise<void> {
    try {
      await this.boss.stop({ graceful: true, close: true, timeout: 10_000 });
    } finally {
      await this.counter.end();
    }
  }
}

export function pgBossPeer(mode: PgBossMode): PeerLibrary {
  return {
    name: mode === 'single' ? 'pg-boss' : 'pg-boss, batchSize = concurrency',
    config:
      mode === 'single'
        ? 'useListenNotify + queue notify; work: localConcurrency N, batchSize 1, pollingIntervalSeconds 0.5, burstWhenReadyExceeds 1, queueCacheIntervalSeconds 1'
        : 'useListenNotify + queue notify; work: batchSize N (one worker, handler runs the batch together), burstWhenBatchFull, pollingIntervalSeconds 0.5',
    batch: 'insert',
    async open(schema) {
      const boss = new PgBoss({
        connectionString: postgresUrl(),
        schema,
        useListenNotify: true,
        superviseIntervalSeconds: 1,
        monitorIntervalSeconds: 1,
        schedule: false,
        queueCacheIntervalSeconds: 1,
      });
      // Without a listener an 'error' event would end the process; say it and go on, as an application would.
      boss.on('error', (error: Error) => process.stderr.write(`pg-boss error: ${error.message}\n`));
      const counter = new pg.Pool({ connectionString: postgresUrl(), max: 1 });
      try {
        await boss.start();
        await boss.createQueue(QUEUE, { notify: true });
        const { rows } = await counter.query<{ sync: string }>("SELECT current_setting('synchronous_commit') AS sync");
        return new PgBossPeerQueue(boss, counter, schema, mode, rows[0]?.sync ?? 'unknown');
      } catch (error) {
        await boss.stop({ close: true, graceful: false }).catch(() => undefined);
        await counter.end();
        throw error;
      }
    },
  };
}

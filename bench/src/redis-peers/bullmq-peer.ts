/**
 * BullMQ 6.7 as the side-by-side benchmark drives it, in the fastest
 * configuration its documentation gives (it runs on Node 20: `engines`
 * says >= 14.18, and this bench runs it there):
 *
 * - Enqueue one job with `queue.add`, a batch with `queue.addBulk` ("adding
 *   a bulk of jobs can be faster since it reduces the number of roundtrips
 *   to Redis": https://docs.bullmq.io/guide/queues/adding-bulks).
 * - One `Worker` with `concurrency: N`
 *   (https://docs.bullmq.io/guide/workers/concurrency). Its fetch is
 *   already BullMQ's fastest: a finished job's `moveToFinished` script
 *   returns the next job in the same call, and an idle worker blocks on the
 *   queue's marker (BZPOPMIN), which an `add` wakes at once. Processing jobs
 *   in batches is BullMQ Pro only (https://docs.bullmq.io/guide/queues/batches),
 *   so there is no batched row.
 * - `removeOnComplete: { count: 0 }`: finished jobs are deleted at once
 *   instead of piling up in the completed set, the auto-removal the
 *   production guide asks for
 *   (https://docs.bullmq.io/guide/workers/auto-removal-of-jobs,
 *   https://docs.bullmq.io/guide/going-to-production#auto-job-removal);
 *   failed jobs are kept (`removeOnFail: { count: 5000 }`, its example).
 * - `skipStalledCheck: true`: no stalled-job sweep (one at start, then every
 *   `stalledInterval`); no job here stalls, and Berth's lease reclaim is not
 *   switched off, so this only favours BullMQ. Lock renewal stays on: turned
 *   off, a job longer than `lockDuration` runs twice, and it costs a timer,
 *   not a Redis call per job.
 * - `drainDelay` stays at its default (5 s): it is how long an idle
 *   worker's BZPOPMIN blocks before it asks again; an `add` wakes it sooner,
 *   so neither the latency nor the throughput here depends on it.
 * - Connections as the production guide says
 *   (https://docs.bullmq.io/guide/going-to-production#automatic-reconnections):
 *   the worker's with `maxRetriesPerRequest: null` (BullMQ sets it and warns
 *   if it is not), the queue's with `enableOfflineQueue: false`, so an
 *   `add` fails fast while Redis is away
 *   (https://docs.bullmq.io/patterns/failing-fast-when-redis-is-down).
 *   BullMQ opens them itself from the URL: the queue one, the worker two
 *   (one for its blocking wait).
 *
 * Each queue lives under a key prefix of the run's own (BullMQ's `prefix`
 * option, so its keys are `<prefix>:bench:…`), deleted by the bench after.
 */
import { Queue, Worker } from 'bullmq';
import { fillInChunks, type PeerLibrary, type PeerQueue, type PeerWorker, type Task } from '../peers/peer-queue.js';
import { describeRedisAt, redisUrl } from './redis-server.js';

const QUEUE = 'bench';
const JOB = 'noop';

class BullmqPeerQueue implements PeerQueue {
  constructor(
    private readonly queue: Queue<Task>,
    private readonly prefix: string,
    private readonly server: string,
  ) {}

  enqueue(payload: Task): Promise<unknown> {
    return this.queue.add(JOB, payload);
  }

  enqueueBatch(payloads: readonly Task[]): Promise<unknown> {
    return this.queue.addBulk(payloads.map((data) => ({ name: JOB, data })));
  }

  fill(payloads: readonly Task[]): Promise<void> {
    return fillInChunks(payloads, (chunk) => this.enqueueBatch(chunk));
  }

  work(concurrency: number, onStart: () => void): PeerWorker {
    const worker = new Worker<Task>(
      QUEUE,
      async () => {
        onStart();
      },
      {
        connection: { url: redisUrl(), maxRetriesPerRequest: null },
        prefix: this.prefix,
        concurrency,
        removeOnComplete: { count: 0 },
        removeOnFail: { count: 5_000 },
        skipStalledCheck: true,
      },
    );
    // Without a listener an 'error' event would end the process; say it and go on, as an application would.
    worker.on('error', (error: Error) => process.stderr.write(`bullmq worker error: ${error.message}\n`));
    return {
      ready: worker.waitUntilReady(),
      stop: () => worker.close(),
    };
  }

  async remaining(): Promise<number> {
    const counts = await this.queue.getJobCounts('wait', 'active', 'delayed', 'prioritized', 'waiting-children');
    return Object.values(counts).reduce((sum, count) => sum + count, 0);
  }

  durability(): string {
    return this.server;
  }

  close(): Promise<void> {
    return this.queue.close();
  }
}

export function bullmqPeer(): PeerLibrary {
  return {
    name: 'bullmq',
    config:
      'Worker concurrency N, removeOnComplete { count: 0 }, removeOnFail { count: 5000 }, skipStalledCheck, ' +
      'drainDelay 5 s (default); worker connection maxRetriesPerRequest null, queue enableOfflineQueue false',
    batch: 'addBulk',
    async open(prefix) {
      // BullMQ joins its prefix and the queue name with ':'; the run's prefix ends with one already.
      const bullPrefix = prefix.replace(/:$/, '');
      const queue = new Queue<Task>(QUEUE, {
        connection: { url: redisUrl(), enableOfflineQueue: false },
        prefix: bullPrefix,
      });
      queue.on('error', (error: Error) => process.stderr.write(`bullmq queue error: ${error.message}\n`));
      try {
        await queue.waitUntilReady();
        return new BullmqPeerQueue(queue, bullPrefix, await describeRedisAt());
      } catch (error) {
        await queue.close();
        throw error;
      }
    },
  };
}

/**
 * The operator's side of the game's queues, written against the JobQueue
 * port: a recurring job from a schedule, and dead jobs listed with their
 * errors and retried once their cause is fixed.
 */
import type { JobQueue, QueueBackend } from '@berth/core';
import { setSchedule, startScheduler } from '@berth/scheduler';
import type { Game } from './game.js';
import { waitUntilIdle } from './game-workers.js';

const DIGEST = 'game_digest';

/** A job of the `digest` queue: a summary of the game, posted on a schedule. */
type Digest = { readonly kind: 'players' };

/** What the recurring digest did. */
export interface DigestReport {
  readonly schedule: string;
  /** One job per tick: the ticks (`job.runAt`) the jobs were enqueued for, as offsets from the first, in ms. */
  readonly tickOffsets: readonly number[];
  /** What each digest job returned. */
  readonly results: readonly unknown[];
}

/**
 * Runs a schedule every 100 ms (a real game would say `cron: '0 8 * * *'`
 * with the players' time zone) until `ticks` jobs are done, with a
 * scheduler and a worker as any process would run them, then removes it.
 */
export async function runDigest(game: Game, queues: QueueBackend, ticks = 3): Promise<DigestReport> {
  const digest: JobQueue<Digest> = queues.queue<Digest>(DIGEST);
  await digest.purge({ finishedBefore: new Date(Date.now() + 1) });
  const schedule = await setSchedule(digest, { name: 'players_digest', everyMs: 100, payload: { kind: 'players' } });
  const scheduler = startScheduler(digest, { pollIntervalMs: 20 });
  const worker = digest.work(async () => ({ players: await game.players.count() }), { pollIntervalMs: 20 });
  try {
    const deadline = Date.now() + 10_000;
    while ((await digest.stats()).completed < ticks) {
      if (Date.now() > deadline) throw new Error(`the digest schedule did not run ${ticks} times in 10 s`);
      await new Promise((resolve) => setTimeout(resolve, 10));
    }
  } finally {
    await scheduler.close();
    await digest.removeSchedule(schedule.name);
    await worker.close();
  }
  const { jobs } = await digest.listJobs({ state: 'completed', order: 'oldest', limit: ticks });
  const first = jobs[0]?.runAt.getTime() ?? 0;
  return {
    schedule: `${schedule.name}, every 100 ms`,
    tickOffsets: jobs.map((job) => job.runAt.getTime() - first),
    results: jobs.map((job) => job.result),
  };
}

/** A dead job as an operator sees it in the listing. */
interface DeadJob {
  readonly to: string;
  readonly attempts: number;
  readonly errors: readonly string[];
}

/** What listing and retrying the dead mails did. */
export interface RetryReport {
  readonly dead: readonly DeadJob[];
  readonly retried: number;
  /** The state of each retried job once the workers caught up again. */
  readonly after: readonly string[];
}

/**
 * Lists the mail queue's dead jobs with their errors, calls `fix` (the
 * operator repairs the cause), retries every dead job in bounded steps and
 * lets `startWorkers` handle them again.
 */
export async function retryDeadMail(
  game: Game,
  fix: () => void,
  startWorkers: () => { close(): Promise<void> },
): Promise<RetryReport> {
  const { jobs } = await game.mail.listJobs({ state: 'dead', order: 'oldest' });
  const dead = jobs.map((job) => ({
    to: job.payload.to,
    attempts: job.attempts,
    errors: job.errors.map((error) => `attempt ${error.attempt}: ${error.message}`),
  }));
  fix();
  let retried = 0;
  let cursor: string | undefined;
  do {
    const step = await game.mail.retryJobs({ state: 'dead', limit: 100, cursor });
    retried += step.changed;
    cursor = step.cursor;
  } while (cursor !== undefined);
  const workers = startWorkers();
  try {
    await waitUntilIdle([game.mail]);
  } finally {
    await workers.close();
  }
  const after = [];
  for (const job of jobs) after.push((await game.mail.get(job.id))?.state ?? 'missing');
  return { dead, retried, after };
}

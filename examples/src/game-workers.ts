/**
 * The game's job handlers and workers, written against the JobQueue port
 * like the rest of the game: they run wherever the queues live.
 */
import type { Job, JobQueue, JobStats, Worker } from '@berth/core';
import {
  CHARACTERS,
  type Character,
  characterOptions,
  type Game,
  type Mail,
  PAYMENTS,
  type Reward,
  type RewardPayment,
  transactionWithRetry,
} from './game.js';

/** What a paid reward job stores as its result. */
export type RewardResult = { readonly goldAfter: number };

/**
 * Pays a reward once, although jobs are delivered at least once (a worker
 * that stalls past its lease sees its job run again elsewhere): the payment
 * is recorded under the job's id in the transaction that pays it, so a
 * second delivery finds the record and pays nothing. Payments running at
 * once may conflict (a retryable CONFLICT); the transaction then runs again.
 */
export async function payReward(game: Game, job: Job<Reward>): Promise<RewardResult> {
  return transactionWithRetry(game.backend, async (tx) => {
    const payments = tx.repository<RewardPayment>(PAYMENTS);
    const earlier = await payments.get(job.id);
    if (earlier !== null) return { goldAfter: earlier.goldAfter };
    const { characterId, gold } = job.payload;
    const character = await tx
      .repository<Character>(CHARACTERS, characterOptions)
      .update(characterId, { $inc: { gold } });
    await payments.insert({ id: job.id, characterId, gold, goldAfter: character.gold });
    return { goldAfter: character.gold };
  });
}

/** The mail relay the mail worker hands mails to. */
export interface MailService {
  /** Sends a mail; resolves to the relay's message id, throws {@link MailDeliveryError} when refused. */
  send(mail: Mail): Promise<string>;
}

/** A mail the relay refused, with its SMTP reply (`SMTP_451`: try later, `SMTP_550`: no such mailbox). */
export class MailDeliveryError extends Error {
  constructor(
    readonly code: string,
    message: string,
  ) {
    super(message);
    this.name = 'MailDeliveryError';
  }
}

/** The game's running workers. */
export interface GameWorkers {
  readonly rewards: Worker;
  readonly mail: Worker;
  /** Errors the workers could not hand to a job (a lost lease, a failed fetch). */
  readonly errors: readonly unknown[];
  /** Stops both workers, letting jobs in flight finish. */
  close(): Promise<void>;
}

/** Starts the rewards worker (4 jobs at once) and the mail worker (2 at once). */
export function startWorkers(game: Game, mailService: MailService): GameWorkers {
  const errors: unknown[] = [];
  const common = { pollIntervalMs: 50, closeTimeoutMs: 5_000, onError: (error: unknown) => errors.push(error) };
  const rewards = game.rewards.work((job) => payReward(game, job), { ...common, concurrency: 4 });
  const mail = game.mail.work(async (job) => ({ messageId: await mailService.send(job.payload) }), {
    ...common,
    concurrency: 2,
  });
  return {
    rewards,
    mail,
    errors,
    close: async () => {
      await Promise.all([rewards.close(), mail.close()]);
    },
  };
}

/**
 * Waits until no job of `queues` is waiting or active (jobs waiting for a
 * retry count as waiting), checking every few milliseconds.
 */
export async function waitUntilIdle(queues: readonly Pick<JobQueue, 'stats'>[], timeoutMs = 5_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  const busy = (stats: JobStats): boolean => stats.waiting + stats.active > 0;
  while ((await Promise.all(queues.map((queue) => queue.stats()))).some(busy)) {
    if (Date.now() > deadline) throw new Error(`queues still busy after ${timeoutMs} ms`);
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
}

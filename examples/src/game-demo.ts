/** The demo session: a few players play for a while, then the workers catch up on the jobs. */
import {
  isBerthError,
  type JobQueue,
  type JobStats,
  type QueryPlan,
  type QueueBackend,
  type RepositoryBackend,
} from '@berth/core';
import {
  type Character,
  charactersInRegion,
  claimDailyBonus,
  classCounts,
  createCharacter,
  explainLeaderboard,
  type Game,
  leaderboard,
  levelUp,
  type Mail,
  openGame,
  resetGame,
  signUp,
  transferGold,
  updateWithRetry,
} from './game.js';
import { type DigestReport, type RetryReport, retryDeadMail, runDigest } from './game-admin.js';
import { MailDeliveryError, type MailService, type RewardResult, startWorkers, waitUntilIdle } from './game-workers.js';

/** What happened to one job, for the report. */
interface JobOutcome {
  readonly state: string;
  readonly attempts: number;
  /** Every failed attempt's error. */
  readonly errors: readonly { readonly attempt: number; readonly code: string; readonly message: string }[];
}

/** What the queues did. */
export interface JobsReport {
  readonly queueBackend: string;
  readonly transactionalEnqueue: boolean;
  readonly welcomeMails: number;
  readonly rewardJobs: number;
  /** The party level-up that failed half-way, or why that part was skipped. */
  readonly rolledBack:
    | {
        readonly reason: string;
        readonly brienneLevel: number;
        readonly rewardsBefore: number;
        readonly rewardsAfter: number;
      }
    | { readonly skipped: string };
  readonly dailyBonus: { readonly deduplicated: boolean; readonly sameJob: boolean };
  readonly before: { readonly rewards: JobStats; readonly mail: JobStats };
  readonly paid: readonly { readonly name: string; readonly gold: number; readonly goldAfter: number }[];
  readonly mail: Readonly<Record<string, JobOutcome>>;
  readonly after: { readonly rewards: JobStats; readonly mail: JobStats };
  /** Jobs still running once the workers closed. */
  readonly runningAfterClose: number;
  readonly workerErrors: readonly string[];
  /** A recurring job from a schedule. */
  readonly digest: DigestReport;
  /** The dead mails listed with their errors, then retried once the mailbox exists. */
  readonly retry: RetryReport;
}

/** Everything the demo did, for printing and for tests. */
export interface DemoReport {
  readonly backend: string;
  readonly players: number;
  readonly characters: number;
  readonly duplicateSignup: string;
  readonly levelUps: readonly { readonly name: string; readonly level: number; readonly reward: number }[];
  readonly leaderboardPlan: QueryPlan;
  readonly leaderboard: readonly (readonly string[])[];
  readonly europe: readonly string[];
  readonly europePlan: QueryPlan;
  readonly classCounts: Readonly<Record<string, number>>;
  readonly transfer: { readonly from: number; readonly to: number };
  readonly refusedTransfers: readonly { readonly reason: string; readonly goldAfter: number }[];
  readonly concurrency: { readonly conflictCode: string; readonly attempts: number; readonly gold: number };
  readonly jobs: JobsReport;
}

/**
 * A stand-in for an SMTP relay: grace's mailbox is busy the first time
 * (a temporary refusal, so the job is retried), linus's address does not
 * exist (every attempt fails and the job ends up dead).
 */
class DemoMailService implements MailService {
  private readonly busyOnce = new Set(['grace@example.com']);
  private readonly missing = new Set(['linus@example.com']);
  private sent = 0;

  /** The mailbox exists from now on (the operator fixed it). */
  createMailbox(to: string): void {
    this.missing.delete(to);
  }

  async send(mail: Mail): Promise<string> {
    if (this.missing.has(mail.to)) throw new MailDeliveryError('SMTP_550', '550 5.1.1 no such mailbox');
    if (this.busyOnce.delete(mail.to)) throw new MailDeliveryError('SMTP_451', '451 4.2.1 mailbox busy, try later');
    this.sent += 1;
    return `<${this.sent}@mail.example.com>`;
  }
}

function summary(character: Character): string {
  return `${character.name} (${character.class}, level ${character.level})`;
}

function errorReason(error: unknown): string {
  if (isBerthError(error)) return error.code;
  return error instanceof Error ? error.name : String(error);
}

async function goldOf(game: Game, id: string): Promise<number> {
  return (await game.characters.get(id))?.gold ?? Number.NaN;
}

async function outcome(queue: JobQueue<Mail>, id: string): Promise<JobOutcome> {
  const job = await queue.get(id);
  if (job === null) return { state: 'missing', attempts: 0, errors: [] };
  return {
    state: job.state,
    attempts: job.attempts,
    errors: job.errors.map(({ attempt, name, message }) => ({ attempt, code: name ?? 'Error', message })),
  };
}

/**
 * The whole demo session on `backend`, with the jobs on `queues` (pass the
 * same backend to enqueue jobs in the data's transactions). Returns a
 * report; prints nothing.
 */
export async function runDemo(
  backend: RepositoryBackend,
  queues: QueueBackend,
  mailService: MailService = new DemoMailService(),
): Promise<DemoReport> {
  const game = openGame(backend, queues);
  await resetGame(game);

  const signUps = [
    await signUp(game, 'ada', 'eu'),
    await signUp(game, 'linus', 'na'),
    await signUp(game, 'grace', 'eu'),
  ] as const;
  const [{ player: ada }, { player: linus }, { player: grace }] = signUps;

  let duplicateSignup = 'not enforced by this engine';
  try {
    await signUp(game, 'ada', 'na');
  } catch (error) {
    duplicateSignup = errorReason(error);
  }
  const welcomeMails = (await game.mail.stats()).waiting;

  const brienne = await createCharacter(game, ada, 'Brienne', 'warrior', { level: 7, gold: 120 });
  const merlin = await createCharacter(game, ada, 'Merlin', 'mage', { level: 12, gold: 300 });
  const shade = await createCharacter(game, linus, 'Shade', 'rogue', { level: 4, gold: 80 });
  const tux = await createCharacter(game, linus, 'Tux', 'warrior', { level: 9, gold: 50 });
  const cobol = await createCharacter(game, grace, 'Cobol', 'mage', { level: 3, gold: 20 });
  const hopper = await createCharacter(game, grace, 'Hopper', 'rogue', { level: 11, gold: 200 });
  await createCharacter(game, grace, 'Lovelace', 'mage', { gold: 5 });

  const levelUps = await levelUp(game, [
    { characterId: shade.id, levels: 2 },
    { characterId: cobol.id, levels: 3 },
    { characterId: tux.id, levels: 1 },
  ]);
  const rewardJobs = levelUps.map((up) => up.rewardJob);

  // A party level-up whose second member does not exist: Brienne's level-up
  // and the reward job enqueued with it roll back together.
  let rolledBack: JobsReport['rolledBack'] = {
    skipped: `the queue is not in the data's transactions`,
  };
  if (game.transactionalEnqueue) {
    const rewardsBefore = (await game.rewards.stats()).waiting;
    let reason = 'committed';
    try {
      await levelUp(game, [
        { characterId: brienne.id, levels: 1 },
        { characterId: 'no-such-character', levels: 1 },
      ]);
    } catch (error) {
      reason = errorReason(error);
    }
    rolledBack = {
      reason,
      brienneLevel: (await game.characters.get(brienne.id))?.level ?? Number.NaN,
      rewardsBefore,
      rewardsAfter: (await game.rewards.stats()).waiting,
    };
  }

  const today = new Date().toISOString().slice(0, 10);
  const bonus = await claimDailyBonus(game, hopper, today);
  const again = await claimDailyBonus(game, hopper, today);
  rewardJobs.push(bonus.id);

  const europe = await charactersInRegion(game, 'eu');

  const pages: string[][] = [];
  for await (const page of leaderboard(game, 6, 4)) pages.push(page.map(summary));

  await transferGold(game, merlin.id, brienne.id, 100);

  const refusedTransfers = [];
  for (const [from, to, amount] of [
    [hopper.id, 'no-such-character', 50],
    [cobol.id, hopper.id, 1000],
  ] as const) {
    try {
      await transferGold(game, from, to, amount);
    } catch (error) {
      refusedTransfers.push({ reason: errorReason(error), goldAfter: await goldOf(game, from) });
    }
  }

  // Tux sells an item for 25 gold (read-modify-write) while a loot drop of
  // 10 gold lands between the read and the write. expectedVersion turns the
  // lost update into a CONFLICT; the retry sees the loot and keeps both.
  const sale = await updateWithRetry(game.characters, tux.id, async (current, attempt) => {
    if (attempt === 1) await game.characters.update(tux.id, { $inc: { gold: 10 } });
    return { gold: current.gold + 25 };
  });

  // The workers catch up: rewards are paid, mails sent (or retried, or given up on).
  const before = { rewards: await game.rewards.stats(), mail: await game.mail.stats() };
  const workers = startWorkers(game, mailService);
  try {
    await waitUntilIdle([game.rewards, game.mail]);
  } finally {
    await workers.close();
  }

  const paid = [];
  for (const id of rewardJobs) {
    const job = await game.rewards.get(id);
    const character = job === null ? null : await game.characters.get(job.payload.characterId);
    const result = job?.result as RewardResult | undefined;
    if (job !== null && character !== null && result !== undefined) {
      paid.push({ name: character.name, gold: job.payload.gold, goldAfter: result.goldAfter });
    }
  }
  paid.sort((a, b) => a.name.localeCompare(b.name));

  const mail: Record<string, JobOutcome> = {};
  for (const { player, welcomeMail } of signUps) mail[player.name] = await outcome(game.mail, welcomeMail);
  const after = { rewards: await game.rewards.stats(), mail: await game.mail.stats() };

  // The operator's side: a recurring job, then the dead mail listed, fixed and retried.
  const digest = await runDigest(game, queues);
  const retry = await retryDeadMail(
    game,
    () => {
      if (mailService instanceof DemoMailService) mailService.createMailbox('linus@example.com');
    },
    () => startWorkers(game, mailService),
  );

  return {
    backend: backend.kind,
    players: await game.players.count(),
    characters: await game.characters.count(),
    duplicateSignup,
    levelUps: levelUps.map(({ character, reward }) => ({ name: character.name, level: character.level, reward })),
    leaderboardPlan: await explainLeaderboard(game, 6),
    leaderboard: pages,
    europe: europe.characters.map((character) => character.name),
    europePlan: europe.plan,
    classCounts: await classCounts(game),
    transfer: { from: await goldOf(game, merlin.id), to: await goldOf(game, brienne.id) },
    refusedTransfers,
    concurrency: {
      conflictCode: sale.conflicts[0]?.code ?? 'none',
      attempts: sale.attempts,
      gold: sale.document.gold,
    },
    jobs: {
      queueBackend: queues.kind,
      transactionalEnqueue: game.transactionalEnqueue,
      welcomeMails,
      rewardJobs: levelUps.length,
      rolledBack,
      dailyBonus: { deduplicated: again.deduplicated, sameJob: again.id === bonus.id },
      before,
      paid,
      mail,
      after,
      runningAfterClose: workers.rewards.running + workers.mail.running,
      workerErrors: workers.errors.map(String),
      digest,
      retry,
    },
  };
}

/**
 * A small game backend written only against Berth's ports. Nothing here knows
 * which engine stores the data or the jobs: the same code runs on `memory:`
 * or any other backend URL, with the queue on the same backend or another.
 */
import {
  type BerthError,
  type Document,
  type EnqueueItem,
  type EnqueueOptions,
  isBerthError,
  type JobQueue,
  NotFoundError,
  type Query,
  type QueryPlan,
  type QueueBackend,
  type Repository,
  type RepositoryBackend,
  type RepositoryOptions,
  type TransactionScope,
  type Update,
} from '@berth/core';

export type CharacterClass = 'warrior' | 'mage' | 'rogue';

export interface Player extends Document {
  readonly name: string;
  readonly region: string;
  readonly joinedAt: Date;
}

export interface Character extends Document {
  readonly playerId: string;
  readonly name: string;
  readonly class: CharacterClass;
  readonly level: number;
  readonly gold: number;
}

/** A job of the `rewards` queue: gold to pay to a character. */
export interface Reward {
  readonly characterId: string;
  readonly gold: number;
  readonly reason: string;
}

/** A reward paid, kept under the id of the job that paid it (see `payReward`). */
export interface RewardPayment extends Document {
  readonly characterId: string;
  readonly gold: number;
  readonly goldAfter: number;
}

/** A job of the `mail` queue. */
export interface Mail {
  readonly to: string;
  readonly subject: string;
}

/** The repositories and queues the game uses. */
export interface Game {
  readonly backend: RepositoryBackend;
  readonly players: Repository<Player>;
  readonly characters: Repository<Character>;
  readonly rewards: JobQueue<Reward>;
  readonly mail: JobQueue<Mail>;
  /** Whether jobs can be enqueued in the transaction of the change that calls for them. */
  readonly transactionalEnqueue: boolean;
}

const PLAYERS = 'game_players';
export const CHARACTERS = 'game_characters';
export const PAYMENTS = 'game_reward_payments';
const REWARDS = 'game_rewards';
const MAIL = 'game_mail';

/** Gold paid per level gained. */
const REWARD_PER_LEVEL = 10;

export const characterOptions: RepositoryOptions<Character> = {
  indexes: [
    { field: 'playerId', type: 'string' },
    { field: 'class', type: 'string' },
    { field: 'level', type: 'number' },
  ],
};

/**
 * Mail servers refuse now and then: three attempts, 10 ms then 20 ms apart.
 * Short so the demo stays quick; a real game would wait minutes.
 */
const MAIL_RETRIES: EnqueueOptions = { maxAttempts: 3, backoff: { type: 'exponential', delayMs: 10 } };

function playerOptions(backend: RepositoryBackend): RepositoryOptions<Player> {
  // Unique indexes are a capability: ask for one only where the engine enforces it.
  return { indexes: [{ field: 'name', type: 'string', unique: backend.capabilities.repository.uniqueIndexes }] };
}

/** Opens the game's collections on `backend` and its queues on `queues` (often the same backend). */
export function openGame(backend: RepositoryBackend, queues: QueueBackend): Game {
  return {
    backend,
    players: backend.repository<Player>(PLAYERS, playerOptions(backend)),
    characters: backend.repository<Character>(CHARACTERS, characterOptions),
    rewards: queues.queue<Reward>(REWARDS),
    mail: queues.queue<Mail>(MAIL),
    // A transaction can only take in a job when the queue lives in the same backend as the data.
    transactionalEnqueue:
      Object.is(queues, backend) &&
      queues.capabilities.queue.transactionalEnqueue &&
      backend.capabilities.repository.transactions !== 'none',
  };
}

/** Removes every player, character, payment and finished job, so the demo starts clean on durable engines too. */
export async function resetGame(game: Game): Promise<void> {
  await game.characters.deleteMany({});
  await game.players.deleteMany({});
  await game.backend.repository<RewardPayment>(PAYMENTS).deleteMany({});
  const finishedBefore = new Date(Date.now() + 1);
  await game.rewards.purge({ finishedBefore });
  await game.mail.purge({ finishedBefore });
}

/**
 * Runs `work` in a transaction. The jobs it passes to `enqueue` go into the
 * same transaction where the queue allows, so a change and the jobs it calls
 * for commit together or not at all. Elsewhere they are enqueued right after
 * the commit: a crash in between loses them.
 */
async function withJobs<R, J>(
  game: Game,
  queue: JobQueue<J>,
  work: (tx: TransactionScope, enqueue: (item: EnqueueItem<J>) => Promise<void>) => Promise<R>,
): Promise<{ readonly result: R; readonly jobIds: readonly string[] }> {
  const jobIds: string[] = [];
  const afterCommit: EnqueueItem<J>[] = [];
  const result = await game.backend.transaction(async (tx) => {
    const inTransaction = game.transactionalEnqueue ? tx.queue<J>(queue.name) : undefined;
    return work(tx, async (item) => {
      if (inTransaction === undefined) {
        afterCommit.push(item);
        return;
      }
      const { payload, ...options } = item;
      jobIds.push((await inTransaction.enqueue(payload, options)).id);
    });
  });
  if (afterCommit.length > 0) jobIds.push(...(await queue.enqueueMany(afterCommit)).map(({ id }) => id));
  return { result, jobIds };
}

/** Signs a player up and enqueues their welcome mail with the sign-up. */
export async function signUp(
  game: Game,
  name: string,
  region: string,
): Promise<{ readonly player: Player; readonly welcomeMail: string }> {
  const { result, jobIds } = await withJobs(game, game.mail, async (tx, enqueue) => {
    const player = await tx
      .repository<Player>(PLAYERS, playerOptions(game.backend))
      .insert({ name, region, joinedAt: new Date() });
    await enqueue({ payload: { to: `${name}@example.com`, subject: `Welcome, ${name}!` }, ...MAIL_RETRIES });
    return player;
  });
  return { player: result, welcomeMail: jobIds[0] ?? '' };
}

export async function createCharacter(
  game: Game,
  player: Player,
  name: string,
  characterClass: CharacterClass,
  start: { readonly level?: number; readonly gold?: number } = {},
): Promise<Character> {
  return game.characters.insert({
    playerId: player.id,
    name,
    class: characterClass,
    level: start.level ?? 1,
    gold: start.gold ?? 0,
  });
}

/** One character's level-up. */
export interface LevelUp {
  readonly characterId: string;
  readonly levels: number;
}

/**
 * Levels characters up all-or-nothing ($inc: atomic, no lost level-ups) and
 * enqueues a reward job per character, paid later by the rewards worker. If
 * any level-up fails, none is kept, and neither is any reward job.
 */
export async function levelUp(
  game: Game,
  ups: readonly LevelUp[],
): Promise<{ readonly character: Character; readonly reward: number; readonly rewardJob: string }[]> {
  const { result, jobIds } = await withJobs(game, game.rewards, async (tx, enqueue) => {
    const characters = tx.repository<Character>(CHARACTERS, characterOptions);
    const updated: { character: Character; reward: number }[] = [];
    for (const { characterId, levels } of ups) {
      const character = await characters.update(characterId, { $inc: { level: levels } });
      const reward = REWARD_PER_LEVEL * levels;
      await enqueue({ payload: { characterId, gold: reward, reason: `level ${character.level}` } });
      updated.push({ character, reward });
    }
    return updated;
  });
  return result.map((up, index) => ({ ...up, rewardJob: jobIds[index] ?? '' }));
}

/**
 * Queues today's login bonus. While it waits to be paid, a second claim the
 * same day returns the pending job (same dedupe key) instead of adding one.
 * Dedupe keys only hold while a job is waiting or active: to refuse claims
 * after the payment too, a game would record the claim with its data.
 */
export async function claimDailyBonus(
  game: Game,
  character: Character,
  day: string,
): Promise<{ readonly id: string; readonly deduplicated: boolean }> {
  return game.rewards.enqueue(
    { characterId: character.id, gold: 5, reason: 'daily bonus' },
    { dedupeKey: `daily:${character.id}:${day}` },
  );
}

/** Characters at or above `minLevel`, strongest first, page by page (keyset cursors). */
export async function* leaderboard(game: Game, minLevel: number, pageSize: number): AsyncGenerator<Character[]> {
  let cursor: string | undefined;
  do {
    const page = await game.characters.findPage({
      where: { level: { $gte: minLevel } },
      orderBy: [{ field: 'level', direction: 'desc' }, 'name'],
      limit: pageSize,
      cursor,
    });
    yield page.items;
    cursor = page.nextCursor ?? undefined;
  } while (cursor !== undefined);
}

/** How the engine serves the leaderboard query: an index or a scan. */
export async function explainLeaderboard(game: Game, minLevel: number): Promise<QueryPlan> {
  return game.characters.explain({ where: { level: { $gte: minLevel } } });
}

/** Every character of the players in `region`, by name, and how the engine served the lookup. */
export async function charactersInRegion(
  game: Game,
  region: string,
): Promise<{ readonly characters: Character[]; readonly plan: QueryPlan }> {
  const players = await game.players.find({ where: { region } });
  const query: Query<Character> = { where: { playerId: { $in: players.map((player) => player.id) } }, orderBy: 'name' };
  return { characters: await game.characters.find(query), plan: await game.characters.explain(query) };
}

/** How many characters each class has, classes in name order. */
export async function classCounts(game: Game): Promise<Record<string, number>> {
  const groups = await game.characters.countBy('class');
  return Object.fromEntries(groups.map((group) => [String(group.value), group.count]));
}

/** A transfer the game refuses before anything is written. */
class InsufficientGoldError extends Error {
  constructor(name: string, gold: number, amount: number) {
    super(`${name} has ${gold} gold and cannot pay ${amount}`);
    this.name = 'InsufficientGoldError';
  }
}

/**
 * Moves gold between two characters all-or-nothing: if anything fails after
 * the debit (the receiver does not exist, the engine fails), the debit is
 * rolled back with it.
 */
export async function transferGold(game: Game, fromId: string, toId: string, amount: number): Promise<void> {
  await game.backend.transaction(async (tx) => {
    const characters = tx.repository<Character>(CHARACTERS, characterOptions);
    const from = await characters.get(fromId);
    if (from === null) throw new NotFoundError(`character ${fromId} not found`, { collection: CHARACTERS, id: fromId });
    if (from.gold < amount) throw new InsufficientGoldError(from.name, from.gold, amount);
    await characters.update(fromId, { $inc: { gold: -amount } });
    await characters.update(toId, { $inc: { gold: amount } });
  });
}

/**
 * Runs a transaction again when it fails with a retryable `CONFLICT` (a
 * concurrent transaction changed what it touched), up to `maxAttempts` times.
 */
export async function transactionWithRetry<R>(
  backend: RepositoryBackend,
  work: (tx: TransactionScope) => Promise<R>,
  maxAttempts = 10,
): Promise<R> {
  for (let attempt = 1; ; attempt += 1) {
    try {
      return await backend.transaction(work);
    } catch (error) {
      if (!isBerthError(error, 'CONFLICT') || !error.retryable || attempt >= maxAttempts) throw error;
    }
  }
}

/** What {@link updateWithRetry} did. */
export interface RetriedUpdate<T> {
  readonly document: T;
  readonly attempts: number;
  readonly conflicts: readonly BerthError[];
}

/**
 * Read-modify-write guarded by optimistic concurrency: the write only lands
 * if nobody wrote the document since we read it. On `CONFLICT` it reads the
 * new state and computes the change again.
 */
export async function updateWithRetry<T extends Document>(
  repository: Repository<T>,
  id: string,
  change: (current: T, attempt: number) => Update<T> | Promise<Update<T>>,
  maxAttempts = 5,
): Promise<RetriedUpdate<T>> {
  const conflicts: BerthError[] = [];
  for (let attempt = 1; ; attempt += 1) {
    const entry = await repository.getEntry(id);
    if (entry === null)
      throw new NotFoundError(`${repository.name} ${id} not found`, { collection: repository.name, id });
    const update = await change(entry.document, attempt);
    try {
      const document = await repository.update(id, update, { expectedVersion: entry.meta.version });
      return { document, attempts: attempt, conflicts };
    } catch (error) {
      if (!isBerthError(error, 'CONFLICT') || attempt >= maxAttempts) throw error;
      conflicts.push(error);
    }
  }
}

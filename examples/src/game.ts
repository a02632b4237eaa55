/**
 * A small game backend written only against Berth's ports. Nothing here knows
 * which engine stores the data: the same code runs on `memory:` or any other
 * backend URL.
 */
import {
  type BerthError,
  type Document,
  isBerthError,
  NotFoundError,
  type QueryPlan,
  type Repository,
  type RepositoryBackend,
  type RepositoryOptions,
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

/** The repositories the game uses. */
export interface Game {
  readonly backend: RepositoryBackend;
  readonly players: Repository<Player>;
  readonly characters: Repository<Character>;
}

const PLAYERS = 'game_players';
const CHARACTERS = 'game_characters';

const characterOptions: RepositoryOptions<Character> = {
  indexes: [
    { field: 'playerId', type: 'string' },
    { field: 'class', type: 'string' },
    { field: 'level', type: 'number' },
  ],
};

/** Opens the game's collections on any backend. */
export function openGame(backend: RepositoryBackend): Game {
  // Unique indexes are a capability: ask for one only where the engine enforces it.
  const unique = backend.capabilities.repository.uniqueIndexes;
  return {
    backend,
    players: backend.repository<Player>(PLAYERS, {
      indexes: [{ field: 'name', type: 'string', unique }],
    }),
    characters: backend.repository<Character>(CHARACTERS, characterOptions),
  };
}

/** Removes every player and character, so the demo starts clean on durable engines too. */
export async function resetGame(game: Game): Promise<void> {
  await game.characters.deleteMany({});
  await game.players.deleteMany({});
}

export async function createPlayer(game: Game, name: string, region: string): Promise<Player> {
  return game.players.insert({ name, region, joinedAt: new Date() });
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

/** Levels up in one atomic step: no read-modify-write, so concurrent level-ups never get lost. */
export async function levelUp(game: Game, characterId: string, levels = 1): Promise<Character> {
  return game.characters.update(characterId, { $inc: { level: levels, gold: 10 * levels } });
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
  const query = { where: { playerId: { $in: players.map((player) => player.id) } }, orderBy: 'name' };
  return { characters: await game.characters.find(query), plan: await game.characters.explain(query) };
}

/** How many characters each class has, classes in name order. */
export async function classCounts(game: Game): Promise<Record<string, number>> {
  const groups = await game.characters.countBy('class');
  return Object.fromEntries(groups.map((group) => [String(group.value), group.count]));
}

/** A transfer the game refuses before anything is written. */
export class InsufficientGoldError extends Error {
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

/** Everything the demo did, for printing and for tests. */
export interface DemoReport {
  readonly backend: string;
  readonly players: number;
  readonly characters: number;
  readonly duplicateSignup: string;
  readonly levelUps: readonly { readonly name: string; readonly level: number; readonly gold: number }[];
  readonly leaderboardPlan: QueryPlan;
  readonly leaderboard: readonly (readonly string[])[];
  readonly europe: readonly string[];
  readonly europePlan: QueryPlan;
  readonly classCounts: Readonly<Record<string, number>>;
  readonly transfer: { readonly from: number; readonly to: number };
  readonly refusedTransfers: readonly { readonly reason: string; readonly goldAfter: number }[];
  readonly concurrency: { readonly conflictCode: string; readonly attempts: number; readonly gold: number };
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

/** The whole demo session. Returns a report; prints nothing. */
export async function runDemo(backend: RepositoryBackend): Promise<DemoReport> {
  const game = openGame(backend);
  await resetGame(game);

  const ada = await createPlayer(game, 'ada', 'eu');
  const linus = await createPlayer(game, 'linus', 'na');
  const grace = await createPlayer(game, 'grace', 'eu');

  let duplicateSignup = 'not enforced by this engine';
  try {
    await createPlayer(game, 'ada', 'na');
  } catch (error) {
    duplicateSignup = errorReason(error);
  }

  const brienne = await createCharacter(game, ada, 'Brienne', 'warrior', { level: 7, gold: 120 });
  const merlin = await createCharacter(game, ada, 'Merlin', 'mage', { level: 12, gold: 300 });
  const shade = await createCharacter(game, linus, 'Shade', 'rogue', { level: 4, gold: 80 });
  const tux = await createCharacter(game, linus, 'Tux', 'warrior', { level: 9, gold: 50 });
  const cobol = await createCharacter(game, grace, 'Cobol', 'mage', { level: 3, gold: 20 });
  const hopper = await createCharacter(game, grace, 'Hopper', 'rogue', { level: 11, gold: 200 });
  await createCharacter(game, grace, 'Lovelace', 'mage', { gold: 5 });

  const levelUps = [];
  for (const [character, levels] of [
    [shade, 2],
    [cobol, 3],
    [tux, 1],
  ] as const) {
    const updated = await levelUp(game, character.id, levels);
    levelUps.push({ name: updated.name, level: updated.level, gold: updated.gold });
  }

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

  return {
    backend: backend.kind,
    players: await game.players.count(),
    characters: await game.characters.count(),
    duplicateSignup,
    levelUps,
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
  };
}

/**
 * The points-and-leaderboard bot, one of the five systems Berth was designed
 * from, written on the finished repository port: points awarded to players
 * who may not exist yet, the top ten, and a player's rank. No retry loop, no
 * read-modify-write, no full scan: each is one call that an index serves.
 */
import type { Document, QueryPlan, Repository, RepositoryBackend } from '@berth/core';

export interface Score extends Document {
  readonly name: string;
  readonly guild: string;
  readonly points: number;
}

/** One line of the leaderboard. */
export interface Standing {
  readonly rank: number;
  readonly name: string;
  readonly points: number;
}

/** The scores collection, with the index that serves the top ten and ranks (and a guild's board). */
export function openLeaderboard(backend: RepositoryBackend): Repository<Score> {
  return backend.repository<Score>('scores', {
    indexes: [
      { field: 'points', type: 'number' },
      {
        fields: [
          { field: 'guild', type: 'string' },
          { field: 'points', type: 'number' },
        ],
      },
    ],
  });
}

/**
 * Adds points to a player, creating the player at 0 first when they have
 * none yet: one atomic step, so concurrent awards never lose one.
 */
export async function award(
  scores: Repository<Score>,
  id: string,
  name: string,
  guild: string,
  points: number,
): Promise<Score> {
  return scores.update(id, { $inc: { points } }, { upsert: { name, guild, points: 0 } });
}

/**
 * Spends points only if the player has enough: `null` (and nothing written)
 * when they do not.
 */
export async function spend(scores: Repository<Score>, id: string, points: number): Promise<Score | null> {
  return scores.update(id, { $inc: { points: -points } }, { where: { points: { $gte: points } } });
}

/** The `limit` best players, best first; ties by id. Read from the index, never by sorting everyone. */
export async function top(scores: Repository<Score>, limit = 10, guild?: string): Promise<Standing[]> {
  const best = await scores.find({
    ...(guild === undefined ? {} : { where: { guild } }),
    orderBy: { field: 'points', direction: 'desc' },
    limit,
  });
  const standings: Standing[] = [];
  for (const score of best) standings.push({ rank: await rankOf(scores, score.points), ...pick(score) });
  return standings;
}

/** A player's rank: one more than the number of players with more points (a count the index answers). */
export async function rank(scores: Repository<Score>, id: string): Promise<Standing | null> {
  const score = await scores.get(id);
  if (score === null) return null;
  return { rank: await rankOf(scores, score.points), ...pick(score) };
}

/** How the engine serves the top ten: the plan a test and an operator can check. */
export function explainTop(scores: Repository<Score>, limit = 10): Promise<QueryPlan> {
  return scores.explain({ orderBy: { field: 'points', direction: 'desc' }, limit });
}

async function rankOf(scores: Repository<Score>, points: number): Promise<number> {
  return 1 + (await scores.count({ points: { $gt: points } }));
}

function pick(score: Score): { name: string; points: number } {
  return { name: score.name, points: score.points };
}

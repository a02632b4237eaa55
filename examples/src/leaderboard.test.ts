import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createBackend, type RepositoryBackend } from '@berth/core';
import { afterAll, describe, expect, it } from 'vitest';
import { award, explainTop, openLeaderboard, rank, spend, top } from './leaderboard.js';

const directory = mkdtempSync(join(tmpdir(), 'berth-leaderboard-'));
afterAll(() => rmSync(directory, { recursive: true, force: true }));

let files = 0;
// A fresh storage per test: the file and SQLite backends keep what an earlier test wrote.
const engines: [string, () => string][] = [
  ['memory', () => 'memory:'],
  ['file', () => `file:${join(directory, `scores-${++files}.json`)}`],
  ['sqlite', () => `sqlite:${join(directory, `scores-${++files}.db`)}`],
];

describe.each(engines)('leaderboard on %s', (_engine, url) => {
  async function withBackend(work: (backend: RepositoryBackend) => Promise<void>): Promise<void> {
    const backend = await createBackend(url());
    try {
      await work(backend);
    } finally {
      await backend.close();
    }
  }

  it('awards points to players who do not exist yet, concurrently, without losing one', async () => {
    await withBackend(async (backend) => {
      const scores = openLeaderboard(backend);
      await Promise.all(Array.from({ length: 20 }, (_, n) => award(scores, 'ada', 'Ada', 'north', n + 1)));
      expect(await scores.getEntry('ada')).toMatchObject({
        document: { id: 'ada', name: 'Ada', guild: 'north', points: 210 },
        meta: { version: 20 },
      });
    });
  });

  it('ranks players from the index: top ten best first, ties sharing a rank, and one player’s rank', async () => {
    await withBackend(async (backend) => {
      const scores = openLeaderboard(backend);
      for (let n = 0; n < 30; n++) await award(scores, `p${n}`, `Player ${n}`, n % 2 === 0 ? 'north' : 'south', n * 10);
      await award(scores, 'tie', 'Tie', 'south', 280);
      const board = await top(scores);
      expect(board.map((standing) => [standing.rank, standing.name, standing.points])).toStrictEqual([
        [1, 'Player 29', 290],
        [2, 'Player 28', 280],
        [2, 'Tie', 280],
        [4, 'Player 27', 270],
        [5, 'Player 26', 260],
        [6, 'Player 25', 250],
        [7, 'Player 24', 240],
        [8, 'Player 23', 230],
        [9, 'Player 22', 220],
        [10, 'Player 21', 210],
      ]);
      expect(await rank(scores, 'p5')).toStrictEqual({ rank: 26, name: 'Player 5', points: 50 });
      expect(await rank(scores, 'nobody')).toBeNull();
      expect((await top(scores, 3, 'north')).map((standing) => standing.name)).toStrictEqual([
        'Player 28',
        'Player 26',
        'Player 24',
      ]);
      expect(await explainTop(scores)).toMatchObject({ strategy: 'index' });
    });
  });

  it('spends points only when the balance covers them', async () => {
    await withBackend(async (backend) => {
      const scores = openLeaderboard(backend);
      await award(scores, 'bob', 'Bob', 'south', 25);
      expect(await spend(scores, 'bob', 30)).toBeNull();
      expect((await spend(scores, 'bob', 20))?.points).toBe(5);
      expect((await scores.get('bob'))?.points).toBe(5);
    });
  });
});

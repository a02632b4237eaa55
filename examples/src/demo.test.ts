import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { MemoryBackend } from '@berth/adapter-memory';
import type { Job } from '@berth/core';
import { describe, expect, it } from 'vitest';
import { main } from './demo.js';
import { openGame, type Reward } from './game.js';
import { runDemo } from './game-demo.js';
import { payReward } from './game-workers.js';

const empty = { waiting: 0, active: 0, completed: 0, dead: 0, cancelled: 0 };

describe('game demo', () => {
  it('runs end to end on the embedded default, a SQLite file', async () => {
    const directory = mkdtempSync(join(tmpdir(), 'berth-demo-'));
    try {
      const lines: string[] = [];
      const report = await main(`sqlite:${join(directory, 'demo.db')}`, (line) => lines.push(line));
      expect(report.backend).toBe('sqlite');
      expect(report.characters).toBe(7);
      expect(report.concurrency).toEqual({ conflictCode: 'CONFLICT', attempts: 2, gold: 85 });
      expect(report.jobs.after.rewards).toEqual({ ...empty, completed: 4 });
      expect(report.jobs.after.mail).toEqual({ ...empty, completed: 2, dead: 1 });
      // A recurring job: one job per tick, the ticks 100 ms apart.
      expect(report.jobs.digest.tickOffsets).toEqual([0, 100, 200]);
      expect(report.jobs.digest.results).toEqual([{ players: 3 }, { players: 3 }, { players: 3 }]);
      // The dead mail is listed with its errors, retried once fixed, and sent.
      expect(report.jobs.retry.dead).toEqual([
        {
          to: 'linus@example.com',
          attempts: 3,
          errors: [1, 2, 3].map((attempt) => `attempt ${attempt}: 550 5.1.1 no such mailbox`),
        },
      ]);
      expect(report.jobs.retry).toMatchObject({ retried: 1, after: ['completed'] });
      expect(lines).toContain('dead mails listed (listJobs state dead): 1');
      expect(lines[0]).toBe('Berth game demo on the "sqlite" backend');
    } finally {
      rmSync(directory, { recursive: true, force: true });
    }
  });

  it('runs end to end on the memory backend', async () => {
    const lines: string[] = [];
    const report = await main('memory:', (line) => lines.push(line));

    expect(report.backend).toBe('memory');
    expect(report.players).toBe(3);
    expect(report.characters).toBe(7);
    expect(report.duplicateSignup).toBe('ALREADY_EXISTS');
    expect(report.levelUps).toEqual([
      { name: 'Shade', level: 6, reward: 20 },
      { name: 'Cobol', level: 6, reward: 30 },
      { name: 'Tux', level: 10, reward: 10 },
    ]);
    expect(report.leaderboard).toEqual([
      ['Merlin (mage, level 12)', 'Hopper (rogue, level 11)', 'Tux (warrior, level 10)', 'Brienne (warrior, level 7)'],
      ['Cobol (mage, level 6)', 'Shade (rogue, level 6)'],
    ]);
    expect(report.europe).toEqual(['Brienne', 'Cobol', 'Hopper', 'Lovelace', 'Merlin']);
    expect(report.classCounts).toEqual({ mage: 3, rogue: 2, warrior: 2 });
    expect(report.transfer).toEqual({ from: 200, to: 220 });
    expect(report.refusedTransfers).toEqual([
      { reason: 'NOT_FOUND', goldAfter: 200 },
      { reason: 'InsufficientGoldError', goldAfter: 20 },
    ]);
    // Rewards are paid by the worker at the end, so Tux has 50 + 10 loot + 25 sale here.
    expect(report.concurrency).toEqual({ conflictCode: 'CONFLICT', attempts: 2, gold: 85 });
    expect(lines[0]).toBe('Berth game demo on the "memory" backend');
  });

  it('enqueues jobs with the data and processes them', async () => {
    const { jobs } = await main('memory:', () => {});

    expect(jobs.transactionalEnqueue).toBe(true);
    expect(jobs.welcomeMails).toBe(3);
    expect(jobs.rewardJobs).toBe(3);
    // Brienne's level-up and its reward job rolled back with the failed party level-up.
    expect(jobs.rolledBack).toEqual({ reason: 'NOT_FOUND', brienneLevel: 7, rewardsBefore: 3, rewardsAfter: 3 });
    expect(jobs.dailyBonus).toEqual({ deduplicated: true, sameJob: true });
    expect(jobs.before).toEqual({ rewards: { ...empty, waiting: 4 }, mail: { ...empty, waiting: 3 } });
    expect(jobs.paid).toEqual([
      { name: 'Cobol', gold: 30, goldAfter: 50 },
      { name: 'Hopper', gold: 5, goldAfter: 205 },
      { name: 'Shade', gold: 20, goldAfter: 100 },
      { name: 'Tux', gold: 10, goldAfter: 95 },
    ]);
    expect(jobs.mail.ada).toEqual({ state: 'completed', attempts: 1, errors: [] });
    expect(jobs.mail.grace).toEqual({
      state: 'completed',
      attempts: 2,
      errors: [{ attempt: 1, code: 'SMTP_451', message: '451 4.2.1 mailbox busy, try later' }],
    });
    expect(jobs.mail.linus).toEqual({
      state: 'dead',
      attempts: 3,
      errors: [1, 2, 3].map((attempt) => ({ attempt, code: 'SMTP_550', message: '550 5.1.1 no such mailbox' })),
    });
    expect(jobs.after).toEqual({ rewards: { ...empty, completed: 4 }, mail: { ...empty, completed: 2, dead: 1 } });
    expect(jobs.runningAfterClose).toBe(0);
    expect(jobs.workerErrors).toEqual([]);
  });

  it('enqueues after the commit when the queue lives on another backend', async () => {
    const data = new MemoryBackend();
    const queues = new MemoryBackend();
    const { jobs } = await runDemo(data, queues);

    expect(jobs.transactionalEnqueue).toBe(false);
    expect(jobs.rolledBack).toEqual({ skipped: "the queue is not in the data's transactions" });
    expect(jobs.before).toEqual({ rewards: { ...empty, waiting: 4 }, mail: { ...empty, waiting: 3 } });
    expect(jobs.paid.map((paid) => paid.goldAfter)).toEqual([50, 205, 100, 95]);
    expect(jobs.after).toEqual({ rewards: { ...empty, completed: 4 }, mail: { ...empty, completed: 2, dead: 1 } });
    expect(await data.queue('game_rewards').stats()).toEqual(empty);
  });

  it('pays a reward delivered twice only once', async () => {
    const backend = new MemoryBackend();
    const game = openGame(backend, backend);
    const tux = await game.characters.insert({ playerId: 'p', name: 'Tux', class: 'warrior', level: 1, gold: 0 });
    await game.rewards.enqueue({ characterId: tux.id, gold: 10, reason: 'level 2' });
    const lease = await game.rewards.dequeue();
    const job = lease?.job as Job<Reward>;

    expect(await payReward(game, job)).toEqual({ goldAfter: 10 });
    expect(await payReward(game, job)).toEqual({ goldAfter: 10 });
    expect((await game.characters.get(tux.id))?.gold).toBe(10);
  });
});

import { describe, expect, it } from 'vitest';
import { main } from './demo.js';

describe('game demo', () => {
  it('runs end to end on the memory backend', async () => {
    const lines: string[] = [];
    const report = await main('memory:', (line) => lines.push(line));

    expect(report.backend).toBe('memory');
    expect(report.players).toBe(3);
    expect(report.characters).toBe(7);
    expect(report.duplicateSignup).toBe('ALREADY_EXISTS');
    expect(report.levelUps).toEqual([
      { name: 'Shade', level: 6, gold: 100 },
      { name: 'Cobol', level: 6, gold: 50 },
      { name: 'Tux', level: 10, gold: 60 },
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
      { reason: 'InsufficientGoldError', goldAfter: 50 },
    ]);
    expect(report.concurrency).toEqual({ conflictCode: 'CONFLICT', attempts: 2, gold: 95 });
    expect(lines[0]).toBe('Berth game demo on the "memory" backend');
  });
});

/**
 * Runs the game demo and prints a report.
 *
 *   pnpm demo                                  # embedded memory backend
 *   BERTH_URL=sqlite:./game.db pnpm demo       # any other backend URL (once its adapter exists)
 */
import { pathToFileURL } from 'node:url';
import { createBackend } from '@berth/core';
import { type DemoReport, runDemo } from './game.js';

/** Renders the report as the lines the demo prints. */
export function formatReport(report: DemoReport): string[] {
  const lines = [
    `Berth game demo on the "${report.backend}" backend`,
    '',
    `players: ${report.players}, characters: ${report.characters}`,
    `second sign-up as "ada": ${report.duplicateSignup}`,
    '',
    'level ups ($inc, atomic):',
    ...report.levelUps.map((up) => `  ${up.name} -> level ${up.level}, ${up.gold} gold`),
    '',
    `leaderboard, level >= 6 (${report.leaderboardPlan.strategy}: ${report.leaderboardPlan.detail}):`,
    ...report.leaderboard.map((page, index) => `  page ${index + 1}: ${page.join(', ')}`),
    '',
    `characters of players in eu (${report.europePlan.strategy}: ${report.europePlan.detail}):`,
    `  ${report.europe.join(', ')}`,
    `characters per class: ${Object.entries(report.classCounts)
      .map(([name, count]) => `${name} ${count}`)
      .join(', ')}`,
    '',
    `transfer of 100 gold Merlin -> Brienne: Merlin ${report.transfer.from}, Brienne ${report.transfer.to}`,
    ...report.refusedTransfers.map(
      (refused) => `refused transfer (${refused.reason}): sender still has ${refused.goldAfter} gold`,
    ),
    '',
    `item sale racing a loot drop: first write rejected with ${report.concurrency.conflictCode}, ` +
      `succeeded on attempt ${report.concurrency.attempts}, Tux has ${report.concurrency.gold} gold (no lost update)`,
  ];
  return lines;
}

/** Connects to `url`, runs the demo, prints the report and closes the backend. */
export async function main(url: string, print: (line: string) => void = console.log): Promise<DemoReport> {
  const backend = await createBackend(url);
  try {
    await backend.connect();
    const report = await runDemo(backend);
    for (const line of formatReport(report)) print(line);
    return report;
  } finally {
    await backend.close();
  }
}

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) {
  await main(process.env.BERTH_URL ?? 'memory:');
}

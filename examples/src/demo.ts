/**
 * Runs the game demo and prints a report.
 *
 *   pnpm demo                                          # embedded default: SQLite in .berth/demo.db
 *   BERTH_URL=memory: pnpm demo                        # any other backend URL
 *   BERTH_URL=file:./game.json BERTH_QUEUE_URL=memory: pnpm demo   # jobs on another backend than the data
 */
import { rmSync } from 'node:fs';
import { pathToFileURL } from 'node:url';
import { createBackend, type JobStats } from '@berth/core';
import { type DemoReport, type JobsReport, runDemo } from './game-demo.js';

/** `{ waiting: 4, active: 0, ... }` → `waiting 4` (states with jobs only). */
function formatStats(stats: JobStats): string {
  const counts = Object.entries(stats).filter(([, count]) => count > 0);
  return counts.length === 0 ? 'empty' : counts.map(([state, count]) => `${state} ${count}`).join(', ');
}

function formatJobs(jobs: JobsReport): string[] {
  const rolledBack = jobs.rolledBack;
  const grace = jobs.mail.grace;
  const linus = jobs.mail.linus;
  return [
    jobs.transactionalEnqueue
      ? `jobs on the same "${jobs.queueBackend}" backend, enqueued in the transactions of the changes that call for them:`
      : `jobs on a separate "${jobs.queueBackend}" backend, enqueued right after the changes commit:`,
    `  welcome mails enqueued with the sign-ups: ${jobs.welcomeMails} (none for the refused duplicate)`,
    `  reward jobs enqueued with the level-ups: ${jobs.rewardJobs}`,
    'skipped' in rolledBack
      ? `  rolled-back level-up: skipped (${rolledBack.skipped})`
      : `  party level-up with a missing member rolled back (${rolledBack.reason}): Brienne still level ` +
        `${rolledBack.brienneLevel}, reward jobs waiting ${rolledBack.rewardsBefore} -> ${rolledBack.rewardsAfter}`,
    `  daily bonus claimed twice with one dedupe key: ${jobs.dailyBonus.sameJob ? 'one job' : 'two jobs'}` +
      `${jobs.dailyBonus.deduplicated ? ' (second enqueue deduplicated)' : ''}`,
    `  before the workers: rewards ${formatStats(jobs.before.rewards)}; mail ${formatStats(jobs.before.mail)}`,
    `  rewards paid (4 at once): ${jobs.paid.map((paid) => `${paid.name} +${paid.gold} -> ${paid.goldAfter}`).join(', ')}`,
    `  mail to grace: refused ${grace?.errors.length === 1 ? 'once' : `${grace?.errors.length} times`} ` +
      `(${grace?.errors[0]?.message}), ` +
      `retried after a backoff, ${grace?.state} on attempt ${grace?.attempts}`,
    `  mail to linus: ${linus?.state} after ${linus?.attempts} attempts:`,
    ...(linus?.errors ?? []).map((error) => `    attempt ${error.attempt}: ${error.message} (${error.code})`),
    `  after the workers: rewards ${formatStats(jobs.after.rewards)}; mail ${formatStats(jobs.after.mail)}`,
    `  workers closed with ${jobs.runningAfterClose} jobs running, ${jobs.workerErrors.length} worker errors`,
    `recurring job (schedule ${jobs.digest.schedule}): one job per tick at +${jobs.digest.tickOffsets.join(' ms, +')} ms, ` +
      `results ${jobs.digest.results.map((result) => JSON.stringify(result)).join(', ')}`,
    `dead mails listed (listJobs state dead): ${jobs.retry.dead.length}`,
    ...jobs.retry.dead.flatMap((job) => [
      `  to ${job.to}, ${job.attempts} attempts:`,
      ...job.errors.map((error) => `    ${error}`),
    ]),
    `  mailbox created, retryJobs put ${jobs.retry.retried} back to waiting; after the workers: ${jobs.retry.after.join(', ')}`,
  ];
}

/** Renders the report as the lines the demo prints. */
export function formatReport(report: DemoReport): string[] {
  return [
    `Berth game demo on the "${report.backend}" backend`,
    '',
    `players: ${report.players}, characters: ${report.characters}`,
    `second sign-up as "ada": ${report.duplicateSignup}`,
    '',
    'level ups ($inc, atomic, with a reward job each):',
    ...report.levelUps.map((up) => `  ${up.name} -> level ${up.level}, reward of ${up.reward} gold queued`),
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
    '',
    ...formatJobs(report.jobs),
  ];
}

/**
 * Connects to `url` (and to `queueUrl` for the jobs, when it is another
 * URL), runs the demo, prints the report and closes the backends.
 */
export async function main(
  url: string,
  print: (line: string) => void = console.log,
  queueUrl: string = url,
): Promise<DemoReport> {
  const backend = await createBackend(url);
  try {
    const queues = queueUrl === url ? backend : await createBackend(queueUrl);
    try {
      const report = await runDemo(backend, queues);
      for (const line of formatReport(report)) print(line);
      return report;
    } finally {
      if (queues !== backend) await queues.close();
    }
  } finally {
    await backend.close();
  }
}

/** The embedded default: a SQLite file, recreated on every run so the demo always starts from nothing. */
export const DEFAULT_DEMO_URL = 'sqlite:./.berth/demo.db';

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const url = process.env.BERTH_URL || DEFAULT_DEMO_URL;
  if (url === DEFAULT_DEMO_URL) {
    for (const suffix of ['', '-wal', '-shm']) rmSync(`./.berth/demo.db${suffix}`, { force: true });
  }
  await main(url, console.log, process.env.BERTH_QUEUE_URL || undefined);
}

import type { Command } from 'commander';
import { openForAdmin } from '../admin/admin-backend.js';
import { listQueues, type QueueCommandOptions, runQueueAction } from '../admin/queue-actions.js';
import { CliError, EXIT } from '../cli-error.js';
import type { CliIo } from '../output.js';

/** Adds `berth queue` to the program. */
export function registerQueue(program: Command, io: CliIo): void {
  program
    .command('queue')
    .description('Administer a job queue: counts, listing, one job, retry, cancel, purge, schedules, a live tail')
    .argument('<url>', 'backend URL, like sqlite:./app.db or redis://localhost:6379')
    .argument('[name]', 'the queue (without it: every queue with its counts)')
    .argument('[action]', 'stats | list | show <id> | retry <id> | cancel <id> | purge | schedules | tail', 'stats')
    .argument('[operands...]', 'the job id of show, retry and cancel')
    .option(
      '--state <state>',
      'list: only jobs in this state (waiting, active, completed, dead, cancelled); purge: only this finished state',
    )
    .option('--limit <n>', 'list: jobs per page, 1 to 1000 (default 50)')
    .option('--cursor <cursor>', 'list: the next page, as printed by the previous one')
    .option('--order <order>', 'list: newest (default) or oldest first')
    .option('--all-dead', 'retry: every dead job, in bounded steps')
    .option('--all-waiting', 'cancel: every waiting job, in bounded steps')
    .option('--older-than <duration>', 'purge: jobs finished longer ago than this: 30m, 12h, 7d, 2w (s, m, h, d, w)')
    .option(
      '--interval <ms>',
      'tail, on an engine whose events stay in their process: how often to look (default 500 ms)',
    )
    .option('--json', 'print JSON (tail: one JSON object per line)')
    .addHelpText(
      'after',
      `
Missing jobs exit 1. tail runs until Ctrl-C (or SIGTERM) and then exits 0. The
backend is opened with migrate=false: run \`berth migrate <url>\` if it says so.

Examples:
  $ berth queue sqlite:./app.db
  $ berth queue sqlite:./app.db mails list --state dead --limit 20
  $ berth queue redis://localhost:6379 mails show 01J9ZK3V6Q4M8Y2T0ABCDEF123
  $ berth queue redis://localhost:6379 mails retry --all-dead
  $ berth queue 'postgres://localhost/app' mails purge --older-than 7d
  $ berth queue sqlite:./app.db mails tail --json`,
    )
    .action(
      async (
        url: string,
        name: string | undefined,
        action: string,
        operands: string[],
        options: QueueCommandOptions,
      ) => {
        const backend = await openForAdmin(url);
        try {
          if (backend.capabilities.queue.level === 'none') {
            throw new CliError(
              `${backend.kind} backends hold no queues`,
              EXIT.usage,
              'queues live in sqlite:, postgres://, redis:// or memory: backends',
            );
          }
          if (name === undefined) {
            const { json, ...others } = options;
            const extra = Object.keys(others).filter((key) => others[key as keyof typeof others] !== undefined);
            if (extra.length > 0) {
              throw new CliError(
                'options other than --json need a queue name and an action',
                EXIT.usage,
                'for example: berth queue sqlite:./app.db mails list --state dead',
              );
            }
            await listQueues(backend, io, json === true);
          } else {
            const events = backend.capabilities.queue.events ?? 'process';
            await runQueueAction(action, { queue: backend.queue(name), events, operands, options, io });
          }
        } finally {
          await backend.close();
        }
      },
    );
}

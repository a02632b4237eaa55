import type { Backend, JobQueue, JobState } from '@berth/core';
import { isBerthError } from '@berth/core';
import { JOB_STATES } from '@berth/core/adapter';
import { CliError, EXIT } from '../cli-error.js';
import { type CliIo, colorsFor, writeJson, writeLine } from '../output.js';
import { parseDuration } from './duration.js';
import { jobJson, jobLines, jobRows, scheduleJson, scheduleRows, statsRows } from './job-view.js';
import { eventJson, eventLine, followEvents, tailQueue } from './queue-tail.js';
import { formatTable } from './table.js';

/** The options `berth queue` accepts; each action allows some of them (see {@link ACTION_OPTIONS}). */
export interface QueueCommandOptions {
  readonly state?: string;
  readonly limit?: string;
  readonly cursor?: string;
  readonly order?: string;
  readonly allDead?: boolean;
  readonly allWaiting?: boolean;
  readonly olderThan?: string;
  readonly interval?: string;
  readonly json?: boolean;
}

type OptionName = keyof QueueCommandOptions;

/** The actions, the options each takes and the operands (a job id) it needs. */
const ACTION_OPTIONS: Readonly<Record<string, readonly OptionName[]>> = {
  stats: ['json'],
  list: ['state', 'limit', 'cursor', 'order', 'json'],
  show: ['json'],
  retry: ['allDead', 'json'],
  cancel: ['allWaiting', 'json'],
  purge: ['olderThan', 'state', 'json'],
  schedules: ['json'],
  tail: ['interval', 'json'],
};

const FLAG: Readonly<Record<OptionName, string>> = {
  state: '--state',
  limit: '--limit',
  cursor: '--cursor',
  order: '--order',
  allDead: '--all-dead',
  allWaiting: '--all-waiting',
  olderThan: '--older-than',
  interval: '--interval',
  json: '--json',
};

interface Run {
  readonly queue: JobQueue;
  /** Whose changes the queue's events report (`capabilities.queue.events`): `tail` follows them when `global`. */
  readonly events: 'process' | 'global';
  readonly operands: readonly string[];
  readonly options: QueueCommandOptions;
  readonly io: CliIo;
}

/** Runs one action on `queue`; checks first that every option given belongs to it. */
export async function runQueueAction(action: string, run: Run): Promise<void> {
  const allowed = ACTION_OPTIONS[action];
  if (allowed === undefined) {
    throw new CliError(
      `unknown queue action ${JSON.stringify(action)}; use one of ${Object.keys(ACTION_OPTIONS).join(', ')}`,
      EXIT.usage,
      'for example: berth queue sqlite:./app.db mails list --state dead',
    );
  }
  for (const [name, value] of Object.entries(run.options) as [OptionName, unknown][]) {
    if (value !== undefined && !allowed.includes(name)) {
      throw new CliError(
        `${FLAG[name]} does not apply to ${action}`,
        EXIT.usage,
        `${action} takes ${allowed.map((option) => FLAG[option]).join(', ')}`,
      );
    }
  }
  await ACTIONS[action as keyof typeof ACTIONS](run);
}

const ACTIONS = {
  stats: async ({ queue, io, options }: Run) => {
    const stats = await queue.stats();
    if (options.json === true) writeJson(io.stdout, stats);
    else printTable(io, statsRows([{ name: queue.name, stats }]));
  },
  list: async ({ queue, io, options }: Run) => {
    const page = await queue.listJobs({
      state: options.state === undefined ? undefined : jobState(options.state),
      limit: options.limit === undefined ? undefined : positiveInteger(options.limit, '--limit'),
      cursor: options.cursor,
      order: options.order === undefined ? undefined : jobOrder(options.order),
    });
    if (options.json === true) {
      writeJson(io.stdout, { jobs: page.jobs.map(jobJson), cursor: page.cursor ?? null });
      return;
    }
    if (page.jobs.length === 0) writeLine(io.stdout, 'no jobs');
    else printTable(io, jobRows(page.jobs));
    if (page.cursor !== undefined) writeLine(io.stdout, `more: add --cursor ${page.cursor}`);
  },
  show: async ({ queue, io, options, operands }: Run) => {
    const id = jobId(operands, 'show');
    const job = await queue.get(id);
    if (job === null) throw missingJob(queue, id);
    if (options.json === true) writeJson(io.stdout, jobJson(job));
    else for (const line of jobLines(job)) writeLine(io.stdout, line);
  },
  retry: async ({ queue, io, options, operands }: Run) => {
    if (options.allDead === true) {
      noOperand(operands, 'retry --all-dead');
      const { changed, skipped } = await untilDone((cursor) => queue.retryJobs({ state: 'dead', cursor }));
      report(
        io,
        options,
        { retried: changed, skipped },
        `retried ${changed} dead jobs${skipped === 0 ? '' : `, skipped ${skipped} (their dedupe key is held by a live job)`}`,
      );
      return;
    }
    const id = jobId(operands, 'retry', '--all-dead');
    if (!(await queue.retry(id))) throw await unchanged(queue, id, 'retried', 'dead or cancelled');
    report(io, options, { retried: 1, skipped: 0 }, `job ${id} is waiting again`);
  },
  cancel: async ({ queue, io, options, operands }: Run) => {
    if (options.allWaiting === true) {
      noOperand(operands, 'cancel --all-waiting');
      const { changed } = await untilDone((cursor) => queue.cancelJobs({ cursor }));
      report(io, options, { cancelled: changed }, `cancelled ${changed} waiting jobs`);
      return;
    }
    const id = jobId(operands, 'cancel', '--all-waiting');
    if (!(await queue.cancel(id))) throw await unchanged(queue, id, 'cancelled', 'waiting or active');
    report(io, options, { cancelled: 1 }, `job ${id} is cancelled`);
  },
  purge: async ({ queue, io, options, operands }: Run) => {
    noOperand(operands, 'purge');
    if (options.olderThan === undefined) {
      throw new CliError(
        'purge needs --older-than',
        EXIT.usage,
        'for example: berth queue sqlite:./app.db mails purge --older-than 7d',
      );
    }
    const finishedBefore = new Date(Date.now() - parseDuration(options.olderThan, '--older-than'));
    const states = options.state === undefined ? undefined : [finishedState(options.state)];
    const purged = await queue.purge({ finishedBefore, states });
    report(
      io,
      options,
      { purged, finishedBefore: finishedBefore.toISOString() },
      `purged ${purged} jobs finished before ${finishedBefore.toISOString()}`,
    );
  },
  schedules: async ({ queue, io, options }: Run) => {
    const schedules = await queue.listSchedules();
    if (options.json === true) writeJson(io.stdout, schedules.map(scheduleJson));
    else if (schedules.length === 0) writeLine(io.stdout, 'no schedules');
    else printTable(io, scheduleRows(schedules));
  },
  tail: async ({ queue, io, options, events }: Run) => {
    const intervalMs = options.interval === undefined ? 500 : positiveInteger(options.interval, '--interval');
    await tail(queue, events === 'global' ? undefined : intervalMs, options.json === true, io);
  },
};

/** `berth queue <url>` without a name: every queue with its counts. */
export async function listQueues(backend: Backend, io: CliIo, json: boolean): Promise<void> {
  const queues = await Promise.all(
    (await backend.queues()).map(async (name) => ({ name, stats: await backend.queue(name).stats() })),
  );
  if (json) writeJson(io.stdout, queues);
  else if (queues.length === 0) writeLine(io.stdout, 'no queues');
  else printTable(io, statsRows(queues));
}

/**
 * `berth queue … tail`: from the queue's events when they are global
 * (`intervalMs` undefined), otherwise by polling every `intervalMs`. Runs
 * until SIGINT or SIGTERM.
 */
async function tail(queue: JobQueue, intervalMs: number | undefined, json: boolean, io: CliIo): Promise<void> {
  const controller = new AbortController();
  const stop = () => controller.abort();
  // The CLI is the application here: it owns the process's signals while tail runs.
  process.once('SIGINT', stop);
  process.once('SIGTERM', stop);
  const colors = colorsFor(io.stdout, io.env);
  try {
    if (intervalMs === undefined) {
      const ready = () => writeLine(io.stderr, `following queue ${queue.name} from its events; Ctrl-C stops`);
      for await (const event of followEvents(queue, controller.signal, ready)) {
        if (event.type === 'gap') {
          writeLine(io.stderr, `missed ${event.dropped} events: the terminal did not keep up`);
        } else if (json) writeJson(io.stdout, eventJson(event), false);
        else writeLine(io.stdout, eventLine(event, colors.bold, colors.dim));
      }
      return;
    }
    const ready = () =>
      writeLine(
        io.stderr,
        `following queue ${queue.name} every ${intervalMs} ms (this engine reports events to their own process only); Ctrl-C stops`,
      );
    for await (const move of tailQueue(queue, intervalMs, controller.signal, ready)) {
      if (json) {
        const { at, from, to, ...rest } = move;
        writeJson(io.stdout, { at: at.toISOString(), ...rest, type: 'moved', from, state: to }, false);
      } else {
        const from = move.from ?? 'new';
        writeLine(
          io.stdout,
          `${colors.dim(move.at.toISOString())}  ${move.jobId}  ${from} → ${colors.bold(move.to)}  (attempts ${move.attempts})`,
        );
      }
    }
  } catch (error) {
    // Interrupting tail is how it ends: exit 0.
    if (!(controller.signal.aborted && isBerthError(error, 'ABORTED'))) throw error;
  } finally {
    process.removeListener('SIGINT', stop);
    process.removeListener('SIGTERM', stop);
  }
}

async function untilDone(
  step: (cursor: string | undefined) => Promise<{ changed: number; skipped: number; cursor: string | undefined }>,
) {
  let changed = 0;
  let skipped = 0;
  let cursor: string | undefined;
  do {
    const result = await step(cursor);
    changed += result.changed;
    skipped += result.skipped;
    cursor = result.cursor;
  } while (cursor !== undefined);
  return { changed, skipped };
}

function report(io: CliIo, options: QueueCommandOptions, json: Record<string, unknown>, text: string): void {
  if (options.json === true) writeJson(io.stdout, json);
  else writeLine(io.stdout, text);
}

function printTable(io: CliIo, rows: readonly (readonly string[])[]): void {
  for (const line of formatTable(rows, colorsFor(io.stdout, io.env).bold)) writeLine(io.stdout, line);
}

function missingJob(queue: JobQueue, id: string): CliError {
  return new CliError(
    `queue ${queue.name} has no job ${JSON.stringify(id)}`,
    EXIT.failed,
    `list its jobs with: berth queue <url> ${queue.name} list`,
  );
}

async function unchanged(queue: JobQueue, id: string, verb: string, states: string): Promise<CliError> {
  const job = await queue.get(id);
  if (job === null) return missingJob(queue, id);
  return new CliError(`job ${id} is ${job.state}: only ${states} jobs can be ${verb}`, EXIT.failed);
}

function jobId(operands: readonly string[], action: string, bulk?: string): string {
  const [id, ...extra] = operands;
  if (id === undefined || extra.length > 0) {
    throw new CliError(
      `${action} needs one job id${bulk === undefined ? '' : ` (or ${bulk})`}`,
      EXIT.usage,
      `for example: berth queue sqlite:./app.db mails ${action} 01J9ZK3V…`,
    );
  }
  return id;
}

function noOperand(operands: readonly string[], action: string): void {
  if (operands.length > 0) throw new CliError(`${action} takes no job id, got ${operands.join(' ')}`, EXIT.usage);
}

function jobState(text: string): JobState {
  if (!(JOB_STATES as readonly string[]).includes(text)) {
    throw new CliError(`--state must be one of ${JOB_STATES.join(', ')}, got ${JSON.stringify(text)}`, EXIT.usage);
  }
  return text as JobState;
}

function finishedState(text: string): JobState {
  const state = jobState(text);
  if (state === 'waiting' || state === 'active') {
    throw new CliError(
      `purge removes finished jobs: --state must be completed, dead or cancelled, got ${state}`,
      EXIT.usage,
    );
  }
  return state;
}

function jobOrder(text: string): 'newest' | 'oldest' {
  if (text !== 'newest' && text !== 'oldest')
    throw new CliError(`--order must be newest or oldest, got ${JSON.stringify(text)}`, EXIT.usage);
  return text;
}

function positiveInteger(text: string, option: string): number {
  const value = Number(text);
  if (!/^\d+$/.test(text) || !Number.isSafeInteger(value) || value < 1) {
    throw new CliError(`${option} must be a positive whole number, got ${JSON.stringify(text)}`, EXIT.usage);
  }
  return value;
}

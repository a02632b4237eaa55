import {
  JOB_STATE_AFTER_EVENT,
  type Job,
  type JobEvent,
  type JobQueue,
  type JobState,
  type QueueEvent,
} from '@berth/core';
import { JOB_STATES, toJsonValue } from '@berth/core/adapter';

/** One state change `berth queue … tail` saw by polling. `from` is `null` for a job it had not seen before (a new job). */
export interface JobMove {
  readonly at: Date;
  readonly queue: string;
  readonly jobId: string;
  readonly from: JobState | null;
  readonly to: JobState;
  readonly attempts: number;
}

/** Longest error message or progress value a text line shows. */
const DETAIL_CHARS = 200;

/** A string for a terminal: quoted, control characters escaped (no escape sequence reaches the screen), cut short. */
function quoted(text: string): string {
  const cut = text.length > DETAIL_CHARS ? `${text.slice(0, DETAIL_CHARS)}…` : text;
  return JSON.stringify(cut);
}

/** What a text line adds after the state: the attempt, the error, the retry time, the progress value. */
function eventDetail(event: JobEvent): string {
  const attempt = 'attempt' in event ? ` (attempt ${event.attempt})` : '';
  switch (event.type) {
    case 'enqueued':
      return event.runAt.getTime() > event.at.getTime() + 1_000 ? ` (due ${event.runAt.toISOString()})` : '';
    case 'failed':
      return `${attempt} ${quoted(event.error.message)}, retry at ${event.retryAt.toISOString()}`;
    case 'dead':
      return `${attempt} ${quoted(event.error.message)}`;
    case 'progress': {
      const value = JSON.stringify(toJsonValue(event.progress));
      return `${attempt} ${value.length > DETAIL_CHARS ? `${value.slice(0, DETAIL_CHARS)}…` : value}`;
    }
    default:
      return attempt;
  }
}

/** An event as one text line: time, job id, event → state, details. */
export function eventLine(event: JobEvent, bold: (text: string) => string, dim: (text: string) => string): string {
  return `${dim(event.at.toISOString())}  ${event.jobId}  ${event.type} → ${bold(JOB_STATE_AFTER_EVENT[event.type])}${eventDetail(event)}`;
}

/**
 * An event for `--json`: the event's fields, `state` (the job's state after
 * it), times as ISO strings, the progress value in Berth's document JSON.
 */
export function eventJson(event: JobEvent): Record<string, unknown> {
  const json: Record<string, unknown> = {
    at: event.at.toISOString(),
    queue: event.queue,
    jobId: event.jobId,
    type: event.type,
    state: JOB_STATE_AFTER_EVENT[event.type],
  };
  if ('attempt' in event) json.attempt = event.attempt;
  if (event.type === 'enqueued') json.runAt = event.runAt.toISOString();
  if (event.type === 'failed') json.retryAt = event.retryAt.toISOString();
  if (event.type === 'failed' || event.type === 'dead') {
    const { attempt, name, message, at } = event.error;
    json.error = { attempt, name: name ?? null, message, at: at.toISOString() };
  }
  if (event.type === 'progress') json.progress = toJsonValue(event.progress);
  return json;
}

/**
 * Follows a queue from its events, for an adapter whose events are global
 * (`capabilities.queue.events`): every change any process makes, as it is
 * committed. A `gap` says the tail fell behind its buffer. Ends when
 * `signal` aborts.
 */
export async function* followEvents(
  queue: JobQueue,
  signal: AbortSignal,
  ready: () => void,
): AsyncGenerator<QueueEvent> {
  const events = queue.events({ signal });
  // Subscribed now: whatever happens from here on is seen.
  ready();
  yield* events;
}

/** Jobs looked at per state and poll: the newest this many of each state. */
const TAIL_WINDOW = 200;

/**
 * Follows a queue's jobs through their states by polling `listJobs`, for an
 * adapter whose `queue.events()` reports only the changes made through its
 * own backend (`capabilities.queue.events` is `process`): `berth` runs in a
 * process of its own. Each poll reads the newest {@link TAIL_WINDOW} jobs of every
 * state and reports those whose state differs from the previous poll; a job
 * that moves through several states between two polls is one line (first
 * seen → now). Ends when `signal` aborts.
 */
export async function* tailQueue(
  queue: JobQueue,
  intervalMs: number,
  signal: AbortSignal,
  ready: () => void,
): AsyncGenerator<JobMove> {
  let known = await snapshot(queue, signal);
  ready();
  while (!signal.aborted) {
    await sleep(intervalMs, signal);
    if (signal.aborted) return;
    const current = await snapshot(queue, signal);
    const moves: JobMove[] = [];
    for (const job of current.values()) {
      const before = known.get(job.id);
      if (before?.state === job.state) continue;
      moves.push({
        at: job.updatedAt,
        queue: queue.name,
        jobId: job.id,
        from: before?.state ?? null,
        to: job.state,
        attempts: job.attempts,
      });
    }
    moves.sort((a, b) => a.at.getTime() - b.at.getTime() || (a.jobId < b.jobId ? -1 : a.jobId > b.jobId ? 1 : 0));
    yield* moves;
    known = current;
  }
}

async function snapshot(queue: JobQueue, signal: AbortSignal): Promise<Map<string, Job<unknown>>> {
  const jobs = new Map<string, Job<unknown>>();
  for (const state of JOB_STATES) {
    const page = await queue.listJobs({ state, limit: TAIL_WINDOW, order: 'newest', signal });
    for (const job of page.jobs) jobs.set(job.id, job);
  }
  return jobs;
}

function sleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    const timer = setTimeout(done, ms);
    function done(): void {
      clearTimeout(timer);
      signal.removeEventListener('abort', done);
      resolve();
    }
    signal.addEventListener('abort', done, { once: true });
  });
}

import type { Job, JobQueue, JobState, JobStats, QueueBackend, ScheduleRecord } from '@berth/core';
import { JOB_STATES } from '@berth/core/adapter';
import { type Html, html } from '../html.js';
import { actionForm, countTable, href, jsonBlock, type PageContext, page, table, when } from './layout.js';

/** Jobs per page of a queue's listing. */
const JOBS_PER_PAGE = 50;

/** The states a job ends in: the ones a purge removes. */
export const FINISHED_STATES: readonly JobState[] = ['completed', 'dead', 'cancelled'];

/** How long ago finished jobs may be purged from the dashboard: fixed choices, nothing typed. */
export const PURGE_AGES: Readonly<Record<string, { readonly ms: number; readonly label: string }>> = {
  '1h': { ms: 3_600_000, label: 'an hour' },
  '1d': { ms: 86_400_000, label: 'a day' },
  '7d': { ms: 7 * 86_400_000, label: '7 days' },
  '30d': { ms: 30 * 86_400_000, label: '30 days' },
};

/** Finished jobs read to measure throughput: past this many in the window, the rate says "at least". */
const RATE_SAMPLE = 1_000;

/** The windows the throughput and failure rate are measured over, in minutes. */
const RATE_WINDOWS = [1, 5, 15] as const;

/** The longest window, in minutes. */
const LONGEST_WINDOW = 15;

/** Jobs finished per window, counted from the newest finished jobs of `state`. */
async function finishedPerWindow(queue: JobQueue, state: 'completed' | 'dead', now: number) {
  const since = now - LONGEST_WINDOW * 60_000;
  const counts = RATE_WINDOWS.map(() => 0);
  let capped = false;
  let cursor: string | undefined;
  let read = 0;
  do {
    const page = await queue.listJobs({ state, order: 'newest', limit: 500, cursor });
    for (const job of page.jobs) {
      const finished = (job.finishedAt ?? job.updatedAt).getTime();
      if (finished < since) return { counts, capped };
      RATE_WINDOWS.forEach((minutes, index) => {
        if (finished >= now - minutes * 60_000) counts[index] = (counts[index] ?? 0) + 1;
      });
    }
    read += page.jobs.length;
    cursor = page.cursor;
    if (read >= RATE_SAMPLE && cursor !== undefined) capped = true;
  } while (cursor !== undefined && !capped);
  return { counts, capped };
}

/** Throughput (completed per minute) and failure rate (dead among finished) over the last 1, 5 and 15 minutes. */
async function rates(queue: JobQueue): Promise<Html> {
  const now = Date.now();
  const [completed, dead] = await Promise.all([
    finishedPerWindow(queue, 'completed', now),
    finishedPerWindow(queue, 'dead', now),
  ]);
  const more = completed.capped || dead.capped ? '≥ ' : '';
  const cells = RATE_WINDOWS.map((minutes, index) => {
    const done = completed.counts[index] ?? 0;
    const failed = dead.counts[index] ?? 0;
    const rate = done + failed === 0 ? '-' : `${((failed / (done + failed)) * 100).toFixed(1)} %`;
    return html`<td>${more}${(done / minutes).toFixed(1)}/min · ${rate}</td>`;
  });
  return html`<tr class="rates"><th scope="row">completed/min · failed</th>${cells}</tr>`;
}

function countCells(context: PageContext, name: string, stats: JobStats): Html {
  return html`${JOB_STATES.map(
    (state) =>
      html`<td class="count" data-queue="${name}" data-state="${state}"><a href="${href(context, ['queues', name], { state })}">${stats[state]}</a></td>`,
  )}`;
}

/** The queues page: counts per state, throughput and failure rate, schedules with their next run. */
export async function queuesPage(context: PageContext, backend: QueueBackend, notice?: string): Promise<string> {
  const names = await backend.queues();
  const queues = await Promise.all(
    names.map(async (name) => {
      const queue = backend.queue(name);
      const [stats, schedules] = await Promise.all([queue.stats(), queue.listSchedules()]);
      return { name, stats, schedules };
    }),
  );
  const rows = queues.map(
    ({ name, stats }) =>
      html`<tr><th scope="row"><a href="${href(context, ['queues', name])}">${name}</a></th>${countCells(context, name, stats)}</tr>`,
  );
  const schedules = queues.flatMap(({ name, schedules: records }) =>
    records.map((schedule) => scheduleRow(context, name, schedule)),
  );
  const content = html`<section class="live" data-live-queues="${names.join('\n')}">
${countTable(['Queue', ...JOB_STATES], rows, 'No queues yet: a queue appears once it holds a job or a schedule.')}
</section>
<h2>Schedules</h2>
${table(['Queue', 'Schedule', 'Spec', 'Next run', 'Last run', 'Paused'], schedules, 'No schedules.')}`;
  return page(context, { heading: 'Queues', section: 'queues', notice }, content);
}

function scheduleRow(context: PageContext, queue: string, schedule: ScheduleRecord<unknown>): Html {
  const spec =
    'cron' in schedule.spec
      ? `cron ${schedule.spec.cron}${schedule.spec.timezone === undefined ? '' : ` (${schedule.spec.timezone})`}`
      : `every ${schedule.spec.everyMs} ms`;
  return html`<tr><td><a href="${href(context, ['queues', queue])}">${queue}</a></td><td>${schedule.name}</td><td>${spec}</td><td>${schedule.paused ? '-' : when(schedule.nextRunAt)}</td><td>${when(schedule.lastRunAt)}</td><td>${schedule.paused ? 'paused' : 'no'}</td></tr>`;
}

/** The last error's message, or `-`. */
function lastError(job: Job<unknown>): string {
  return job.errors.at(-1)?.message ?? '-';
}

/** One queue: counts, rates, jobs of one state with paging, bulk retry of dead jobs. */
export async function queuePage(
  context: PageContext,
  queue: JobQueue,
  state: JobState,
  cursor: string | undefined,
  notice?: string,
): Promise<string> {
  const [stats, listing, rateRow] = await Promise.all([
    queue.stats(),
    queue.listJobs({ state, order: 'newest', limit: JOBS_PER_PAGE, cursor }),
    rates(queue),
  ]);
  const tabs = JOB_STATES.map(
    (each) =>
      html`<a href="${href(context, ['queues', queue.name], { state: each })}"${each === state ? html` aria-current="page"` : ''}>${each} <span class="count" data-queue="${queue.name}" data-state="${each}">${stats[each]}</span></a>`,
  );
  const rows = listing.jobs.map((job) => {
    const jobHref = href(context, ['queues', queue.name, 'jobs', job.id]);
    return html`<tr data-job="${job.id}"><td><a href="${jobHref}">${job.id}</a></td><td class="state">${job.state}</td><td>${job.attempts}/${job.maxAttempts}</td><td>${when(job.updatedAt)}</td><td class="error">${lastError(job)}</td><td>${jobActions(context, queue.name, job)}</td></tr>`;
  });
  const bulk =
    state === 'dead' && stats.dead > 0 && context.mayWrite
      ? html`<p><a class="button" href="${href(context, ['queues', queue.name, 'retry-dead'])}">Retry all ${stats.dead} dead jobs…</a></p>`
      : '';
  const finished = FINISHED_STATES.includes(state);
  const purge =
    finished && stats[state] > 0 && context.mayWrite
      ? html`<p>Purge ${state} jobs finished more than ${Object.entries(PURGE_AGES).map(
          ([older, { label }], index) =>
            html`${index === 0 ? '' : ' · '}<a href="${href(context, ['queues', queue.name, 'purge'], { state, older })}">${label}</a>`,
        )} ago…</p>`
      : '';
  const next =
    listing.cursor === undefined
      ? ''
      : html`<p><a rel="next" href="${href(context, ['queues', queue.name], { state, cursor: listing.cursor })}">Next page</a></p>`;
  const content = html`<section class="live" data-live-queues="${queue.name}" data-state="${state}">
<nav class="tabs">${tabs}</nav>
<div class="scroll"><table class="rates-table"><thead><tr><th></th>${RATE_WINDOWS.map((minutes) => html`<th>last ${minutes} min</th>`)}</tr></thead><tbody>${rateRow}</tbody></table></div>
${bulk}
${purge}
<div class="jobs">${table(['Job', 'State', 'Attempts', 'Updated', 'Last error', ''], rows, `No ${state} jobs.`)}</div>
${next}
</section>`;
  return page(context, { heading: `Queue ${queue.name}`, section: 'queues', notice }, content);
}

/** Links to the confirmation of what can be done to the job in its state. */
function jobActions(context: PageContext, queue: string, job: Job<unknown>): Html {
  if (!context.mayWrite) return html``;
  const links: Html[] = [];
  if (job.state === 'dead' || job.state === 'cancelled') {
    links.push(html`<a class="button" href="${href(context, ['queues', queue, 'jobs', job.id, 'retry'])}">Retry…</a>`);
  }
  if (job.state === 'waiting' || job.state === 'active') {
    links.push(
      html`<a class="button" href="${href(context, ['queues', queue, 'jobs', job.id, 'cancel'])}">Cancel…</a>`,
    );
  }
  return html`${links}`;
}

/** One job: every field, payload, attempts and errors, progress and result, and its actions. */
export function jobPage(context: PageContext, job: Job<unknown>, notice?: string): string {
  const fields: [string, Html | string][] = [
    ['State', html`<span class="state">${job.state}</span>`],
    ['Attempts', `${job.attempts} of ${job.maxAttempts}`],
    ['Priority', String(job.priority)],
    ['Run at', when(job.runAt)],
    ['Dedupe key', job.dedupeKey ?? '-'],
    ['Lease', `${job.leaseMs} ms`],
    ['Lease expires', when(job.leaseExpiresAt)],
    ['Created', when(job.createdAt)],
    ['Updated', when(job.updatedAt)],
    ['Finished', when(job.finishedAt)],
  ];
  const errors = job.errors.map(
    (error) =>
      html`<tr><td>${error.attempt}</td><td>${when(error.at)}</td><td>${error.name ?? '-'}</td><td class="error">${error.message}</td></tr>`,
  );
  const content = html`<section class="live" data-live-queues="${job.queue}" data-job="${job.id}">
<p><a href="${href(context, ['queues', job.queue], { state: job.state })}">← ${job.queue}</a></p>
<dl>${fields.map(([label, value]) => html`<dt>${label}</dt><dd>${value}</dd>`)}</dl>
<p>${jobActions(context, job.queue, job)}</p>
<h2>Payload</h2>
${jsonBlock(job.payload)}
<h2>Progress</h2>
${jsonBlock(job.progress)}
<h2>Result</h2>
${jsonBlock(job.result)}
<h2>Errors</h2>
${table(['Attempt', 'At', 'Name', 'Message'], errors, 'No errors.')}
</section>`;
  return page(context, { heading: `Job ${job.id}`, section: 'queues', notice }, content);
}

/** The confirmation step before an action: what will happen, and the button that does it. */
export function confirmPage(
  context: PageContext,
  options: { readonly heading: string; readonly question: string; readonly action: string; readonly back: string },
): string {
  const content = html`<p>${options.question}</p>
${actionForm(context, options.action, options.heading)}
<p><a href="${options.back}">Back</a></p>`;
  return page(context, { heading: options.heading, section: 'queues' }, content);
}

import type { Backend, JobQueue } from '@berth/core';
import { generateId } from '@berth/core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { hasAnsi, runBerth, startBerth } from '../fixtures/admin-cli.js';
import { type AdminPlace, adminPlace, type EngineName, openTestBackend } from '../fixtures/admin-engines.js';

// Values a careless formatter would mangle: the smallest and largest
// doubles, -0, accents, astral and control characters, a Date. (NUL is
// refused by the engines' validation before it reaches the CLI.)
const PAYLOAD = {
  to: 'Zoë 𝄞 \u0007bell',
  tiny: 5e-324,
  huge: 1e308,
  negativeZero: -0,
  at: new Date(0),
  nested: { deep: [1, [2, [3]]] },
};

async function deadJob(queue: JobQueue, message: string): Promise<string> {
  const { id } = await queue.enqueue({ kind: 'doomed', message }, { maxAttempts: 1 });
  const lease = await queue.dequeue();
  if (lease === null || lease.job.id !== id) throw new Error('the doomed job was not the next one');
  await queue.fail(lease, new Error(message));
  return id;
}

async function completedJob(queue: JobQueue): Promise<string> {
  const { id } = await queue.enqueue({ kind: 'done' });
  const lease = await queue.dequeue();
  if (lease === null || lease.job.id !== id) throw new Error('the job was not the next one');
  await queue.complete(lease, { sent: true, at: new Date(1) });
  return id;
}

describe.each<EngineName>(['sqlite', 'postgres', 'redis'])('berth queue on %s', { timeout: 60_000 }, (engine) => {
  let place: AdminPlace;
  let backend: Backend;
  let mails: JobQueue;
  const berth = (...args: string[]) => runBerth(args, place.cwd);

  beforeAll(async () => {
    place = await adminPlace(engine);
    backend = await openTestBackend(place.url);
    mails = backend.queue('mails');
  });
  afterAll(async () => {
    await backend?.close();
    await place?.cleanup();
  });

  it('lists the queues with their counts, as text and as JSON', async () => {
    await backend.queue('thumbnails').enqueue({ image: 'a.png' });
    await mails.enqueue(PAYLOAD);
    const text = await berth('queue', place.url);
    expect(text.stderr).toBe('');
    expect(text.code).toBe(0);
    expect(text.stdout.split('\n')[0]).toMatch(/^QUEUE\s+WAITING\s+ACTIVE\s+COMPLETED\s+DEAD\s+CANCELLED$/);
    expect(text.stdout).toMatch(/^thumbnails\s+1\s+0\s+0\s+0\s+0$/m);
    expect(hasAnsi(text.stdout)).toBe(false);
    const json = await berth('queue', place.url, '--json');
    const queues = JSON.parse(json.stdout) as { name: string; stats: Record<string, number> }[];
    expect(queues.map(({ name }) => name)).toEqual(['mails', 'thumbnails']);
    expect(queues[1]?.stats).toEqual({ waiting: 1, active: 0, completed: 0, dead: 0, cancelled: 0 });
  });

  it('prints one queue’s stats, and they are the queue’s own', async () => {
    const run = await berth('queue', place.url, 'mails', 'stats', '--json');
    expect(run.code).toBe(0);
    expect(JSON.parse(run.stdout)).toEqual(await mails.stats());
  });

  it('lists dead jobs, pages through them with the printed cursor, and shows one with its errors', async () => {
    const deaths = backend.queue('deaths');
    const first = await deadJob(deaths, 'SMTP said NO 𝄞');
    const second = await deadJob(deaths, 'smtp said no');
    const page = await berth(
      'queue',
      place.url,
      'deaths',
      'list',
      '--state',
      'dead',
      '--limit',
      '1',
      '--order',
      'oldest',
    );
    expect(page.code).toBe(0);
    expect(page.stdout).toContain(first);
    expect(page.stdout).not.toContain(second);
    expect(page.stdout).toContain('SMTP said NO 𝄞');
    const cursor = /more: add --cursor (\S+)/.exec(page.stdout)?.[1];
    expect(cursor).toBeDefined();
    const next = await berth(
      'queue',
      place.url,
      'deaths',
      'list',
      '--state',
      'dead',
      '--limit',
      '1',
      '--order',
      'oldest',
      '--cursor',
      cursor ?? '',
      '--json',
    );
    const listed = JSON.parse(next.stdout) as { jobs: { id: string; state: string }[]; cursor: string | null };
    expect(listed.jobs.map(({ id }) => id)).toEqual([second]);
    expect(listed.jobs[0]?.state).toBe('dead');

    const shown = await berth('queue', place.url, 'deaths', 'show', first);
    expect(shown.code).toBe(0);
    expect(shown.stdout).toMatch(/^state\s+dead$/m);
    expect(shown.stdout).toMatch(/^ {2}attempt 1 at \d{4}-\d\d-\d\dT[\d:.]+Z {2}Error: SMTP said NO 𝄞$/m);
    expect(hasAnsi(shown.stdout)).toBe(false);
  });

  it('shows payloads exactly: Dates as {"$date"}, extreme doubles, control and astral characters', async () => {
    const { id } = await mails.enqueue(PAYLOAD, { priority: 7, dedupeKey: 'Zoë' });
    const run = await berth('queue', place.url, 'mails', 'show', id, '--json');
    expect(run.code).toBe(0);
    const job = JSON.parse(run.stdout) as Record<string, unknown>;
    expect(job).toMatchObject({
      id,
      state: 'waiting',
      priority: 7,
      dedupeKey: 'Zoë',
      result: null,
      finishedAt: null,
      errors: [],
    });
    expect(job.payload).toEqual({ ...PAYLOAD, negativeZero: 0, at: { $date: '1970-01-01T00:00:00.000Z' } });
    const done = await completedJob(backend.queue('results'));
    const completed = JSON.parse((await berth('queue', place.url, 'results', 'show', done, '--json')).stdout) as Record<
      string,
      unknown
    >;
    expect(completed.result).toEqual({ sent: true, at: { $date: '1970-01-01T00:00:00.001Z' } });
    expect(typeof completed.finishedAt).toBe('string');
  });

  it('exits 1 with a clear message for a job the queue does not hold', async () => {
    const run = await berth('queue', place.url, 'mails', 'show', 'no-such-job');
    expect(run.code).toBe(1);
    expect(run.stderr).toContain('queue mails has no job "no-such-job"');
    expect(run.stdout).toBe('');
    const retry = await berth('queue', place.url, 'mails', 'retry', 'no-such-job');
    expect(retry.code).toBe(1);
    expect(retry.stderr).toContain('has no job');
  });

  it('retries one dead job, refuses a job that is not finished, and retries all the dead ones', async () => {
    const retries = backend.queue('retries');
    const one = await deadJob(retries, 'first');
    const run = await berth('queue', place.url, 'retries', 'retry', one);
    expect(run.code).toBe(0);
    expect(run.stdout).toBe(`job ${one} is waiting again\n`);
    expect((await retries.get(one))?.state).toBe('waiting');
    const again = await berth('queue', place.url, 'retries', 'retry', one);
    expect(again.code).toBe(1);
    expect(again.stderr).toContain(`job ${one} is waiting: only dead or cancelled jobs can be retried`);

    await retries.cancelJobs();
    for (const message of ['a', 'b', 'c']) await deadJob(retries, message);
    const all = await berth('queue', place.url, 'retries', 'retry', '--all-dead', '--json');
    expect(all.code).toBe(0);
    expect(JSON.parse(all.stdout)).toEqual({ retried: 3, skipped: 0 });
    expect(await retries.stats()).toMatchObject({ dead: 0, waiting: 3 });
  });

  it('cancels one job, then every waiting job', async () => {
    const cancels = backend.queue('cancels');
    const { id } = await cancels.enqueue({ n: 1 });
    const run = await berth('queue', place.url, 'cancels', 'cancel', id);
    expect(run.code).toBe(0);
    expect((await cancels.get(id))?.state).toBe('cancelled');
    const twice = await berth('queue', place.url, 'cancels', 'cancel', id);
    expect(twice.code).toBe(1);
    expect(twice.stderr).toContain('is cancelled: only waiting or active jobs can be cancelled');
    await cancels.enqueueMany([{ payload: { n: 2 } }, { payload: { n: 3 } }]);
    const all = await berth('queue', place.url, 'cancels', 'cancel', '--all-waiting');
    expect(all.stdout).toBe('cancelled 2 waiting jobs\n');
    expect(await cancels.stats()).toMatchObject({ waiting: 0, cancelled: 3 });
  });

  it('purges finished jobs older than the given duration and keeps the recent ones', async () => {
    const purges = backend.queue('purges');
    const day = 86_400_000;
    const now = Date.now();
    // A job that finished eight days ago, restored as it was (importJobs keeps its times).
    const old = {
      id: generateId(),
      queue: 'purges',
      payload: { kind: 'old' },
      state: 'completed' as const,
      priority: 0,
      attempts: 1,
      maxAttempts: 3,
      runAt: new Date(now - 9 * day),
      dedupeKey: undefined,
      leaseMs: 30_000,
      errors: [],
      result: { sent: true },
      progress: undefined,
      timeoutMs: undefined,
      createdAt: new Date(now - 9 * day),
      updatedAt: new Date(now - 8 * day),
      finishedAt: new Date(now - 8 * day),
      leaseExpiresAt: undefined,
    };
    expect(await purges.importJobs([old])).toEqual({ imported: 1, skipped: 0 });
    const recent = await completedJob(purges);
    const run = await berth('queue', place.url, 'purges', 'purge', '--older-than', '7d');
    expect(run.code).toBe(0);
    expect(run.stdout).toMatch(/^purged 1 jobs finished before \d{4}-/);
    expect(await purges.get(old.id)).toBeNull();
    expect((await purges.get(recent))?.state).toBe('completed');
  });

  it('refuses a malformed duration or an option of another action with exit 2 and an example', async () => {
    for (const duration of ['7x', '0d']) {
      const run = await berth('queue', place.url, 'mails', 'purge', '--older-than', duration);
      expect(run.code, duration).toBe(2);
      expect(run.stderr).toContain('--older-than must be a positive whole number followed by s, m, h, d or w');
      expect(run.stderr).toContain('for example --older-than 7d');
    }
    const misplaced = await berth('queue', place.url, 'mails', 'list', '--older-than', '7d');
    expect(misplaced.code).toBe(2);
    expect(misplaced.stderr).toContain('--older-than does not apply to list');
    const unknown = await berth('queue', place.url, 'mails', 'explode');
    expect(unknown.code).toBe(2);
    expect(unknown.stderr).toContain('unknown queue action "explode"');
    const badState = await berth('queue', place.url, 'mails', 'list', '--state', 'Dead');
    expect(badState.code).toBe(2);
  });

  it('lists schedules with their expression and next run', async () => {
    const nextRunAt = new Date('2030-01-01T03:00:00.000Z');
    await backend.queue('reports').putSchedule({
      name: 'nightly',
      spec: { cron: '0 3 * * *', timezone: 'Europe/Paris' },
      payload: { report: 'sales' },
      jobOptions: {},
      missed: 'skip',
      overlap: 'allow',
      paused: false,
      nextRunAt,
    });
    const run = await berth('queue', place.url, 'reports', 'schedules');
    expect(run.code).toBe(0);
    expect(run.stdout).toMatch(/^nightly\s+cron 0 3 \* \* \* \(Europe\/Paris\)\s+2030-01-01T03:00:00.000Z\s+-\s+no$/m);
    const json = JSON.parse((await berth('queue', place.url, 'reports', 'schedules', '--json')).stdout) as {
      name: string;
      nextRunAt: string;
    }[];
    expect(json).toMatchObject([{ name: 'nightly', nextRunAt: nextRunAt.toISOString() }]);
  });

  /** Starts `berth queue … tail`, collecting its output; `until` waits for it to print something. */
  function startTail(queue: string, ...args: string[]) {
    const child = startBerth(['queue', place.url, queue, 'tail', ...args], place.cwd);
    const out = { stdout: '', stderr: '' };
    child.stdout.on('data', (chunk: Buffer) => {
      out.stdout += chunk.toString('utf8');
    });
    child.stderr.on('data', (chunk: Buffer) => {
      out.stderr += chunk.toString('utf8');
    });
    const exited = new Promise<number | null>((resolve) => child.on('close', resolve));
    const until = async (check: () => boolean, what: string) => {
      const deadline = Date.now() + 20_000;
      while (!check()) {
        if (Date.now() > deadline) {
          throw new Error(`tail never printed ${what}; stdout: ${out.stdout}; stderr: ${out.stderr}`);
        }
        await new Promise((resolve) => setTimeout(resolve, 50));
      }
    };
    return { child, out, exited, until };
  }

  it("follows the queue's events made by another process, one JSON line each, and exits 0 on SIGINT", async () => {
    const live = backend.queue('live');
    const tail = startTail('live', '--json');
    await tail.until(() => tail.out.stderr.includes('following queue live from its events'), 'that it started');
    const { id } = await live.enqueue({ n: 1 });
    const lease = await live.dequeue();
    if (lease?.job.id !== id) throw new Error('the job was not the next one');
    await live.progress(lease, PAYLOAD);
    await live.complete(lease);
    const message = 'boom \u001b[31m<script>alert(1)</script>\nsecond line 𝄞';
    const { id: doomed } = await live.enqueue('doomed', { maxAttempts: 2, backoff: { type: 'fixed', delayMs: 0 } });
    const first = await live.dequeue();
    if (first === null) throw new Error('no job to lease');
    await live.fail(first, new Error(message));
    const second = await live.dequeue();
    if (second === null) throw new Error('no job to lease again');
    await live.fail(second, new Error(message));
    await live.retry(doomed);
    await tail.until(() => tail.out.stdout.includes('"type":"retried"'), 'the retried job');
    tail.child.kill('SIGINT');
    expect(await tail.exited).toBe(0);
    const lines = tail.out.stdout
      .trim()
      .split('\n')
      .map((line) => JSON.parse(line) as Record<string, unknown>);
    expect(lines.map(({ jobId, type, state, attempt }) => [jobId, type, state, attempt])).toEqual([
      [id, 'enqueued', 'waiting', undefined],
      [id, 'started', 'active', 1],
      [id, 'progress', 'active', 1],
      [id, 'completed', 'completed', 1],
      [doomed, 'enqueued', 'waiting', undefined],
      [doomed, 'started', 'active', 1],
      [doomed, 'failed', 'waiting', 1],
      [doomed, 'started', 'active', 2],
      [doomed, 'dead', 'dead', 2],
      [doomed, 'retried', 'waiting', undefined],
    ]);
    expect(lines.every(({ queue }) => queue === 'live')).toBe(true);
    // JSON has no -0: it prints as 0.
    expect(lines[2]?.progress).toEqual({ ...PAYLOAD, negativeZero: 0, at: { $date: new Date(0).toISOString() } });
    expect(lines[6]).toMatchObject({ error: { attempt: 1, name: 'Error', message }, retryAt: expect.any(String) });
    expect(lines[8]).toMatchObject({ error: { attempt: 2, message } });
  });

  it('prints one text line per event, the error quoted with its control characters escaped', async () => {
    const live = backend.queue('text');
    const tail = startTail('text');
    await tail.until(() => tail.out.stderr.includes('following queue text from its events'), 'that it started');
    const { id } = await live.enqueue('text', { maxAttempts: 1 });
    const lease = await live.dequeue();
    if (lease?.job.id !== id) throw new Error('the job was not the next one');
    await live.fail(lease, new Error('red \u001b[31malert\u0007 <b>'));
    await tail.until(() => tail.out.stdout.includes('dead'), 'the dead job');
    tail.child.kill('SIGTERM');
    expect(await tail.exited).toBe(0);
    const lines = tail.out.stdout.trim().split('\n');
    expect(lines).toHaveLength(3);
    expect(lines[0]).toMatch(new RegExp(`^\\S+Z  ${id}  enqueued → waiting$`));
    expect(lines[1]).toMatch(new RegExp(`^\\S+Z  ${id}  started → active \\(attempt 1\\)$`));
    expect(lines[2]).toContain(`${id}  dead → dead (attempt 1) "red \\u001b[31malert\\u0007 <b>"`);
    expect(hasAnsi(tail.out.stdout)).toBe(false);
    expect(tail.out.stdout).not.toContain('\u0007');
  });

  it('stops tail with exit 0 on SIGTERM too', async () => {
    const child = startBerth(['queue', place.url, 'live', 'tail'], place.cwd);
    let stderr = '';
    child.stderr.on('data', (chunk: Buffer) => {
      stderr += chunk.toString('utf8');
    });
    const exited = new Promise<number | null>((resolve) => child.on('close', resolve));
    const deadline = Date.now() + 20_000;
    while (!stderr.includes('following queue live')) {
      if (Date.now() > deadline) throw new Error(`tail never started: ${stderr}`);
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
    child.kill('SIGTERM');
    expect(await exited).toBe(0);
  });
});

import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { SqliteBackend } from '@berth/adapter-sqlite';
import type { Job } from '@berth/core';
import { afterAll, expect, it } from 'vitest';
import { setSchedule } from './set-schedule.js';

const directory = mkdtempSync(join(tmpdir(), 'berth-scheduler-processes-'));
const started = new Set<ChildProcess>();
afterAll(() => {
  // A case that failed or timed out leaves no process behind.
  for (const child of started) if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  rmSync(directory, { recursive: true, force: true });
});

const fixture = fileURLToPath(new URL('./fixtures/scheduler-process.ts', import.meta.url));
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

const PROCESSES = 3;
const RUN_MS = 10_000;

interface Child {
  readonly ready: Promise<void>;
  /** Closes its stdin (the child closes its scheduler) and resolves with its last line. */
  stop(): Promise<string>;
}

function startChild(database: string): Child {
  const child = spawn(process.execPath, ['--import', 'tsx', '--conditions=@berth/source', fixture, database, 'ticks'], {
    stdio: ['pipe', 'pipe', 'inherit'],
  });
  started.add(child);
  const lines: string[] = [];
  let buffer = '';
  let onReady: () => void = () => {};
  const ready = new Promise<void>((resolve, reject) => {
    onReady = resolve;
    child.once('exit', (code) => reject(new Error(`a scheduler process exited (${code}) before it was ready`)));
  });
  child.stdout?.on('data', (chunk: Buffer) => {
    buffer += chunk.toString();
    for (let newline = buffer.indexOf('\n'); newline >= 0; newline = buffer.indexOf('\n')) {
      const line = buffer.slice(0, newline);
      buffer = buffer.slice(newline + 1);
      lines.push(line);
      if (line === 'ready') onReady();
    }
  });
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  return {
    ready,
    async stop() {
      child.stdin?.end();
      expect(await exited).toBe(0);
      return lines.at(-1) ?? '';
    },
  };
}

it('three processes each running a scheduler on one SQLite file enqueue each tick of an every-second schedule exactly once', async () => {
  const database = join(directory, 'schedules.db');
  const backend = new SqliteBackend({ filename: database });
  const queue = backend.queue('ticks');
  await queue.stats(); // creates the tables before the children open the file
  const children = Array.from({ length: PROCESSES }, () => startChild(database));
  await Promise.all(children.map((child) => child.ready));

  const startedAt = Date.now();
  await setSchedule(queue, { name: 'every_second', cron: '* * * * * *', payload: { from: 'test' } });
  await sleep(RUN_MS);
  const stoppedAt = Date.now();
  const reports = await Promise.all(children.map((child) => child.stop()));

  const jobs: Job[] = [];
  for (let leases = await queue.dequeueMany(10_000); leases.length > 0; leases = await queue.dequeueMany(10_000)) {
    jobs.push(...leases.map((lease) => lease.job));
  }
  await backend.close();

  const ticks = jobs.map((job) => job.runAt.getTime()).sort((a, b) => a - b);
  // No duplicates: one job per tick.
  expect(new Set(ticks).size).toBe(ticks.length);
  // No gap: every second between the first tick and the last.
  for (let index = 1; index < ticks.length; index++) {
    expect((ticks[index] as number) - (ticks[index - 1] as number)).toBe(1_000);
  }
  // The ticks span the run (a loaded machine may still be firing the last ones when asked to stop).
  expect(ticks.length).toBeGreaterThanOrEqual(RUN_MS / 1_000 - 2);
  expect((ticks[0] as number) - startedAt).toBeLessThanOrEqual(2_000);
  expect(stoppedAt - (ticks.at(-1) as number)).toBeLessThanOrEqual(3_000);
  for (const job of jobs) expect(job.payload).toEqual({ from: 'test' });

  const counts = reports.map((line) => /^fired (\d+) lost (\d+)$/.exec(line)?.slice(1).map(Number) ?? []);
  const fired = counts.reduce((sum, [won = 0]) => sum + won, 0);
  expect(fired).toBe(ticks.length);
  const lateness = jobs.map((job) => job.createdAt.getTime() - job.runAt.getTime()).sort((a, b) => a - b);
  console.log(
    `scheduler processes: ${ticks.length} ticks; fired/lost per process: ${reports.join(', ')}; ` +
      `enqueued after the tick by ${lateness[Math.floor(lateness.length / 2)]} ms median (${lateness[0]}–${lateness.at(-1)})`,
  );
}, 40_000);

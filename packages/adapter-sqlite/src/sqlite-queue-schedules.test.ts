import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { ScheduleInput } from '@berth/core';
import { afterAll, describe, expect, it } from 'vitest';
import { lines, startFixture } from './fixtures/sqlite-children.js';
import { SqliteBackend } from './sqlite-backend.js';

const directory = mkdtempSync(join(tmpdir(), 'berth-sqlite-schedules-'));
afterAll(() => rmSync(directory, { recursive: true, force: true }));
let files = 0;
const file = () => join(directory, `${++files}.db`);

const T0 = Date.UTC(2030, 0, 1);
const input = (overrides: Partial<ScheduleInput> = {}): ScheduleInput => ({
  name: 'nightly',
  spec: { cron: '0 3 * * *', timezone: 'Europe/Paris' },
  payload: { report: 'sales', at: new Date(T0) },
  jobOptions: { priority: 5, maxAttempts: 2, timeoutMs: 1_000 },
  missed: 'once',
  overlap: 'allow',
  paused: false,
  nextRunAt: new Date(T0),
  ...overrides,
});
const tick = (i: number, enqueue = true) => ({
  runAt: new Date(T0 + i * 1_000),
  nextRunAt: new Date(T0 + (i + 1) * 1_000),
  enqueue,
});

describe('SqliteJobQueue schedules', () => {
  it('stores, replaces, lists and removes schedules per queue', async () => {
    await using backend = new SqliteBackend({ filename: file() });
    const queue = backend.queue('reports');
    const created = await queue.putSchedule(input());
    expect(created).toMatchObject({ name: 'nightly', version: 1, lastRunAt: undefined, lastJobId: undefined });
    expect(created.payload).toStrictEqual({ report: 'sales', at: new Date(T0) });
    expect(await queue.getSchedule('nightly')).toStrictEqual(created);
    await queue.fireSchedule('nightly', tick(0));
    const replaced = await queue.putSchedule(input({ spec: { everyMs: 60_000 }, nextRunAt: new Date(T0 + 5_000) }));
    expect(replaced.version).toBe(3);
    expect(replaced.createdAt).toStrictEqual(created.createdAt);
    expect(replaced.lastRunAt).toStrictEqual(new Date(T0));
    expect(replaced.lastJobId).toBeTypeOf('string');
    expect(replaced.spec).toStrictEqual({ everyMs: 60_000 });
    await queue.putSchedule(input({ name: 'a_first' }));
    expect((await queue.listSchedules()).map((s) => s.name)).toStrictEqual(['a_first', 'nightly']);
    // Another queue of the same file sees none of them.
    expect(await backend.queue('other').listSchedules()).toStrictEqual([]);
    expect(await backend.queue('other').getSchedule('nightly')).toBeNull();
    expect(await backend.queue('other').removeSchedule('nightly')).toBe(false);
    expect(await queue.removeSchedule('nightly')).toBe(true);
    expect(await queue.removeSchedule('nightly')).toBe(false);
    expect(await queue.getSchedule('nightly')).toBeNull();
  });

  it('fires a tick once: the job is due at the tick and carries the job options', async () => {
    await using backend = new SqliteBackend({ filename: file() });
    const queue = backend.queue('reports');
    await queue.putSchedule(input());
    const results = await Promise.all(Array.from({ length: 20 }, () => queue.fireSchedule('nightly', tick(0))));
    expect(results.filter((result) => result.fired)).toHaveLength(1);
    const job = results.find((result) => result.fired)?.job;
    expect(job?.deduplicated).toBe(false);
    const stored = await queue.get(job?.id ?? '');
    expect(stored).toMatchObject({ priority: 5, maxAttempts: 2, timeoutMs: 1_000, runAt: new Date(T0) });
    expect(stored?.payload).toStrictEqual({ report: 'sales', at: new Date(T0) });
    const schedule = await queue.getSchedule('nightly');
    expect(schedule).toMatchObject({ nextRunAt: new Date(T0 + 1_000), lastRunAt: new Date(T0), lastJobId: job?.id });
    expect(schedule?.version).toBe(2);
    // A stale tick, a tick off by one millisecond, and a missing schedule change nothing.
    expect(await queue.fireSchedule('nightly', tick(0))).toStrictEqual({ fired: false });
    expect(
      await queue.fireSchedule('nightly', { ...tick(1), runAt: new Date(T0 + 1_001), nextRunAt: undefined }),
    ).toStrictEqual({ fired: false });
    expect(await queue.fireSchedule('missing', tick(1))).toStrictEqual({ fired: false });
    expect((await queue.getSchedule('nightly'))?.version).toBe(2);
    expect((await queue.stats()).waiting).toBe(1);
  });

  it('moves on without a job when the tick does not enqueue, and never fires a paused schedule', async () => {
    await using backend = new SqliteBackend({ filename: file() });
    const queue = backend.queue('reports');
    await queue.putSchedule(input());
    expect(await queue.fireSchedule('nightly', tick(0, false))).toStrictEqual({ fired: true });
    expect(await queue.getSchedule('nightly')).toMatchObject({ lastRunAt: new Date(T0), lastJobId: undefined });
    await queue.putSchedule(input({ paused: true, nextRunAt: new Date(T0 + 1_000) }));
    expect(await queue.fireSchedule('nightly', tick(1))).toStrictEqual({ fired: false });
    expect((await queue.stats()).waiting).toBe(0);
    // The last tick: no next one.
    await queue.putSchedule(input({ nextRunAt: new Date(T0 + 1_000) }));
    expect((await queue.fireSchedule('nightly', { ...tick(1), nextRunAt: undefined })).fired).toBe(true);
    expect((await queue.getSchedule('nightly'))?.nextRunAt).toBeUndefined();
  });

  it('under overlap "skip", a tick whose earlier job is still live returns that job', async () => {
    await using backend = new SqliteBackend({ filename: file() });
    const queue = backend.queue('reports');
    await queue.putSchedule(input({ overlap: 'skip' }));
    const first = await queue.fireSchedule('nightly', tick(0));
    const second = await queue.fireSchedule('nightly', tick(1));
    expect(second).toStrictEqual({ fired: true, job: { id: first.job?.id, deduplicated: true } });
    expect((await queue.getSchedule('nightly'))?.lastJobId).toBe(first.job?.id);
    expect((await queue.stats()).waiting).toBe(1);
  });

  it('refuses bad input with VALIDATION and stores injection-shaped payloads as data', async () => {
    await using backend = new SqliteBackend({ filename: file() });
    const queue = backend.queue('reports');
    const validation = { code: 'VALIDATION' };
    await expect(queue.putSchedule(input({ name: "x'; DROP TABLE _berth_jobs; --" }))).rejects.toMatchObject(
      validation,
    );
    await expect(queue.getSchedule("x' OR '1'='1")).rejects.toMatchObject(validation);
    await expect(queue.removeSchedule('')).rejects.toMatchObject(validation);
    await expect(queue.fireSchedule('a'.repeat(129), tick(0))).rejects.toMatchObject(validation);
    await expect(
      queue.fireSchedule('nightly', { runAt: new Date(Number.NaN), enqueue: true } as never),
    ).rejects.toMatchObject(validation);
    await expect(queue.fireSchedule('nightly', { ...tick(0), nextRunAt: new Date(T0) })).rejects.toMatchObject(
      validation,
    );
    await expect(queue.putSchedule(input({ missed: 'twice' as never }))).rejects.toMatchObject(validation);
    await expect(queue.putSchedule({ ...input(), payload: undefined } as never)).rejects.toMatchObject(validation);
    const sneaky = "'); DELETE FROM _berth_schedules; --";
    await queue.putSchedule(input({ payload: { sneaky }, spec: { cron: sneaky } }));
    expect(await queue.getSchedule('nightly')).toMatchObject({ payload: { sneaky }, spec: { cron: sneaky } });
    const fired = await queue.fireSchedule('nightly', tick(0));
    expect((await queue.get(fired.job?.id ?? ''))?.payload).toStrictEqual({ sneaky });
  });

  it('two processes racing on every tick of one schedule fire each tick exactly once', async () => {
    const database = file();
    const TICKS = 300;
    {
      await using backend = new SqliteBackend({ filename: database });
      await backend.queue('ticks').putSchedule(input({ name: 'race', nextRunAt: new Date(T0) }));
    }
    const fired: { process: string; tick: number; job: string }[] = [];
    const children = ['A', 'B'].map((name) => {
      const child = startFixture('schedule-racer.ts', [database, 'race', String(TICKS), String(T0)]);
      let ready: () => void = () => undefined;
      const isReady = new Promise<void>((resolve) => {
        ready = resolve;
      });
      const exited = lines(child, (line) => {
        if (line === 'READY') ready();
        const [word, tickText, job] = line.split(' ');
        if (word === 'FIRED') fired.push({ process: name, tick: Number(tickText), job: job ?? '' });
      });
      return { child, isReady, exited };
    });
    try {
      await Promise.all(children.map((child) => child.isReady));
      for (const { child } of children) child.stdin?.write('go\n');
      expect(await Promise.all(children.map((child) => child.exited))).toStrictEqual([0, 0]);
    } finally {
      for (const { child } of children) if (child.exitCode === null) child.kill('SIGKILL');
    }
    expect(fired.map((entry) => entry.tick).sort((a, b) => a - b)).toStrictEqual(
      Array.from({ length: TICKS }, (_, i) => i),
    );
    await using backend = new SqliteBackend({ filename: database });
    const queue = backend.queue('ticks');
    expect((await queue.stats()).waiting).toBe(TICKS);
    const runAts = new Set<number>();
    for (const entry of fired) {
      const job = await queue.get(entry.job);
      expect(job?.runAt.getTime()).toBe(T0 + entry.tick * 1_000);
      runAts.add(job?.runAt.getTime() ?? 0);
    }
    expect(runAts.size).toBe(TICKS);
    const schedule = await queue.getSchedule('race');
    expect(schedule).toMatchObject({ version: TICKS + 1, lastRunAt: new Date(T0 + (TICKS - 1) * 1_000) });
    const byProcess = fired.reduce<Record<string, number>>((counts, entry) => {
      counts[entry.process] = (counts[entry.process] ?? 0) + 1;
      return counts;
    }, {});
    console.log(`schedule race: ${TICKS} ticks fired once each; by process ${JSON.stringify(byProcess)}`);
  }, 120_000);
});

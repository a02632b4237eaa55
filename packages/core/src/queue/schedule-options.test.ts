import { describe, expect, it } from 'vitest';
import { isBerthError } from '../errors.js';
import type { ScheduleInput } from './schedule.js';
import { checkScheduleInput, checkScheduleName, checkScheduleTick, scheduledJob } from './schedule-options.js';

function validationPath(action: () => unknown): string {
  try {
    action();
  } catch (error) {
    if (isBerthError(error, 'VALIDATION')) return error.path ?? '';
    throw error;
  }
  return expect.unreachable('expected a VALIDATION error');
}

const base = { name: 'nightly', spec: { cron: '0 3 * * *' }, payload: { report: 'sales' } };

describe('checkScheduleInput', () => {
  it('applies the defaults and returns a copy', () => {
    const payload = { report: 'sales', at: new Date(0) };
    const checked = checkScheduleInput<typeof payload>({ ...base, payload });
    expect(checked).toStrictEqual({
      name: 'nightly',
      spec: { cron: '0 3 * * *' },
      payload: { report: 'sales', at: new Date(0) },
      jobOptions: {},
      missed: 'once',
      overlap: 'allow',
      paused: false,
      nextRunAt: undefined,
    });
    payload.report = 'changed';
    expect(checked.payload.report).toBe('sales');
  });

  it('keeps a time zone, an interval, the allowed job options and a nextRunAt copy', () => {
    const nextRunAt = new Date(1_000);
    const checked = checkScheduleInput({
      ...base,
      spec: { cron: '*/5 * * * * *', timezone: 'Europe/Paris' },
      jobOptions: { priority: 2, maxAttempts: 4, backoff: { type: 'fixed', delayMs: 10 }, leaseMs: 100, timeoutMs: 50 },
      missed: 'skip',
      overlap: 'skip',
      paused: true,
      nextRunAt,
    });
    expect(checked.spec).toStrictEqual({ cron: '*/5 * * * * *', timezone: 'Europe/Paris' });
    expect(checked.jobOptions).toStrictEqual({
      priority: 2,
      maxAttempts: 4,
      backoff: { type: 'fixed', delayMs: 10 },
      leaseMs: 100,
      timeoutMs: 50,
    });
    expect(checked.nextRunAt).not.toBe(nextRunAt);
    expect(checked.nextRunAt?.getTime()).toBe(1_000);
    expect(checkScheduleInput({ ...base, spec: { everyMs: 60_000 } }).spec).toStrictEqual({ everyMs: 60_000 });
  });

  it.each([
    [{ ...base, name: 'with space' }, ''],
    [{ ...base, name: "x'; DROP TABLE s; --" }, ''],
    [{ ...base, name: '__proto__' }, ''],
    [{ ...base, name: 'x'.repeat(64) }, ''],
    [{ ...base, spec: 'daily' }, 'spec'],
    [{ ...base, spec: { cron: '' } }, 'spec.cron'],
    [{ ...base, spec: { cron: '   ' } }, 'spec.cron'],
    [{ ...base, spec: { cron: '*'.repeat(257) } }, 'spec.cron'],
    [{ ...base, spec: { cron: '* * * * *', timezone: '' } }, 'spec.timezone'],
    [{ ...base, spec: { cron: '* * * * *', everyMs: 1 } }, 'spec'],
    [{ ...base, spec: { everyMs: 0 } }, 'spec.everyMs'],
    [{ ...base, spec: { everyMs: 366 * 86_400_000 + 1 } }, 'spec.everyMs'],
    [{ ...base, payload: undefined }, 'payload'],
    [{ ...base, payload: { f: () => 1 } }, 'payload.f'],
    [{ ...base, missed: 'all' }, 'missed'],
    [{ ...base, overlap: 'queue' }, 'overlap'],
    [{ ...base, paused: 1 }, 'paused'],
    [{ ...base, nextRunAt: new Date(Number.NaN) }, 'nextRunAt'],
    [{ ...base, nextRunAt: 0 }, 'nextRunAt'],
    [{ ...base, jobOptions: [] }, 'jobOptions'],
    [{ ...base, jobOptions: { dedupeKey: 'k' } }, 'jobOptions.dedupeKey'],
    [{ ...base, jobOptions: { runAt: new Date() } }, 'jobOptions.runAt'],
    [{ ...base, jobOptions: { priority: 0.5 } }, 'jobOptions.priority'],
    [{ ...base, jobOptions: { timeoutMs: 0 } }, 'jobOptions.timeoutMs'],
  ])('refuses %j with VALIDATION at %s', (input, path) => {
    expect(validationPath(() => checkScheduleInput(input))).toBe(path);
  });

  it('refuses a payload over maxPayloadBytes and input that is not an object', () => {
    expect(validationPath(() => checkScheduleInput({ ...base, payload: 'x'.repeat(100) }, 50))).toBe('payload');
    expect(checkScheduleInput({ ...base, payload: 'x'.repeat(10) }, 50).payload).toBe('x'.repeat(10));
    for (const input of [null, 'nightly', [base]]) validationPath(() => checkScheduleInput(input));
  });
});

describe('checkScheduleName', () => {
  it('takes queue-style names and refuses the rest', () => {
    for (const name of ['a', 'Nightly_2', 'constructor', 'x'.repeat(63)]) expect(checkScheduleName(name)).toBe(name);
    for (const name of ['', '1a', '_a', 'a-b', 'a.b', 'é', 'a b', 42, null, undefined]) {
      validationPath(() => checkScheduleName(name));
    }
  });
});

describe('checkScheduleTick', () => {
  it('copies a valid tick', () => {
    const runAt = new Date(1_000);
    const tick = checkScheduleTick({ runAt, nextRunAt: new Date(2_000), enqueue: true });
    expect(tick).toStrictEqual({ runAt: new Date(1_000), nextRunAt: new Date(2_000), enqueue: true });
    expect(tick.runAt).not.toBe(runAt);
    expect(checkScheduleTick({ runAt, nextRunAt: undefined, enqueue: false }).nextRunAt).toBeUndefined();
  });

  it.each([
    [null, 'tick'],
    [{ runAt: new Date(1), nextRunAt: new Date(2) }, 'tick.enqueue'],
    [{ runAt: new Date(1), nextRunAt: new Date(2), enqueue: 'yes' }, 'tick.enqueue'],
    [{ nextRunAt: new Date(2), enqueue: true }, 'tick.runAt'],
    [{ runAt: 1, nextRunAt: new Date(2), enqueue: true }, 'tick.runAt'],
    [{ runAt: new Date(Number.NaN), enqueue: true }, 'tick.runAt'],
    [{ runAt: new Date(1), nextRunAt: new Date(1), enqueue: true }, 'tick.nextRunAt'],
    [{ runAt: new Date(2), nextRunAt: new Date(1), enqueue: true }, 'tick.nextRunAt'],
    [{ runAt: new Date(1), nextRunAt: '1970-01-02', enqueue: true }, 'tick.nextRunAt'],
  ])('refuses %j with VALIDATION at %s', (tick, path) => {
    expect(validationPath(() => checkScheduleTick(tick))).toBe(path);
  });
});

describe('scheduledJob', () => {
  const schedule: Pick<ScheduleInput<string>, 'name' | 'payload' | 'jobOptions' | 'overlap'> = {
    name: 'nightly',
    payload: 'report',
    jobOptions: { priority: 3, timeoutMs: 100 },
    overlap: 'allow',
  };

  it("is the schedule's payload and options, due at the tick, without a dedupe key under overlap allow", () => {
    const runAt = new Date(5_000);
    expect(scheduledJob(schedule, { runAt })).toStrictEqual({ priority: 3, timeoutMs: 100, payload: 'report', runAt });
  });

  it('carries the dedupe key schedule:<name> under overlap skip', () => {
    expect(scheduledJob({ ...schedule, overlap: 'skip' }, { runAt: new Date(0) }).dedupeKey).toBe('schedule:nightly');
  });
});

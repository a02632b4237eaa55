import { isBerthError } from '@berth/core';
import { describe, expect, it } from 'vitest';
import { checkSpec, nextRuns, sameSpec, tickAfter } from './schedule-spec.js';

function validationPath(run: () => unknown): string {
  try {
    run();
  } catch (error) {
    if (isBerthError(error, 'VALIDATION')) return error.path;
    throw error;
  }
  throw new Error('expected a ValidationError');
}

const iso = (dates: Date[]) => dates.map((date) => date.toISOString());

describe('checkSpec', () => {
  it('rejects bad expressions naming cron, with croner reason', () => {
    for (const cron of ['* * * *', '61 * * * *', '0 0 0 * * * 2030', 'every minute', '', '   ', 'x'.repeat(300)]) {
      expect(validationPath(() => checkSpec({ cron }))).toBe('cron');
    }
    expect(() => checkSpec({ cron: '61 * * * *' })).toThrow(/minute/);
    expect(() => checkSpec({ cron: "0 0 * * *'; DROP TABLE jobs; --" })).toThrow(/not a valid expression/);
  });

  it('rejects an expression that never fires', () => {
    expect(() => checkSpec({ cron: '0 0 30 2 *' })).toThrow(/never fires/);
  });

  it('rejects unknown time zones naming timezone, with croner reason', () => {
    for (const timezone of ['Mars/Olympus_Mons', 'Europe/Pariss', '', 'UTC+99']) {
      expect(validationPath(() => checkSpec({ cron: '0 * * * *', timezone }))).toBe('timezone');
    }
    expect(() => checkSpec({ cron: '0 * * * *', timezone: 'Mars/Olympus_Mons' })).toThrow(/Invalid timezone/i);
  });

  it('takes exactly one of cron and everyMs', () => {
    expect(validationPath(() => checkSpec({}))).toBe('cron');
    expect(validationPath(() => checkSpec({ cron: '* * * * *', everyMs: 1000 }))).toBe('cron');
    expect(validationPath(() => checkSpec({ everyMs: 1000, timezone: 'UTC' }))).toBe('timezone');
    for (const everyMs of [0, -5, 1.5, Number.NaN, 367 * 86_400_000, '1000' as unknown as number]) {
      expect(validationPath(() => checkSpec({ everyMs }))).toBe('everyMs');
    }
  });

  it('accepts five fields, six with seconds first, and nicknames', () => {
    expect(checkSpec({ cron: '*/5 * * * *' })).toEqual({ cron: '*/5 * * * *' });
    expect(checkSpec({ cron: '30 * * * * *', timezone: 'Asia/Tokyo' })).toEqual({
      cron: '30 * * * * *',
      timezone: 'Asia/Tokyo',
    });
    expect(checkSpec({ cron: '@daily' })).toEqual({ cron: '@daily' });
  });
});

describe('ticks', () => {
  it('a six-field expression ticks on seconds, strictly after the given time', () => {
    const from = new Date('2026-01-01T10:00:00.000Z');
    expect(tickAfter({ cron: '* * * * * *' }, from)?.toISOString()).toBe('2026-01-01T10:00:01.000Z');
    expect(tickAfter({ cron: '* * * * * *' }, new Date('2026-01-01T10:00:00.999Z'))?.toISOString()).toBe(
      '2026-01-01T10:00:01.000Z',
    );
  });

  it('a cron expression runs in its time zone (default UTC)', () => {
    const from = new Date('2026-01-02T12:00:00Z');
    expect(iso(nextRuns({ cron: '0 9 * * 1-5' }, from, 1))).toEqual(['2026-01-05T09:00:00.000Z']);
    expect(iso(nextRuns({ cron: '0 9 * * 1-5', timezone: 'Europe/Paris' }, from, 2))).toEqual([
      '2026-01-05T08:00:00.000Z',
      '2026-01-06T08:00:00.000Z',
    ]);
    expect(iso(nextRuns({ cron: '0 9 * * *', timezone: 'Asia/Kolkata' }, from, 1))).toEqual([
      '2026-01-03T03:30:00.000Z',
    ]);
  });

  // croner (README, "DST handling"): a fixed-time job whose time does not
  // exist runs at the first valid time after the gap, the same day; one whose
  // time occurs twice runs once, at the first occurrence. An interval job
  // skips the times of the gap and runs on both occurrences.
  it('spring forward: a fixed time in the gap runs after it; an interval skips the gap (Europe/Paris)', () => {
    // 2026-03-29: 02:00 CET becomes 03:00 CEST (01:00 UTC).
    const from = new Date('2026-03-27T12:00:00Z');
    expect(iso(nextRuns({ cron: '30 2 * * *', timezone: 'Europe/Paris' }, from, 3))).toEqual([
      '2026-03-28T01:30:00.000Z', // 02:30 CET
      '2026-03-29T01:00:00.000Z', // 02:30 does not exist: 03:00 CEST
      '2026-03-30T00:30:00.000Z', // 02:30 CEST
    ]);
    expect(
      iso(nextRuns({ cron: '*/30 * * * *', timezone: 'Europe/Paris' }, new Date('2026-03-29T00:10:00Z'), 4)),
    ).toEqual([
      '2026-03-29T00:30:00.000Z', // 01:30 CET
      '2026-03-29T01:00:00.000Z', // 03:00 CEST: 02:00 and 02:30 are skipped
      '2026-03-29T01:30:00.000Z',
      '2026-03-29T02:00:00.000Z',
    ]);
  });

  it('fall back: a fixed time runs once at its first occurrence; an interval runs on both (Europe/Paris)', () => {
    // 2026-10-25: 03:00 CEST becomes 02:00 CET (01:00 UTC); 02:00–02:59 occur twice.
    expect(
      iso(nextRuns({ cron: '30 2 * * *', timezone: 'Europe/Paris' }, new Date('2026-10-24T12:00:00Z'), 2)),
    ).toEqual(['2026-10-25T00:30:00.000Z', '2026-10-26T01:30:00.000Z']);
    expect(
      iso(nextRuns({ cron: '*/30 2 * * *', timezone: 'Europe/Paris' }, new Date('2026-10-24T12:00:00Z'), 4)),
    ).toEqual([
      '2026-10-25T00:00:00.000Z', // 02:00 CEST
      '2026-10-25T00:30:00.000Z', // 02:30 CEST
      '2026-10-25T01:00:00.000Z', // 02:00 CET
      '2026-10-25T01:30:00.000Z', // 02:30 CET
    ]);
  });

  it('a daily job follows the wall clock across DST (America/New_York)', () => {
    // 2026-03-08: clocks go from 02:00 EST to 03:00 EDT.
    expect(
      iso(nextRuns({ cron: '0 9 * * *', timezone: 'America/New_York' }, new Date('2026-03-06T20:00:00Z'), 3)),
    ).toEqual(['2026-03-07T14:00:00.000Z', '2026-03-08T13:00:00.000Z', '2026-03-09T13:00:00.000Z']);
  });

  it('everyMs ticks on multiples of everyMs since the epoch, whatever the time zone', () => {
    expect(iso(nextRuns({ everyMs: 60_000 }, new Date('2026-03-29T00:59:30.500Z'), 3))).toEqual([
      '2026-03-29T01:00:00.000Z',
      '2026-03-29T01:01:00.000Z',
      '2026-03-29T01:02:00.000Z',
    ]);
    expect(iso(nextRuns({ everyMs: 250 }, new Date('2026-01-01T00:00:00.250Z'), 2))).toEqual([
      '2026-01-01T00:00:00.500Z',
      '2026-01-01T00:00:00.750Z',
    ]);
  });

  it('nextRuns checks its arguments', () => {
    expect(validationPath(() => nextRuns({ everyMs: 1000 }, new Date(Number.NaN), 1))).toBe('from');
    for (const count of [0, 1001, 2.5, Number.POSITIVE_INFINITY]) {
      expect(validationPath(() => nextRuns({ everyMs: 1000 }, new Date(), count))).toBe('count');
    }
    expect(validationPath(() => nextRuns({ cron: 'nope' }, new Date(), 1))).toBe('cron');
    expect(
      nextRuns({ cron: '0 0 29 2 *' }, new Date('2026-01-01T00:00:00Z'), 2).map((d) => d.getUTCFullYear()),
    ).toEqual([2028, 2032]);
  });

  it('sameSpec: default time zone is UTC', () => {
    expect(sameSpec({ cron: '* * * * *' }, { cron: '* * * * *', timezone: 'UTC' })).toBe(true);
    expect(sameSpec({ cron: '* * * * *' }, { cron: '* * * * *', timezone: 'Europe/Paris' })).toBe(false);
    expect(sameSpec({ everyMs: 5 }, { everyMs: 5 })).toBe(true);
    expect(sameSpec({ everyMs: 5 }, { cron: '* * * * *' })).toBe(false);
  });
});

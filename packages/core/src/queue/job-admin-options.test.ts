import { describe, expect, it } from 'vitest';
import { isBerthError } from '../errors.js';
import type { ListJobsOptions, PruneOptions, RetentionPolicy, RetryJobsOptions } from './job-admin.js';
import {
  comparePositions,
  DEFAULT_RETENTION,
  MAX_JOBS_EXAMINED,
  normalizeCancelJobs,
  normalizeListJobs,
  normalizePrune,
  normalizeRetention,
  normalizeRetryJobs,
} from './job-admin-options.js';

function validationPath(action: () => unknown): string {
  try {
    action();
  } catch (error) {
    if (isBerthError(error, 'VALIDATION')) return error.path ?? '';
    throw error;
  }
  return expect.unreachable('expected a VALIDATION error');
}

const loose = <T>(value: unknown): T => value as T;

describe('normalizeListJobs', () => {
  it('applies the defaults: every state, newest first, 50 a page, no filter, examining only the page', () => {
    const listing = normalizeListJobs('q', undefined);
    expect(listing).toMatchObject({
      state: undefined,
      order: 'newest',
      limit: 50,
      after: undefined,
      payload: undefined,
    });
    expect(listing.maxExamined).toBe(50);
    expect(normalizeListJobs('q', { payload: { kind: 'a' } }).maxExamined).toBe(MAX_JOBS_EXAMINED);
  });

  it('round-trips a position through its cursor, ids and all', () => {
    const options: ListJobsOptions = { state: 'dead', order: 'oldest', payload: { n: { $gt: 1 } } };
    const listing = normalizeListJobs('q', options);
    for (const position of [
      { createdAt: 0, id: 'a' },
      { createdAt: 1_700_000_000_123, id: "'; DROP TABLE x; --" },
      { createdAt: 5, id: 'é😀\u0000' },
    ]) {
      expect(normalizeListJobs('q', { ...options, cursor: listing.cursorAfter(position) }).after).toStrictEqual(
        position,
      );
    }
  });

  it('refuses a cursor of another queue, state, order or filter, and of a bulk step', () => {
    const cursor = normalizeListJobs('q', { state: 'dead' }).cursorAfter({ createdAt: 1, id: 'x' });
    for (const options of [
      { state: 'completed' },
      { state: 'dead', order: 'oldest' },
      { state: 'dead', payload: { a: 1 } },
      {},
    ] as const) {
      expect(validationPath(() => normalizeListJobs('q', { ...options, cursor }))).toBe('cursor');
    }
    expect(validationPath(() => normalizeListJobs('other', { state: 'dead', cursor }))).toBe('cursor');
    const bulk = normalizeRetryJobs('q', {}).cursorAfter({ createdAt: 1, id: 'x' });
    expect(validationPath(() => normalizeListJobs('q', { state: 'dead', order: 'oldest', cursor: bulk }))).toBe(
      'cursor',
    );
  });

  it('refuses malformed cursors and cursors whose position is not a time', () => {
    const encode = (value: unknown) => btoa(JSON.stringify(value)).replaceAll('=', '');
    const real = JSON.parse(atob(normalizeListJobs('q', {}).cursorAfter({ createdAt: 1, id: 'x' })));
    for (const cursor of ['', '!!!', 'e30', encode({ ...real, v: ['1'] }), encode({ ...real, v: [null] }), 7]) {
      expect(validationPath(() => normalizeListJobs('q', loose<ListJobsOptions>({ cursor })))).toBe('cursor');
    }
  });

  it.each([
    [{ limit: 0 }, 'limit'],
    [{ limit: 1_001 }, 'limit'],
    [{ limit: 2.5 }, 'limit'],
    [{ limit: '10' }, 'limit'],
    [{ state: 'running' }, 'state'],
    [{ state: 'Waiting' }, 'state'],
    [{ order: 'asc' }, 'order'],
    [{ payload: { __proto__x: { $nope: 1 } } }, 'payload.__proto__x'],
  ])('refuses %j with VALIDATION at %s', (options, path) => {
    expect(validationPath(() => normalizeListJobs('q', loose<ListJobsOptions>(options)))).toBe(path);
  });

  it('refuses a __proto__ path in the payload filter, and options that are not an object', () => {
    expect(validationPath(() => normalizeListJobs('q', { payload: JSON.parse('{"__proto__": 1}') }))).toMatch(
      /^payload/,
    );
    expect(validationPath(() => normalizeListJobs('q', { payload: { 'a.__proto__': 1 } }))).toMatch(/^payload/);
    for (const options of ['x', 1, []]) validationPath(() => normalizeListJobs('q', loose(options)));
  });
});

describe('normalizeRetryJobs and normalizeCancelJobs', () => {
  it('retry walks dead jobs by default, or cancelled ones; cancel walks waiting jobs; both 1000 a step', () => {
    expect(normalizeRetryJobs('q', undefined)).toMatchObject({ state: 'dead', limit: 1_000, after: undefined });
    expect(normalizeRetryJobs('q', { state: 'cancelled', limit: 10_000 })).toMatchObject({
      state: 'cancelled',
      limit: 10_000,
    });
    expect(normalizeCancelJobs('q', {})).toMatchObject({ state: 'waiting', limit: 1_000 });
  });

  it('refuses other states, out-of-range limits and cursors of another operation', () => {
    for (const state of ['waiting', 'completed', 'active', '']) {
      expect(validationPath(() => normalizeRetryJobs('q', loose<RetryJobsOptions>({ state })))).toBe('state');
    }
    for (const limit of [0, 10_001, -1, 0.5]) {
      expect(validationPath(() => normalizeRetryJobs('q', { limit }))).toBe('limit');
      expect(validationPath(() => normalizeCancelJobs('q', { limit }))).toBe('limit');
    }
    const retry = normalizeRetryJobs('q', {}).cursorAfter({ createdAt: 3, id: 'j' });
    expect(normalizeRetryJobs('q', { cursor: retry }).after).toStrictEqual({ createdAt: 3, id: 'j' });
    expect(validationPath(() => normalizeCancelJobs('q', { cursor: retry }))).toBe('cursor');
    expect(validationPath(() => normalizeRetryJobs('q', { state: 'cancelled', cursor: retry }))).toBe('cursor');
    expect(validationPath(() => normalizeRetryJobs('q', { payload: { a: 1 }, cursor: retry }))).toBe('cursor');
  });
});

describe('comparePositions', () => {
  it('orders by createdAt, then by id in code-unit order (not locale order)', () => {
    const positions = [
      { createdAt: 2, id: 'a' },
      { createdAt: 1, id: 'b' },
      { createdAt: 1, id: 'B' },
      { createdAt: 1, id: 'é' },
      { createdAt: 1, id: 'z' },
      { createdAt: 1, id: '😀' },
      { createdAt: 1, id: '\uffff' },
    ];
    expect([...positions].sort(comparePositions).map((position) => `${position.createdAt}${position.id}`)).toEqual([
      '1B',
      '1b',
      '1z',
      '1é',
      '1😀',
      '1\uffff',
      '2a',
    ]);
    expect(comparePositions({ createdAt: 1, id: 'x' }, { createdAt: 1, id: 'x' })).toBe(0);
  });
});

describe('normalizeRetention', () => {
  it('defaults to DEFAULT_RETENTION, keeps states left out, and null keeps a state forever', () => {
    expect(normalizeRetention(undefined)).toBe(DEFAULT_RETENTION);
    expect(normalizeRetention({})).toStrictEqual(DEFAULT_RETENTION);
    expect(normalizeRetention({ completed: null, dead: { maxCount: 5 } })).toStrictEqual({
      completed: undefined,
      cancelled: DEFAULT_RETENTION.cancelled,
      dead: { maxAgeMs: undefined, maxCount: 5 },
    });
    expect(DEFAULT_RETENTION).toStrictEqual({
      completed: { maxAgeMs: 86_400_000, maxCount: 10_000 },
      cancelled: { maxAgeMs: 86_400_000, maxCount: 10_000 },
      dead: { maxAgeMs: 2_592_000_000, maxCount: undefined },
    });
  });

  it.each([
    ['forever', 'retention'],
    [[], 'retention'],
    [{ waiting: { maxCount: 1 } }, 'retention.waiting'],
    [JSON.parse('{"__proto__": {}}'), 'retention.__proto__'],
    [{ completed: 1 }, 'retention.completed'],
    [{ completed: { maxAge: 1 } }, 'retention.completed.maxAge'],
    [{ dead: { maxAgeMs: -1 } }, 'retention.dead.maxAgeMs'],
    [{ dead: { maxAgeMs: Number.NaN } }, 'retention.dead.maxAgeMs'],
    [{ cancelled: { maxCount: 1.5 } }, 'retention.cancelled.maxCount'],
  ])('refuses %j with VALIDATION at %s', (policy, path) => {
    expect(validationPath(() => normalizeRetention(loose<RetentionPolicy>(policy)))).toBe(path);
  });
});

describe('normalizePrune', () => {
  it("applies the queue's policy, overridden state by state, at most 1000 jobs by default", () => {
    const queue = normalizeRetention({ completed: { maxCount: 1 } });
    expect(normalizePrune(undefined, queue)).toStrictEqual({ retention: queue, limit: 1_000 });
    expect(normalizePrune({ retention: { dead: null }, limit: 10_000 }, queue)).toStrictEqual({
      retention: { ...queue, dead: undefined },
      limit: 10_000,
    });
    for (const limit of [0, 10_001, 1.5]) {
      expect(validationPath(() => normalizePrune({ limit }, queue))).toBe('limit');
    }
    expect(validationPath(() => normalizePrune(loose<PruneOptions>({ retention: 5 }), queue))).toBe('retention');
  });
});

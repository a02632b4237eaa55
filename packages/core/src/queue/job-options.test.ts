import { describe, expect, it } from 'vitest';
import { isBerthError } from '../errors.js';
import { backoffDelay, MAX_JOB_ERROR_MESSAGE, normalizeEnqueueOptions, toJobError } from './job-options.js';

describe('backoffDelay', () => {
  it('doubles per attempt and stops at the cap', () => {
    const policy = { type: 'exponential', delayMs: 100, maxDelayMs: 1_000 } as const;
    expect([1, 2, 3, 4, 5, 60].map((attempt) => backoffDelay(policy, attempt))).toEqual([
      100, 200, 400, 800, 1_000, 1_000,
    ]);
  });

  it('applies full and equal jitter within their bounds', () => {
    expect(backoffDelay({ type: 'exponential', delayMs: 100, jitter: 'full' }, 2, () => 0)).toBe(0);
    expect(backoffDelay({ type: 'exponential', delayMs: 100, jitter: 'full' }, 2, () => 0.5)).toBe(100);
    expect(backoffDelay({ type: 'exponential', delayMs: 100, jitter: 'equal' }, 2, () => 0)).toBe(100);
    expect(backoffDelay({ type: 'exponential', delayMs: 100, jitter: 'equal' }, 2, () => 1)).toBe(200);
    expect(backoffDelay({ type: 'fixed', delayMs: 70 }, 9)).toBe(70);
  });
});

describe('normalizeEnqueueOptions', () => {
  it('applies defaults', () => {
    const options = normalizeEnqueueOptions(undefined, 1_000);
    expect(options).toMatchObject({ priority: 0, maxAttempts: 3, leaseMs: 30_000, dedupeKey: undefined });
    expect(options.runAt.getTime()).toBe(1_000);
    expect(normalizeEnqueueOptions({ delayMs: 50 }, 1_000).runAt.getTime()).toBe(1_050);
  });

  it.each([
    [{ runAt: new Date(), delayMs: 1 }],
    [{ delayMs: -1 }],
    [{ priority: 1.5 }],
    [{ maxAttempts: 0 }],
    [{ leaseMs: 0 }],
    [{ dedupeKey: '' }],
    [{ backoff: { type: 'linear', delayMs: 1 } }],
    [{ backoff: { type: 'exponential', delayMs: 1, jitter: 'some' } }],
    [{ runAt: new Date(Number.NaN) }],
  ])('rejects %j', (options) => {
    let caught: unknown;
    try {
      normalizeEnqueueOptions(options as never, 0);
    } catch (error) {
      caught = error;
    }
    expect(isBerthError(caught, 'VALIDATION')).toBe(true);
  });
});

describe('toJobError', () => {
  it('keeps message and code, and makes strings storable', () => {
    const error = Object.assign(new Error('boom\u0000'), { code: 'E_BOOM' });
    expect(toJobError(error, 2, new Date(0))).toEqual({ attempt: 2, message: 'boom', name: 'E_BOOM', at: new Date(0) });
    expect(toJobError('plain', 1, new Date(0)).message).toBe('plain');
  });
  it('keeps a message of exactly the cap whole', () => {
    const message = 'x'.repeat(MAX_JOB_ERROR_MESSAGE);
    expect(toJobError(new Error(message), 1, new Date(0)).message).toBe(message);
  });

  it('cuts a 5 MB message to the cap and says how many characters were cut', () => {
    const message = 'y'.repeat(5 * 1024 * 1024);
    const stored = toJobError(new Error(message), 1, new Date(0)).message;
    expect(stored.length).toBeLessThanOrEqual(MAX_JOB_ERROR_MESSAGE);
    const note = /… \[truncated: (\d+) more characters\]$/.exec(stored);
    expect(note).not.toBeNull();
    const kept = stored.length - (note?.[0].length ?? 0);
    expect(kept + Number(note?.[1])).toBe(message.length);
    expect(stored.startsWith('y'.repeat(kept))).toBe(true);
  });

  it('never splits a surrogate pair at the cut', () => {
    const stored = toJobError('😀'.repeat(MAX_JOB_ERROR_MESSAGE), 1, new Date(0)).message;
    expect(stored.isWellFormed()).toBe(true);
    expect(stored.length).toBeLessThanOrEqual(MAX_JOB_ERROR_MESSAGE);
  });
});

import { describe, expect, it } from 'vitest';
import { AbortedError, ConflictError, isBerthError, NotFoundError } from '../errors.js';
import { normalizeRetries, retryDelay, withRetries } from './retry.js';

describe('normalizeRetries', () => {
  it('takes a count or an object, with default delays', () => {
    expect(normalizeRetries(undefined)).toBeUndefined();
    expect(normalizeRetries(3)).toStrictEqual({ retries: 3, minDelayMs: 5, maxDelayMs: 500 });
    expect(normalizeRetries({ retries: 2, minDelayMs: 1000 })).toStrictEqual({
      retries: 2,
      minDelayMs: 1000,
      maxDelayMs: 1000,
    });
    expect(normalizeRetries({ retries: 0, minDelayMs: 0, maxDelayMs: 0 })).toStrictEqual({
      retries: 0,
      minDelayMs: 0,
      maxDelayMs: 0,
    });
  });

  it('refuses anything else with VALIDATION', () => {
    for (const bad of [
      -1,
      0.5,
      101,
      2 ** 53 + 2,
      Number.NaN,
      -0.0001,
      '1',
      null,
      [],
      {},
      { retries: 1, maxDelayMs: -1 },
    ]) {
      let caught: unknown;
      try {
        normalizeRetries(bad);
      } catch (error) {
        caught = error;
      }
      expect(isBerthError(caught, 'VALIDATION'), JSON.stringify(bad)).toBe(true);
    }
  });
});

describe('retryDelay', () => {
  it('grows exponentially up to maxDelayMs, with full jitter and a small floor', () => {
    const policy = { retries: 10, minDelayMs: 10, maxDelayMs: 100 };
    expect([1, 2, 3, 4, 5, 40].map((retry) => retryDelay(policy, retry, () => 1))).toStrictEqual([
      10, 20, 40, 80, 100, 100,
    ]);
    expect(retryDelay(policy, 3, () => 0)).toBe(1);
    expect(retryDelay(policy, 3, () => 0.5)).toBe(20);
  });
});

describe('withRetries', () => {
  const quick = { retries: 3, minDelayMs: 0, maxDelayMs: 0 };

  it('retries only retryable conflicts and rethrows the last one', async () => {
    let calls = 0;
    const errors: ConflictError[] = [];
    const outcome = withRetries(
      async () => {
        calls += 1;
        const error = new ConflictError(`try ${calls}`);
        errors.push(error);
        throw error;
      },
      quick,
      undefined,
    );
    const caught = await outcome.catch((error: unknown) => error);
    expect(caught).toBe(errors[3]);
    expect(calls).toBe(4);
    for (const error of [new ConflictError('final', { retryable: false }), new NotFoundError('gone')]) {
      let attempts = 0;
      await expect(
        withRetries(
          async () => {
            attempts += 1;
            throw error;
          },
          quick,
          undefined,
        ),
      ).rejects.toBe(error);
      expect(attempts).toBe(1);
    }
  });

  it('returns the first success and does not retry without a policy', async () => {
    let calls = 0;
    expect(
      await withRetries(async () => (++calls < 3 ? Promise.reject(new ConflictError('x')) : calls), quick, undefined),
    ).toBe(3);
    calls = 0;
    await expect(
      withRetries(
        async () => {
          calls += 1;
          throw new ConflictError('x');
        },
        undefined,
        undefined,
      ),
    ).rejects.toBeInstanceOf(ConflictError);
    expect(calls).toBe(1);
  });

  it('an abort during the wait rejects at once with ABORTED carrying the reason', async () => {
    const controller = new AbortController();
    const reason = new Error('stop');
    setTimeout(() => controller.abort(reason), 10);
    const outcome = withRetries(
      async () => {
        throw new ConflictError('x');
      },
      { retries: 5, minDelayMs: 60_000, maxDelayMs: 60_000 },
      controller.signal,
    );
    const error = await outcome.catch((caught: unknown) => caught);
    expect(error).toBeInstanceOf(AbortedError);
    expect((error as AbortedError).cause).toBe(reason);
  });
});

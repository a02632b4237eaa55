import { afterEach, describe, expect, it, vi } from 'vitest';
import { consoleLogger } from './logger.js';

afterEach(() => {
  vi.restoreAllMocks();
});

describe('consoleLogger', () => {
  it('prints the message, then the error, then the other fields', () => {
    const error = vi.spyOn(console, 'error').mockImplementation(() => undefined);
    const warn = vi.spyOn(console, 'warn').mockImplementation(() => undefined);
    const thrown = new Error('boom');
    consoleLogger.error('berth: it failed', { error: thrown, queue: 'q' });
    consoleLogger.error('berth: only an error', { error: thrown });
    consoleLogger.warn('berth: plain');
    consoleLogger.warn('berth: fields', { collection: 'players' });
    expect(error.mock.calls).toStrictEqual([
      ['berth: it failed', thrown, { queue: 'q' }],
      ['berth: only an error', thrown],
    ]);
    expect(warn.mock.calls).toStrictEqual([['berth: plain'], ['berth: fields', { collection: 'players' }]]);
  });
});

import type { LogDetails } from '@berth/core';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { SqliteBackend } from './sqlite-backend.js';

afterEach(() => {
  vi.restoreAllMocks();
});

describe('the logger of a SQLite backend', () => {
  it('hears queue listeners that throw; the console hears nothing', async () => {
    const printed = vi.spyOn(console, 'error').mockImplementation(() => undefined);
    const lines: [string, LogDetails | undefined][] = [];
    const logger = {
      warn: () => undefined,
      error: (message: string, details?: LogDetails) => lines.push([message, details]),
    };
    await using backend = new SqliteBackend({ filename: ':memory:', logger });
    const queue = backend.queue<string>('logged');
    const bug = new Error('listener bug');
    queue.subscribe(() => {
      throw bug;
    });
    await queue.enqueue('a');
    expect(lines).toStrictEqual([['berth: a listener of queue logged events threw', { error: bug, queue: 'logged' }]]);
    expect(printed).not.toHaveBeenCalled();
  });
});

import type { BerthLogger, LogDetails } from '@berth/core';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { DocumentBackend } from './document-backend.js';
import { MemoryBackend } from './memory-backend.js';
import { MemoryDocumentStore } from './memory-document-store.js';

function recording(): BerthLogger & { lines: [string, string, LogDetails | undefined][] } {
  const lines: [string, string, LogDetails | undefined][] = [];
  return {
    lines,
    warn: (message, details) => lines.push(['warn', message, details]),
    error: (message, details) => lines.push(['error', message, details]),
  };
}

afterEach(() => {
  vi.restoreAllMocks();
});

describe('the logger of a memory backend', () => {
  it('hears queue listeners that throw and worker errors without onError; the console hears nothing', async () => {
    const printed = vi.spyOn(console, 'error').mockImplementation(() => undefined);
    const logger = recording();
    const backend = new MemoryBackend({ logger });
    const queue = backend.queue<string>('logged');
    const bug = new Error('listener bug');
    queue.subscribe(() => {
      throw bug;
    });
    await queue.enqueue('a');
    const worker = queue.work(() => undefined, { pollIntervalMs: 5 });
    await new Promise((resolve) => setTimeout(resolve, 30));
    await backend.close();
    await new Promise((resolve) => setTimeout(resolve, 50));
    await worker.close();
    expect(logger.lines[0]).toStrictEqual([
      'error',
      'berth: a listener of queue logged events threw',
      { error: bug, queue: 'logged' },
    ]);
    const workerLine = logger.lines.find(([, message]) => message === 'berth worker on queue logged');
    expect(workerLine?.[2]?.queue).toBe('logged');
    expect(printed).not.toHaveBeenCalled();
  });

  it('of a document backend hears size warnings and failed saves', async () => {
    const printed = vi.spyOn(console, 'error').mockImplementation(() => undefined);
    const warned = vi.spyOn(console, 'warn').mockImplementation(() => undefined);
    const logger = recording();
    const store = new MemoryDocumentStore();
    const backend = new DocumentBackend({ store, warnAtBytes: 10, debounceMs: 60_000, logger });
    await backend.repository<{ id: string; name: string }>('players').insert({ id: 'p1', name: 'a long enough name' });
    await backend.flush();
    expect(logger.lines).toHaveLength(1);
    expect(logger.lines[0]?.[0]).toBe('warn');
    expect(logger.lines[0]?.[1]).toContain('past warnAtBytes (10)');
    expect(logger.lines[0]?.[2]).toMatchObject({ location: store.location, limit: 10 });

    const failure = new Error('disk full');
    store.write = async () => {
      throw failure;
    };
    await backend.repository<{ id: string; name: string }>('players').insert({ id: 'p2', name: 'b' });
    await backend.flush().catch(() => undefined);
    const saveLine = logger.lines.find(([level]) => level === 'error');
    expect(saveLine?.[1]).toContain(`saving ${store.location} failed (attempt 1)`);
    expect(saveLine?.[2]?.error).toBe(failure);
    expect(printed).not.toHaveBeenCalled();
    expect(warned).not.toHaveBeenCalled();
    await backend.close().catch(() => undefined);
  });
});

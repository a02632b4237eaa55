import { MemoryBackend } from '@berth/adapter-memory';
import type { JobEvent } from '@berth/core';
import { describe, expect, it } from 'vitest';
import { eventJson, eventLine, type JobMove, tailQueue } from './queue-tail.js';

const plain = (text: string) => text;

describe('tailQueue, for an adapter whose events stay in their process', () => {
  it('reports each job whose state changed between two polls, a new job as from null, and ends when aborted', async () => {
    const backend = new MemoryBackend();
    const queue = backend.queue<string>('polled');
    const { id: before } = await queue.enqueue('there before the tail');
    const controller = new AbortController();
    const moves: JobMove[] = [];
    let ready = false;
    const done = (async () => {
      for await (const move of tailQueue(queue, 20, controller.signal, () => {
        ready = true;
      })) {
        moves.push(move);
      }
    })();
    while (!ready) await new Promise((resolve) => setTimeout(resolve, 5));
    const { id } = await queue.enqueue('new');
    const until = async (count: number) => {
      const deadline = Date.now() + 5_000;
      while (moves.length < count) {
        if (Date.now() > deadline) throw new Error(`only ${moves.length} moves: ${JSON.stringify(moves)}`);
        await new Promise((resolve) => setTimeout(resolve, 5));
      }
    };
    await until(1);
    const lease = await queue.dequeue();
    expect(lease?.job.id).toBe(before);
    await until(2);
    if (lease !== null) await queue.complete(lease);
    await until(3);
    controller.abort();
    await done;
    expect(moves.map(({ jobId, from, to }) => [jobId, from, to])).toEqual([
      [id, null, 'waiting'],
      [before, 'waiting', 'active'],
      [before, 'active', 'completed'],
    ]);
    await backend.close();
  });
});

describe('event lines', () => {
  const at = new Date('2026-11-27T10:00:00.000Z');
  const error = { attempt: 2, name: 'TypeError', message: `\u001b[2J${'x'.repeat(300)}`, at };

  it('a text line escapes control characters and cuts long messages and values', () => {
    const dead: JobEvent = { type: 'dead', queue: 'q', jobId: 'j1', at, attempt: 2, error };
    const line = eventLine(dead, plain, plain);
    expect(line).toBe(`${at.toISOString()}  j1  dead → dead (attempt 2) "\\u001b[2J${'x'.repeat(196)}…"`);
    const progress: JobEvent = { type: 'progress', queue: 'q', jobId: 'j1', at, attempt: 1, progress: 'y'.repeat(500) };
    expect(eventLine(progress, plain, plain)).toMatch(/progress → active \(attempt 1\) "y{199}…$/);
    const later: JobEvent = { type: 'enqueued', queue: 'q', jobId: 'j2', at, runAt: new Date(at.getTime() + 60_000) };
    expect(eventLine(later, plain, plain)).toBe(
      `${at.toISOString()}  j2  enqueued → waiting (due 2026-11-27T10:01:00.000Z)`,
    );
  });

  it('JSON carries every field, dates as ISO strings and values in document JSON', () => {
    const failed: JobEvent = { type: 'failed', queue: 'q', jobId: 'j1', at, attempt: 2, error, retryAt: at };
    expect(eventJson(failed)).toEqual({
      at: at.toISOString(),
      queue: 'q',
      jobId: 'j1',
      type: 'failed',
      state: 'waiting',
      attempt: 2,
      retryAt: at.toISOString(),
      error: { attempt: 2, name: 'TypeError', message: error.message, at: at.toISOString() },
    });
    const progress: JobEvent = { type: 'progress', queue: 'q', jobId: 'j1', at, attempt: 1, progress: { when: at } };
    expect(eventJson(progress).progress).toEqual({ when: { $date: at.toISOString() } });
    expect(eventJson({ type: 'cancelled', queue: 'q', jobId: 'j3', at })).toEqual({
      at: at.toISOString(),
      queue: 'q',
      jobId: 'j3',
      type: 'cancelled',
      state: 'cancelled',
    });
  });
});

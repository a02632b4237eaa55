import { describe, expect, it } from 'vitest';
import { ConnectionError } from '../errors.js';
import type { JobQueue } from './job-queue.js';
import { startWorker } from './job-worker.js';

// A stand-in queue whose fetches always fail: enough to test how the shared
// worker paces itself. The behaviour on real backends (a closed one stops the
// worker) is a conformance case in @berth/conformance-tests.

function failingQueue(error: Error): { queue: JobQueue<string>; fetches: () => number } {
  let fetches = 0;
  const queue = {
    name: 'failing',
    dequeueMany: async () => {
      fetches += 1;
      throw error;
    },
  } as unknown as JobQueue<string>;
  return { queue, fetches: () => fetches };
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

describe('the shared worker', () => {
  it('backs off after retryable fetch errors instead of polling at the poll interval', async () => {
    const { queue, fetches } = failingQueue(new ConnectionError('engine restarting'));
    const reported: unknown[] = [];
    const worker = startWorker(queue, () => undefined, {
      pollIntervalMs: 5,
      onError: (error) => reported.push(error),
    });
    await sleep(400);
    await worker.close();
    // At a fixed 5 ms that would be ~80 fetches; doubling from 5 ms gives 7 (5+10+…+320 > 400).
    expect(fetches()).toBeGreaterThanOrEqual(3);
    expect(fetches()).toBeLessThanOrEqual(9);
    expect(reported).toHaveLength(fetches());
  });

  it('stops after a non-retryable CONNECTION error and reports it once', async () => {
    const closed = new ConnectionError('backend is closed', { retryable: false });
    const { queue, fetches } = failingQueue(closed);
    const reported: unknown[] = [];
    const worker = startWorker(queue, () => undefined, {
      pollIntervalMs: 1,
      onError: (error) => reported.push(error),
    });
    await sleep(100);
    expect(fetches()).toBe(1);
    expect(reported).toStrictEqual([closed]);
    await worker.close();
  });
});

import { MemoryBackend } from '@berth/adapter-memory';
import type { Capabilities, JobEventListener, JobQueue, QueueBackend, SubscribeOptions } from '@berth/core';
import { describe, expect, it } from 'vitest';
import { type ConformanceOptions, runGroup } from '../harness.js';
import { override } from '../override.js';
import { queueGlobalEventsGroup } from '../queue-groups/global-events-group.js';

// One memory backend, reached through two handles, stands in for two
// processes on one storage: its events are then global by construction.
const memory = new MemoryBackend().capabilities;
const durable = { ...memory.repository, durable: true };
const globalCapabilities: Capabilities = {
  ...memory,
  repository: durable,
  queue: { ...memory.queue, events: 'global' },
};
const processCapabilities: Capabilities = {
  ...memory,
  repository: durable,
  queue: { ...memory.queue, events: 'process' },
};

/** Another handle on the same in-process storage: closing it leaves the first open. */
const handle = (backend: QueueBackend): QueueBackend =>
  override(backend, { connect: async () => undefined, close: async () => undefined });

/** A second handle whose queues subscribe through `subscribe` instead. */
function secondWith(
  subscribe: (queue: JobQueue<unknown>, listener: JobEventListener, options?: SubscribeOptions) => () => void,
): (first: QueueBackend) => QueueBackend {
  return (first) =>
    override(handle(first), {
      queue: (name: string, options?: never) => {
        const queue = first.queue<unknown>(name, options);
        return override(queue, {
          subscribe: (listener: JobEventListener, subscribeOptions?: SubscribeOptions) =>
            subscribe(queue, listener, subscribeOptions),
        });
      },
    });
}

async function failedCases(options: Partial<ConformanceOptions<QueueBackend>>): Promise<string[]> {
  const results = await runGroup(queueGlobalEventsGroup, {
    name: 'global events self-test',
    createBackend: () => handle(new MemoryBackend()),
    capabilities: globalCapabilities,
    openSameStorage: handle,
    ...options,
  });
  expect(results.length).toBeGreaterThan(0);
  return results.filter((result) => !result.passed).map((result) => result.name);
}

describe('the global events group', { timeout: 90_000 }, () => {
  it('passes two handles on one backend, whose events reach both once', async () => {
    expect(await failedCases({})).toEqual([]);
  });

  it("fails an adapter that declares 'global' but delivers nothing of the other backend's changes", async () => {
    const silent = secondWith(() => () => undefined);
    const failed = await failedCases({ openSameStorage: silent });
    expect(failed.length).toBeGreaterThanOrEqual(4);
  });

  it('fails an adapter whose second backend receives each event twice (its own broadcast not dropped)', async () => {
    const twice = secondWith((queue, listener, options) => {
      const first = queue.subscribe(listener, options);
      const second = queue.subscribe(listener, options);
      return () => {
        first();
        second();
      };
    });
    const failed = await failedCases({ openSameStorage: twice });
    expect(failed).toContain(queueGlobalEventsGroup.cases[0]?.name);
    expect(failed).toContain(queueGlobalEventsGroup.cases[1]?.name);
  });

  it('fails an adapter whose remote events keep coming after the subscriber left', async () => {
    const sticky = secondWith((queue, listener, options) => {
      queue.subscribe(listener, options);
      return () => undefined;
    });
    const failed = await failedCases({ openSameStorage: sticky });
    expect(failed).toContain(queueGlobalEventsGroup.cases[2]?.name);
  });

  it("fails an adapter that declares 'process' but delivers another backend's events", async () => {
    const failed = await failedCases({ capabilities: processCapabilities });
    expect(failed).toEqual([queueGlobalEventsGroup.cases.at(-1)?.name]);
  });

  it('fails a global adapter whose run gives no openSameStorage, saying what to pass', async () => {
    const results = await runGroup(queueGlobalEventsGroup, {
      name: 'global events self-test',
      createBackend: () => new MemoryBackend(),
      capabilities: globalCapabilities,
    });
    const failure = results.find((result) => !result.passed);
    expect(String((failure?.error as Error | undefined)?.message)).toMatch(/openSameStorage/);
  });
});

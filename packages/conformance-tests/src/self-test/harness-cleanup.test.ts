import { MemoryBackend } from '@berth/adapter-memory';
import { describe, expect, it } from 'vitest';
import { type CleanupInfo, defineGroup, defineQueueGroup, runGroup } from '../harness.js';

interface Call {
  readonly collections: readonly string[];
  readonly queues: readonly string[];
  readonly backendOpen: boolean;
}

function recorder(): { calls: Call[]; cleanup: (info: CleanupInfo<MemoryBackend>) => Promise<void> } {
  const calls: Call[] = [];
  return {
    calls,
    cleanup: async ({ backend, collections, queues }) => {
      calls.push({ collections: [...collections], queues: [...queues], backendOpen: (await backend.health()).ok });
    },
  };
}

const capabilities = new MemoryBackend().capabilities;

describe('the cleanup hook', () => {
  it('gets exactly the collection and queue names each test used, before the backend closes', async () => {
    const used: string[][] = [];
    const group = defineGroup('cleanup-probe', [
      {
        name: 'uses two repositories, a name of its own and one built from it',
        async run(context) {
          const first = context.repository();
          const second = context.repository();
          const third = context.collectionName('own');
          await first.insert({ id: 'a' });
          await second.insert({ id: 'b' });
          const built = context.reportCollection(`${third}X`);
          await context.backend.repository(third).insert({ id: 'c' });
          await context.backend.repository(built).insert({ id: 'd' });
          used.push([first.name, second.name, third, built]);
        },
      },
      {
        name: 'fails after using one repository',
        async run(context) {
          const only = context.repository();
          used.push([only.name]);
          throw new Error('deliberate');
        },
      },
    ]);
    const { calls, cleanup } = recorder();
    const results = await runGroup(group, { createBackend: () => new MemoryBackend(), capabilities, cleanup });
    expect(results.map((result) => result.passed)).toStrictEqual([true, false]);
    expect(calls).toStrictEqual([
      { collections: used[0], queues: [], backendOpen: true },
      { collections: used[1], queues: [], backendOpen: true },
    ]);
  });

  it('reports queues apart from collections', async () => {
    let names: { queues: string[]; collections: string[] } | undefined;
    const group = defineQueueGroup('cleanup-queue-probe', [
      {
        name: 'uses a queue and a repository',
        async run(context) {
          const queue = context.queue();
          const other = context.queueName('other');
          const orders = context.collectionName('orders');
          await queue.enqueue(1);
          await context.backend.queue(other).enqueue(2);
          names = { queues: [queue.name, other], collections: [orders] };
        },
      },
    ]);
    const { calls, cleanup } = recorder();
    await runGroup(group, { createBackend: () => new MemoryBackend(), capabilities, cleanup });
    expect(calls).toStrictEqual([{ ...names, backendOpen: true }]);
  });

  it('fails a passing test whose cleanup throws, and still closes the backend', async () => {
    const backends: MemoryBackend[] = [];
    const group = defineGroup('cleanup-failure-probe', [{ name: 'passes', run: async () => undefined }]);
    const [result] = await runGroup(group, {
      createBackend: () => {
        const backend = new MemoryBackend();
        backends.push(backend);
        return backend;
      },
      capabilities,
      cleanup: () => {
        throw new Error('cannot drop');
      },
    });
    expect(result?.passed).toBe(false);
    expect((result?.error as Error | undefined)?.message).toBe('cannot drop');
    expect((await backends[0]?.health())?.ok).toBe(false);
  });
});

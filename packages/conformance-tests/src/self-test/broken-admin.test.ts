import { MemoryBackend } from '@berth/adapter-memory';
import type { QueueBackend, RepositoryBackend } from '@berth/core';
import { describe, expect, it } from 'vitest';
import { collectionsGroup } from '../groups/collections-group.js';
import { runGroup } from '../harness.js';
import { override } from '../override.js';
import { queueListGroup } from '../queue-groups/queues-group.js';
import { ForgetfulBackend } from './broken-admin.js';
import { BrokenQueueBackend } from './broken-queues.js';

/** A second handle on the same engine, which the harness may connect and close freely. */
function sameStorage<B extends RepositoryBackend | QueueBackend>(backend: B): B {
  return override(backend, { connect: async () => undefined, close: async () => undefined } as Partial<B>);
}

// The admin cases that need a second backend on the same storage prove they can fail here.
describe('the admin groups reject broken listings', () => {
  it('group "collections" rejects a backend that lists only the collections it wrote itself', async () => {
    const capabilities = new MemoryBackend().capabilities;
    const results = await runGroup(collectionsGroup, {
      name: 'forgetful',
      createBackend: () => new ForgetfulBackend(),
      openSameStorage: (first: RepositoryBackend) => sameStorage(new ForgetfulBackend(first as ForgetfulBackend)),
      capabilities,
    });
    const failed = results.filter((result) => !result.passed).map((result) => result.name);
    expect(failed).toStrictEqual(['lists a collection written through another backend on the same storage']);
  });

  it('group "queues" rejects a backend that leaves out queues holding only schedules', async () => {
    const leavesOutSchedules = async (inner: MemoryBackend) => {
      const names = await inner.queues();
      const holding = await Promise.all(
        names.map(async (name) => Object.values(await inner.queue(name).stats()).some((count) => count > 0)),
      );
      return names.filter((_, index) => holding[index]);
    };
    const results = await runGroup(queueListGroup, {
      name: 'schedule-blind',
      createBackend: () => new BrokenQueueBackend(() => ({}), leavesOutSchedules),
      capabilities: new MemoryBackend().capabilities,
    });
    const failed = results.filter((result) => !result.passed).map((result) => result.name);
    expect(failed).toContain('lists queues with jobs in any state or schedules only, sorted; not a queue only opened');
  });
});

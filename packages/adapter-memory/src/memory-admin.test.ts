import { type DocumentValue, isBerthError, type Job } from '@berth/core';
import { describe, expect, it } from 'vitest';
import { createBackendFromUrl, documentBackendUrlOptions } from './backend-from-url.js';
import { DocumentBackend } from './document-backend.js';
import { MemoryBackend } from './memory-backend.js';
import { MemoryDocumentStore } from './memory-document-store.js';
import { MemoryJobQueue } from './memory-job-queue.js';
import { MemoryQueueState } from './memory-queue-state.js';

const meta = {
  version: 7,
  createdAt: new Date('1999-03-04T05:06:07.891Z'),
  updatedAt: new Date('2001-09-10T11:12:13.457Z'),
};

function finished(id: string, finishedAt: number): Job<DocumentValue> {
  return {
    id,
    queue: 'elsewhere',
    payload: id,
    state: 'completed',
    priority: 0,
    attempts: 1,
    maxAttempts: 3,
    runAt: new Date(finishedAt - 10),
    dedupeKey: undefined,
    leaseMs: 30_000,
    errors: [],
    result: undefined,
    progress: undefined,
    timeoutMs: undefined,
    createdAt: new Date(finishedAt - 10),
    updatedAt: new Date(finishedAt),
    finishedAt: new Date(finishedAt),
    leaseExpiresAt: undefined,
  };
}

function waiting(id: string, runAt: number, priority = 0): Job<DocumentValue> {
  return {
    ...finished(id, runAt),
    state: 'waiting',
    attempts: 0,
    priority,
    runAt: new Date(runAt),
    finishedAt: undefined,
  };
}

describe('document backend administration', () => {
  it('saves imported metadata in the document, and a new backend loads it exactly', async () => {
    const store = new MemoryDocumentStore();
    const first = new DocumentBackend({ store, debounceMs: 60_000 });
    await first.repository('notes').importEntries([{ document: { id: 'n1', title: 'old' }, meta }]);
    await first.close();
    const saved = JSON.parse(new TextDecoder().decode((await store.read())?.data)) as {
      $berth: { meta: { notes: Record<string, unknown> } };
    };
    expect(saved.$berth.meta.notes.n1).toStrictEqual([7, meta.createdAt.getTime(), meta.updatedAt.getTime()]);
    const second = new DocumentBackend({ store });
    await second.connect();
    expect(await second.repository('notes').getEntry('n1')).toStrictEqual({
      document: { id: 'n1', title: 'old' },
      meta,
    });
    await second.close();
  });

  it('lists the collections of the loaded document (loading it first), never another tool key', async () => {
    const store = new MemoryDocumentStore();
    await store.write(
      new TextEncoder().encode(JSON.stringify({ settings: [1, 2], zeta: { a: {} }, Alpha: { b: {} } })),
      {
        ifNoneMatch: '*',
      },
    );
    const backend = new DocumentBackend({ store });
    expect((await backend.collections()).map((info) => info.name)).toStrictEqual(['Alpha', 'zeta']);
    await backend.repository('mid', { indexes: [{ field: 'n', type: 'number', unique: true }] }).insert({ n: 1 });
    expect(await backend.collections()).toStrictEqual([
      { name: 'Alpha', indexes: [], approximateBytes: undefined },
      { name: 'mid', indexes: [{ field: 'n', type: 'number', unique: true }], approximateBytes: undefined },
      { name: 'zeta', indexes: [], approximateBytes: undefined },
    ]);
    expect(await backend.queues()).toStrictEqual([]);
    expect(await backend.migrate()).toStrictEqual({ applied: [] });
    await backend.close();
  });
});

describe('migrate option', () => {
  it('memory:, file: and the document options accept ?migrate=true|false and refuse anything else', async () => {
    await expect(createBackendFromUrl('memory:?migrate=false')).resolves.toBeInstanceOf(MemoryBackend);
    await expect(createBackendFromUrl('memory:?migrate=true')).resolves.toBeInstanceOf(MemoryBackend);
    for (const url of ['memory:?migrate=no', 'memory:?migrate=', 'file:./never.json?migrate=0']) {
      const error = await createBackendFromUrl(url).catch((caught: unknown) => caught);
      expect(isBerthError(error, 'VALIDATION'), url).toBe(true);
    }
    const url = 'file:./data.json?migrate=false';
    expect(documentBackendUrlOptions(url, new URLSearchParams('migrate=false')).migrate).toBe(false);
    expect(() => new MemoryBackend({ migrate: 'no' as unknown as boolean })).toThrow(/migrate must be true or false/);
    expect(() => new DocumentBackend({ store: new MemoryDocumentStore(), migrate: false })).not.toThrow();
  });
});

describe('importJobs on the memory queue state', () => {
  it('puts due jobs on the ready heap and later ones on the delayed heap, claimed in order', async () => {
    const state = new MemoryQueueState('imports');
    const queue = new MemoryJobQueue<DocumentValue>(state);
    const now = Date.now();
    await queue.importJobs([waiting('later', now + 60_000, 9), waiting('low', now - 5), waiting('high', now - 1, 5)]);
    expect(state.heapSizes()).toMatchObject({ ready: 2, delayed: 1 });
    expect(state.counts.waiting).toBe(3);
    expect((await queue.dequeueMany(3)).map((lease) => lease.job.id)).toStrictEqual(['high', 'low']);
  });

  it('links imported finished jobs into the finish order by finishedAt, so retention removes the oldest first', async () => {
    const state = new MemoryQueueState('finished');
    const queue = new MemoryJobQueue<DocumentValue>(state);
    const { id } = await queue.enqueue('fresh');
    await queue.complete(await queue.dequeue().then((lease) => lease ?? expect.unreachable('no lease')), null);
    await queue.importJobs([finished('middle', Date.UTC(2010, 0)), finished('oldest', Date.UTC(2001, 0))]);
    expect(state.oldestFinished('completed')?.id).toBe('oldest');
    expect(await queue.prune({ retention: { completed: { maxCount: 1 } } })).toBe(2);
    expect(state.counts.completed).toBe(1);
    expect((await queue.get(id))?.state).toBe('completed');
  });

  it('an imported waiting job holds its dedupe key; a finished one does not', async () => {
    const state = new MemoryQueueState('dedupe');
    const queue = new MemoryJobQueue<DocumentValue>(state);
    await queue.importJobs([
      { ...finished('done', Date.now()), dedupeKey: 'k' },
      { ...waiting('live', Date.now()), dedupeKey: 'k' },
    ]);
    expect(state.holderOf('k')?.id).toBe('live');
    expect(await queue.enqueue('again', { dedupeKey: 'k' })).toStrictEqual({ id: 'live', deduplicated: true });
  });
});

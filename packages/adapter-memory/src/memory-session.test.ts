import { isBerthError } from '@berth/core';
import { describe, expect, it } from 'vitest';
import { MemoryBackend } from './memory-backend.js';
import { MemoryCollection, MemoryRecord } from './memory-store.js';

interface Item {
  id: string;
  team: string;
  n: number;
}

const record = (id: string): MemoryRecord => new MemoryRecord({ id }, 1, 0, 0);

describe('MemoryCollection change log', () => {
  it('keeps the changes of recent commits and forgets old ones in bounded memory', () => {
    const collection = new MemoryCollection();
    for (let index = 0; index < 5_000; index++) collection.commit([{ before: undefined, after: record(`r${index}`) }]);
    expect(collection.sequence).toBe(5_000);
    expect([...(collection.changesSince(4_990) ?? [])].map((change) => change.after?.document.id)).toStrictEqual(
      Array.from({ length: 10 }, (_, index) => `r${4_990 + index}`),
    );
    expect(collection.changesSince(0)).toBeUndefined();
    expect([...(collection.changesSince(5_000) ?? [])]).toStrictEqual([]);
  });

  it('a commit larger than the change budget is forgotten at once (queries older than it conflict)', () => {
    const collection = new MemoryCollection();
    collection.commit([{ before: undefined, after: record('small') }]);
    collection.commit(
      Array.from({ length: 20_000 }, (_, index) => ({ before: undefined, after: record(`b${index}`) })),
    );
    expect(collection.changesSince(1)).toBeUndefined();
    collection.commit([{ before: undefined, after: record('next') }]);
    expect([...(collection.changesSince(2) ?? [])]).toHaveLength(1);
  });
});

describe('memory transactions conflict per document and per query', () => {
  it('a transaction whose query is older than the change log conflicts (the safe side), a recent one commits', async () => {
    const backend = new MemoryBackend();
    const items = backend.repository<Item>('items');
    await items.insertMany([
      { id: 'a', team: 'red', n: 0 },
      { id: 'b', team: 'blue', n: 0 },
    ]);
    const run = (commitsMeanwhile: number) =>
      backend.transaction(async (tx) => {
        const red = await tx.repository<Item>('items').count({ team: 'red' });
        // Unrelated commits (blue documents) while the transaction runs.
        for (let index = 0; index < commitsMeanwhile; index++) await items.update('b', { $inc: { n: 1 } });
        await tx.repository<Item>('items').update('a', { n: red });
      });
    await run(10);
    const outcome = await run(2_000).catch((error: unknown) => error);
    expect(isBerthError(outcome, 'CONFLICT') && outcome.retryable).toBe(true);
    expect(await items.get('a')).toStrictEqual({ id: 'a', team: 'red', n: 1 });
    await backend.close();
  });

  it('a unique value taken by a concurrent commit makes the later transaction conflict, and its retry is ALREADY_EXISTS', async () => {
    const backend = new MemoryBackend();
    const options = { indexes: [{ field: 'team' as const, type: 'string' as const, unique: true }] };
    const items = backend.repository<Item>('uniq', options);
    let runs = 0;
    const outcome = await backend
      .transaction(
        async (tx) => {
          runs += 1;
          const repository = tx.repository<Item>('uniq', options);
          await repository.insert({ id: 'x', team: 'red', n: 0 });
          if (runs === 1) await items.insert({ id: 'y', team: 'red', n: 0 });
        },
        { retries: 1 },
      )
      .catch((error: unknown) => error);
    expect(runs).toBe(2);
    expect(isBerthError(outcome, 'ALREADY_EXISTS')).toBe(true);
    expect(await items.find()).toStrictEqual([{ id: 'y', team: 'red', n: 0 }]);
    await backend.close();
  });
});

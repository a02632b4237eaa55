import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { SqliteBackend } from './sqlite-backend.js';

const directory = mkdtempSync(join(tmpdir(), 'berth-sqlite-race-'));
afterAll(() => rmSync(directory, { recursive: true, force: true }));

describe('single operations racing a transaction on the same connection', () => {
  // An operation that passed its "no transaction open" check, then resumed
  // a few microtasks later inside a transaction that had just begun, used to
  // commit or roll back with that transaction. Each hop count puts the
  // transaction's BEGIN at a different point of the operation's way in.
  for (const hops of [0, 1, 2, 3, 4, 6, 8]) {
    it(`an insert started ${hops} microtask hop(s) before a failing transaction is kept`, async () => {
      const backend = new SqliteBackend({ filename: join(directory, `race-${hops}.db`) });
      const items = backend.repository('items');
      await items.count();
      const insert = items.insert({ id: 'outside' });
      for (let hop = 0; hop < hops; hop++) await Promise.resolve();
      const failing = backend.transaction(async (tx) => {
        await tx.repository('items').insert({ id: 'inside' });
        throw new Error('roll back');
      });
      await expect(failing).rejects.toThrow('roll back');
      await insert;
      expect((await items.find()).map((item) => item.id)).toEqual(['outside']);
      await backend.close();
    });
  }

  it('a read started just before a transaction never sees its uncommitted writes', async () => {
    const backend = new SqliteBackend({ filename: join(directory, 'dirty.db') });
    const items = backend.repository('items');
    await items.count();
    const read = items.count();
    let release: () => void = () => undefined;
    const paused = new Promise<void>((resolve) => {
      release = resolve;
    });
    const transaction = backend.transaction(async (tx) => {
      await tx.repository('items').insert({ id: 'uncommitted' });
      await paused;
      throw new Error('roll back');
    });
    const counted = await Promise.race([read, new Promise((resolve) => setTimeout(() => resolve('waiting'), 50))]);
    release();
    await expect(transaction).rejects.toThrow('roll back');
    expect(counted === 0 || counted === 'waiting').toBe(true);
    expect(await read).toBe(0);
    await backend.close();
  });
});

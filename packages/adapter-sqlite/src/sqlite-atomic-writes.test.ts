import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { lines, startFixture } from './fixtures/sqlite-children.js';
import { SqliteBackend } from './sqlite-backend.js';

const directory = mkdtempSync(join(tmpdir(), 'berth-sqlite-atomic-'));
afterAll(() => rmSync(directory, { recursive: true, force: true }));

// The conformance suite checks two backends in one process; here the writers
// are real processes, each with its own connection and event loop, as two
// instances of a service would be.
describe('conditional updates and operator upserts across processes', () => {
  it('two processes each making ten concurrent $inc upserts on a missing balance and ten conditional spends lose nothing and never overdraw', async () => {
    const file = join(directory, 'points.db');
    const setup = new SqliteBackend({ filename: file });
    await setup.repository<{ id: string; points: number }>('balances').insert({ id: 'w', points: 100 });
    await setup.close();
    const calls = 10;
    const startAt = Date.now() + 1_500;
    let spent = 0;
    const children = ['a', 'b'].map(() => startFixture('sqlite-points.ts', [file, String(startAt), String(calls)]));
    const codes = await Promise.all(
      children.map((child) =>
        lines(child, (line) => {
          if (line.startsWith('SPENT ')) spent += Number(line.slice('SPENT '.length));
        }),
      ),
    );
    expect(codes).toStrictEqual([0, 0]);
    const check = new SqliteBackend({ filename: file });
    const balances = check.repository<{ id: string; points: number }>('balances');
    expect(await balances.find({ orderBy: 'id' })).toStrictEqual([
      { id: 'p', points: 2 * calls },
      { id: 'w', points: 0 },
    ]);
    expect((await balances.getEntry('p'))?.meta.version).toBe(2 * calls);
    expect(spent).toBe(10);
    await check.close();
  }, 60_000);
});

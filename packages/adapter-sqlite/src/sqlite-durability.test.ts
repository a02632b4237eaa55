import { isBerthError, type Repository } from '@berth/core';
import Database from 'better-sqlite3';
import { describe, expect, it } from 'vitest';
import { openRawDatabase } from './fixtures/raw-database.js';
import { lines, startFixture } from './fixtures/sqlite-children.js';
import { databaseFiles } from './fixtures/temp-files.js';
import { SqliteBackend } from './sqlite-backend.js';

const { newFile } = databaseFiles('durability');

interface Player {
  id: string;
  name: string;
  email?: string;
  score: number;
  joined: Date;
  tags: string[];
}

const OPTIONS = {
  indexes: [
    { field: 'email', type: 'string', unique: true },
    { field: 'score', type: 'number' },
  ],
} as const;

function players(backend: SqliteBackend): Repository<Player> {
  return backend.repository<Player>('players', OPTIONS);
}

describe('durability', () => {
  it('everything written survives close and reopen: documents, metadata, indexes and the unique rule', async () => {
    const file = newFile();
    const first = new SqliteBackend({ filename: file });
    const repository = players(first);
    const joined = new Date('2024-02-29T12:34:56.789Z');
    await repository.insertMany(
      Array.from({ length: 50 }, (_, n) => ({
        id: `p${String(n).padStart(2, '0')}`,
        name: `player ${n}`,
        email: `p${n}@example.com`,
        score: n,
        joined,
        tags: n % 2 === 0 ? ['even'] : [],
      })),
    );
    await repository.update('p01', { $inc: { score: 100 } });
    await repository.update('p01', { name: 'renamed' });
    await repository.replace({ id: 'p02', name: 'replaced', score: -1, joined, tags: ['x'] });
    await repository.delete('p03');
    await first.transaction(async (tx) => {
      await tx.repository<Player>('players', OPTIONS).insert({ id: 'tx', name: 'in tx', score: 7, joined, tags: [] });
    });
    await expect(
      first.transaction(async (tx) => {
        await tx
          .repository<Player>('players', OPTIONS)
          .insert({ id: 'gone', name: 'rolled back', score: 0, joined, tags: [] });
        throw new Error('roll back');
      }),
    ).rejects.toThrow('roll back');
    const before = await repository.find({ orderBy: 'id' });
    const entry = await repository.getEntry('p01');
    await first.close();

    const second = new SqliteBackend({ filename: file });
    const reopened = players(second);
    expect(await reopened.find({ orderBy: 'id' })).toEqual(before);
    expect(await reopened.count()).toBe(50);
    expect(await reopened.get('p03')).toBeNull();
    expect(await reopened.get('gone')).toBeNull();
    expect(await reopened.get('p01')).toMatchObject({ name: 'renamed', score: 101 });
    expect((await reopened.get('p05'))?.joined).toEqual(joined);
    expect(await reopened.getEntry('p01')).toEqual(entry);
    expect(entry?.meta.version).toBe(3);

    const duplicate = await reopened
      .insert({ id: 'dup', name: 'dup', email: 'p10@example.com', score: 0, joined, tags: [] })
      .then(
        () => undefined,
        (error: unknown) => error,
      );
    expect(isBerthError(duplicate, 'ALREADY_EXISTS') && duplicate.field).toBe('email');
    expect(await reopened.explain({ where: { score: { $gte: 40 } } })).toMatchObject({
      strategy: 'index',
      index: 'players.score',
    });
    expect((await reopened.update('p01', { $inc: { score: 1 } })).score).toBe(102);
    expect((await reopened.getEntry('p01'))?.meta).toMatchObject({ version: 4, createdAt: entry?.meta.createdAt });
    await second.close();
  });

  it('every acknowledged insert survives the process being killed (SIGKILL) mid-stream', async () => {
    const file = newFile();
    const acknowledged: string[] = [];
    const child = startFixture('sqlite-writer.ts', [file]);
    const exited = lines(child, (line) => {
      if (!line.startsWith('ACK ')) return;
      acknowledged.push(line.slice(4));
      if (acknowledged.length === 200) child.kill('SIGKILL');
    });
    await exited;
    expect(child.signalCode).toBe('SIGKILL');
    expect(acknowledged.length).toBeGreaterThanOrEqual(200);

    const backend = new SqliteBackend({ filename: file });
    const items = backend.repository<{ id: string; n: number }>('items');
    const stored = new Set((await items.find()).map((item) => item.id));
    for (const id of acknowledged) expect(stored.has(id), id).toBe(true);
    expect(backend.native().pragma('integrity_check', { simple: true })).toBe('ok');
    await backend.close();
  }, 60_000);
});

describe('native()', () => {
  it('returns the open better-sqlite3 Database that the repositories use', async () => {
    const file = newFile();
    const backend = new SqliteBackend({ filename: file });
    const db = backend.native();
    expect(db).toBeInstanceOf(Database);
    expect(db.open).toBe(true);
    expect(db.name).toBe(file);
    expect(backend.native()).toBe(db);

    const items = backend.repository<{ id: string; n: number }>('items');
    await items.insert({ id: 'a', n: 1 });
    expect(db.prepare('SELECT id, doc, version FROM items').all()).toEqual([
      { id: 'a', doc: '{"id":"a","n":1}', version: 1 },
    ]);
    db.prepare(`UPDATE items SET doc = json_set(doc, '$.n', 2) WHERE id = 'a'`).run();
    expect(await items.get('a')).toEqual({ id: 'a', n: 2 });

    await backend.close();
    expect(db.open).toBe(false);
    expect(() => backend.native()).toThrow(expect.objectContaining({ code: 'CONNECTION' }));
  });

  it('returns a database passed in the config, which close() leaves open', async () => {
    const db = openRawDatabase(newFile());
    const backend = new SqliteBackend({ database: db });
    expect(backend.native()).toBe(db);
    await backend.repository('items').insert({ id: 'a' });
    await backend.close();
    expect(db.open).toBe(true);
    expect(db.prepare('SELECT id FROM items').all()).toEqual([{ id: 'a' }]);
    db.close();
  });
});

import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { openRawDatabase } from './fixtures/raw-database.js';
import { SqliteBackend } from './sqlite-backend.js';

const directory = mkdtempSync(join(tmpdir(), 'berth-sqlite-indexes-'));
afterAll(() => rmSync(directory, { recursive: true, force: true }));

describe('declared indexes in the file', () => {
  it('a unique index stored with an older definition (enforced on arrays) is rebuilt to ignore arrays and objects', async () => {
    const filename = join(directory, 'old-unique.db');
    const first = new SqliteBackend({ filename });
    await first.repository('tags', { indexes: [{ field: 'tag', type: 'string', unique: true }] }).count();
    await first.close();
    // The definition Berth used before arrays and objects were left out of unique indexes.
    const db = openRawDatabase(filename);
    db.exec(`DROP INDEX "tags.tag unique"`);
    db.exec(`CREATE UNIQUE INDEX "tags.tag unique" ON "tags" (json_type(doc, '$."tag"'), json_extract(doc, '$."tag"'))
      WHERE json_type(doc, '$."tag"') IS NOT NULL AND json_type(doc, '$."tag"') != 'null'`);
    db.close();
    const second = new SqliteBackend({ filename });
    const tags = second.repository('tags', { indexes: [{ field: 'tag', type: 'string', unique: true }] });
    await tags.insert({ id: 'a', tag: ['x'] });
    await tags.insert({ id: 'b', tag: ['x'] });
    await tags.insert({ id: 'c', tag: 'x' });
    await expect(tags.insert({ id: 'd', tag: 'x' })).rejects.toMatchObject({ code: 'ALREADY_EXISTS', field: 'tag' });
    expect(await tags.count()).toBe(3);
    await second.close();
  });

  it('an index stored by the previous version (on json_type and json_extract) is rebuilt at open on the sort expressions, and then serves a top-N', async () => {
    const filename = join(directory, 'old-order.db');
    const first = new SqliteBackend({ filename });
    const levels = [3, 2 ** 53 + 2, 'x', null, 2 ** 62, -0, 5e-324];
    await first
      .repository('players', { indexes: [{ field: 'level', type: 'number' }] })
      .insertMany(levels.map((level, n) => ({ id: `p${n}`, level })));
    await first.close();
    // Exactly what the previous version created for a declared number index.
    const db = openRawDatabase(filename);
    db.exec(`DROP INDEX "players.level"`);
    db.exec(`CREATE INDEX "players.level" ON "players" (json_type(doc, '$."level"'), json_extract(doc, '$."level"'))`);
    db.close();
    const second = new SqliteBackend({ filename });
    const players = second.repository('players', { indexes: [{ field: 'level', type: 'number' }] });
    const query = { orderBy: { field: 'level', direction: 'desc' as const }, limit: 3 };
    const plan = await players.explain(query);
    expect(plan, plan.detail).toMatchObject({ strategy: 'index', index: 'players.level' });
    expect(plan.detail).not.toMatch(/TEMP B-TREE FOR ORDER BY/);
    expect((await players.find(query)).map((player) => player.id)).toEqual(['p2', 'p4', 'p1']);
    const stored = second.native().prepare(`SELECT sql FROM sqlite_schema WHERE name = 'players.level'`).get() as {
      sql: string;
    };
    expect(stored.sql).toContain('berth_number');
    await second.close();
  });
});

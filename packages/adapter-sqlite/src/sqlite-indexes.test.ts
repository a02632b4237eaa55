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
});

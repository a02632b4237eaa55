import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { openRawDatabase } from './fixtures/raw-database.js';
import { SqliteBackend } from './sqlite-backend.js';

const directory = mkdtempSync(join(tmpdir(), 'berth-sqlite-health-'));
afterAll(() => rmSync(directory, { recursive: true, force: true }));

describe('health() tries a write, not only a read', () => {
  it('is not ok once writes fail for a full database, and ok again once a write commits', async () => {
    const backend = new SqliteBackend({ filename: join(directory, 'full.db') });
    const items = backend.repository('items');
    await items.insert({ id: 'a' });
    expect((await backend.health()).ok).toBe(true);
    const db = backend.native();
    const pages = db.pragma('page_count', { simple: true }) as number;
    // No room to grow: what a full disk does to the database file.
    db.pragma(`max_page_count = ${pages}`);
    await expect(items.insert({ id: 'big', text: 'x'.repeat(100_000) })).rejects.toMatchObject({
      code: 'CONNECTION',
    });
    const full = await backend.health();
    expect(full.ok).toBe(false);
    expect(full.message).toMatch(/full/);
    // Reads go on meanwhile.
    expect(await items.count()).toBe(1);
    db.pragma(`max_page_count = ${pages * 1000}`);
    await items.insert({ id: 'big', text: 'x'.repeat(100_000) });
    expect((await backend.health()).ok).toBe(true);
    await backend.close();
  });

  it('is not ok while another connection holds the write lock past the busy timeout, though reads go on', async () => {
    const filename = join(directory, 'locked.db');
    const backend = new SqliteBackend({ filename, busyTimeoutMs: 50 });
    const items = backend.repository('items');
    await items.insert({ id: 'a' });
    const other = openRawDatabase(filename);
    other.exec('BEGIN IMMEDIATE');
    try {
      expect(await items.count()).toBe(1);
      const locked = await backend.health();
      expect(locked.ok).toBe(false);
      expect(locked.message).toMatch(/locked/);
    } finally {
      other.exec('ROLLBACK');
      other.close();
    }
    expect((await backend.health()).ok).toBe(true);
    await backend.close();
  });

  it('inside a transaction it answers without joining it', async () => {
    const backend = new SqliteBackend({ filename: join(directory, 'tx.db') });
    await expect(
      backend.transaction(async (tx) => {
        await tx.repository('items').insert({ id: 'a' });
        expect((await backend.health()).ok).toBe(true);
        throw new Error('roll back');
      }),
    ).rejects.toThrow('roll back');
    expect(await backend.repository('items').count()).toBe(0);
    await backend.close();
  });
});

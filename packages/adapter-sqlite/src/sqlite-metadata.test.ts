import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { SqliteBackend } from './sqlite-backend.js';

// Metadata lives in INTEGER columns (epoch milliseconds). Filters and sorts on
// $createdAt / $updatedAt compare those columns, so a declared index on them
// serves the query; none exists unless declared (each would slow every write).

interface Session {
  id: string;
  user: string;
}

const directory = mkdtempSync(join(tmpdir(), 'berth-sqlite-metadata-'));
const backend = new SqliteBackend({ filename: join(directory, 'metadata.db') });
afterAll(async () => {
  await backend.close();
  rmSync(directory, { recursive: true, force: true });
});

const sessions = Array.from({ length: 300 }, (_, n) => ({ id: `s${String(n).padStart(3, '0')}`, user: `u${n % 7}` }));
const since = new Date(Date.UTC(2020, 0, 1));

describe('SQLite metadata columns', () => {
  it('compiles $updatedAt conditions and sorts to the updated_at column, which a declared index serves', async () => {
    const indexed = backend.repository<Session>('indexed', { indexes: [{ field: '$updatedAt', type: 'date' }] });
    await indexed.insertMany(sessions);
    const until = new Date(Date.now() + 86_400_000);
    const window = await indexed.explain({ where: { $updatedAt: { $gte: since, $lt: until } } });
    expect(window).toMatchObject({ strategy: 'index', index: 'indexed.$updatedAt' });
    expect(window.detail).toContain('updated_at>? AND updated_at<?');
    const exact = await indexed.explain({ where: { $updatedAt: since } });
    expect(exact).toMatchObject({ strategy: 'index', index: 'indexed.$updatedAt' });
    const newest = await indexed.explain({ orderBy: { field: '$updatedAt', direction: 'desc' }, limit: 10 });
    expect(newest.detail).toContain('SCAN indexed USING INDEX indexed.$updatedAt');
    const newestEntries = await indexed.findEntries({ orderBy: { field: '$updatedAt', direction: 'desc' }, limit: 3 });
    expect(newestEntries.map((entry) => entry.document.id)).toStrictEqual(['s000', 's001', 's002']);
    expect(await indexed.count({ $updatedAt: { $gte: since } })).toBe(300);
    expect(await indexed.count({ $updatedAt: { $lt: since } })).toBe(0);
  });

  it('scans when no index on the metadata is declared', async () => {
    const plain = backend.repository<Session>('plain');
    await plain.insertMany(sessions);
    expect(await plain.explain({ where: { $updatedAt: { $gte: since } } })).toMatchObject({ strategy: 'scan' });
  });

  it('refuses a metadata index of another type, or a unique one, with VALIDATION', async () => {
    for (const index of [
      { field: '$createdAt', type: 'number' as const },
      { field: '$createdAt', type: 'date' as const, unique: true },
      { field: '$version', type: 'number' as const },
    ]) {
      // Refused when the repository is asked for, or at its first operation at the latest.
      await expect(
        (async () => backend.repository('refused', { indexes: [index] }).insert({ id: 'a', user: 'u' }))(),
      ).rejects.toMatchObject({ code: 'VALIDATION' });
    }
  });
});

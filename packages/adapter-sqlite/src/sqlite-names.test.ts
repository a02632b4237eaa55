import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { isBerthError } from '@berth/core';
import { afterAll, describe, expect, it } from 'vitest';
import { SqliteBackend } from './sqlite-backend.js';

const directory = mkdtempSync(join(tmpdir(), 'berth-sqlite-names-'));
afterAll(() => rmSync(directory, { recursive: true, force: true }));

describe('SQLite collection names', () => {
  it('refuses a collection that differs from an existing one only in case, and keeps both apart', async () => {
    const backend = new SqliteBackend({ filename: join(directory, 'case.db') });
    await backend.repository('Users').insert({ id: 'u1', name: 'Ada' });
    const error = await backend
      .repository('users')
      .insert({ id: 'u2' })
      .catch((caught: unknown) => caught);
    expect(isBerthError(error, 'VALIDATION')).toBe(true);
    expect((error as Error).message).toContain('"Users"');
    expect(await backend.repository('Users').count()).toBe(1);
    await backend.close();
  });

  it('names the file in the CONNECTION error for a file that is not a database', async () => {
    const path = join(directory, 'notes.txt');
    writeFileSync(path, 'these are not the pages you are looking for\n'.repeat(200));
    const backend = new SqliteBackend({ filename: path });
    const error = await backend.connect().catch((caught: unknown) => caught);
    expect(isBerthError(error, 'CONNECTION')).toBe(true);
    expect((error as Error).message).toContain(path);
  });
});

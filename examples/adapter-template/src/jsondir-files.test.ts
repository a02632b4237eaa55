import { mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { stringifyDocument } from '@berth/core/adapter';
import { afterAll, expect, it } from 'vitest';
import { JsonDirBackend } from './jsondir-backend.js';
import type { FileWrite } from './jsondir-files.js';

interface Account {
  id: string;
  balance: number;
}

const directory = mkdtempSync(join(tmpdir(), 'berth-jsondir-files-'));
afterAll(() => rmSync(directory, { recursive: true, force: true }));

it('a commit a crash interrupted after its journal was written is finished by the next lock holder', async () => {
  const backend = new JsonDirBackend({ directory });
  const accounts = backend.repository<Account>('accounts');
  await accounts.insertMany([
    { id: 'a', balance: 10 },
    { id: 'b', balance: 0 },
  ]);
  // What a transfer's commit writes before its first rename; the process died there.
  const meta = { version: 2, createdAt: new Date(), updatedAt: new Date() };
  const writes: FileWrite[] = [
    { collection: 'accounts', id: 'a', record: { document: { id: 'a', balance: 0 } as Account, meta, stamp: 's1' } },
    { collection: 'accounts', id: 'b', record: { document: { id: 'b', balance: 10 } as Account, meta, stamp: 's2' } },
  ];
  writeFileSync(join(directory, 'journal.json'), stringifyDocument(writes));
  expect(await accounts.find({ orderBy: 'id' })).toStrictEqual([
    { id: 'a', balance: 0 },
    { id: 'b', balance: 10 },
  ]);
  expect(readdirSync(directory)).not.toContain('journal.json');
  await backend.close();
});

it('stores collections whose names differ only by case in two folders, and a 512-byte id as a fixed-length file name', async () => {
  const backend = new JsonDirBackend({ directory });
  const id = 'é'.repeat(256);
  await backend.repository('Users').insert({ id, name: 'upper' });
  await backend.repository('users').insert({ id, name: 'lower' });
  expect(await backend.repository('Users').get(id)).toStrictEqual({ id, name: 'upper' });
  expect(await backend.repository('users').get(id)).toStrictEqual({ id, name: 'lower' });
  // Two folders whatever the file system: `Users` is spelled `+users`.
  expect(readdirSync(directory)).toEqual(expect.arrayContaining(['+users', 'users']));
  await backend.close();
});

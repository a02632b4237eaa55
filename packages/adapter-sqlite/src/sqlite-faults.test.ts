import { randomBytes } from 'node:crypto';
import { readFileSync, statSync, truncateSync, writeFileSync } from 'node:fs';
import { isBerthError } from '@berth/core';
import Database from 'better-sqlite3';
import { describe, expect, it } from 'vitest';
import { openRawDatabase } from './fixtures/raw-database.js';
import { lines, startFixture, waitForLine } from './fixtures/sqlite-children.js';
import { databaseFiles } from './fixtures/temp-files.js';
import { SqliteBackend } from './sqlite-backend.js';
import { toBerthError } from './sqlite-errors.js';

// Faults on real files: a lock held by another connection or process, a
// document over the size limit, and files that are not (or no longer) a
// usable SQLite database.

const { directory, newFile } = databaseFiles('faults');

/** Runs `work` and returns the error it threw or rejected with, and how long that took. */
async function failure(work: () => unknown): Promise<{ error: unknown; ms: number }> {
  const started = performance.now();
  try {
    await work();
  } catch (error) {
    return { error, ms: performance.now() - started };
  }
  throw new Error('expected a failure');
}

interface Item {
  id: string;
  n?: number;
  text?: string;
}

describe('a database locked by another writer', () => {
  it('another process holding BEGIN IMMEDIATE: writes fail with a retryable TIMEOUT after the busy timeout, reads go on, writes succeed after release', async () => {
    const file = newFile();
    const backend = new SqliteBackend({ filename: file, busyTimeoutMs: 100 });
    const items = backend.repository<Item>('items', { indexes: [{ field: 'n', type: 'number', unique: true }] });
    await items.insert({ id: 'a', n: 1 });

    const locker = startFixture('sqlite-locker.ts', [file]);
    const exited = lines(locker, () => undefined);
    try {
      await waitForLine(locker, 'LOCKED');
      const attempts: (() => unknown)[] = [
        () => items.insert({ id: 'b', n: 2 }),
        () => items.insertMany([{ id: 'c' }, { id: 'd' }]),
        () => items.update('a', { $inc: { n: 10 } }),
        () => items.upsert({ id: 'a', n: 5 }),
        () => items.delete('a'),
        () => items.deleteMany({}),
        () => backend.transaction(async (tx) => tx.repository<Item>('items').insert({ id: 'e' })),
        () => backend.repository<Item>('other').insert({ id: 'x' }),
      ];
      for (const attempt of attempts) {
        const { error, ms } = await failure(attempt);
        expect(isBerthError(error, 'TIMEOUT'), String(error)).toBe(true);
        expect((error as { retryable?: boolean }).retryable).toBe(true);
        expect(String((error as Error).message)).toMatch(/locked/);
        expect(ms).toBeGreaterThanOrEqual(90);
        expect(ms).toBeLessThan(1_000);
      }
      // WAL: readers never wait for the writer.
      expect(await items.find()).toEqual([{ id: 'a', n: 1 }]);
      expect(await items.count()).toBe(1);
      locker.stdin?.write('release\n');
      await waitForLine(locker, 'RELEASED');
    } finally {
      locker.stdin?.end();
      await exited;
    }

    await items.insert({ id: 'b', n: 2 });
    expect((await items.update('a', { $inc: { n: 10 } })).n).toBe(11);
    await backend.repository<Item>('other').insert({ id: 'x' });
    expect(await items.find({ orderBy: 'id' })).toEqual([
      { id: 'a', n: 11 },
      { id: 'b', n: 2 },
    ]);
    await backend.close();
  }, 30_000);

  it('another connection in this process: opening and first use time out too, and nothing is half-applied', async () => {
    const file = newFile();
    const first = new SqliteBackend({ filename: file });
    await first.repository<Item>('items').insert({ id: 'a' });
    await first.close();

    const other = openRawDatabase(file);
    other.exec('BEGIN IMMEDIATE');
    other
      .prepare('INSERT INTO items (id, doc, version, created_at, updated_at) VALUES (?, ?, 1, 0, 0)')
      .run('z', '{"id":"z"}');
    const backend = new SqliteBackend({ filename: file, busyTimeoutMs: 100 });
    try {
      // Migrations take the write lock when the file is opened.
      const opening = await failure(() => backend.connect());
      expect(isBerthError(opening.error, 'TIMEOUT'), String(opening.error)).toBe(true);
      expect(opening.ms).toBeLessThan(1_000);
      const writing = await failure(() => backend.repository<Item>('items').insert({ id: 'b' }));
      expect(isBerthError(writing.error, 'TIMEOUT'), String(writing.error)).toBe(true);
    } finally {
      other.exec('ROLLBACK');
      other.close();
    }
    const items = backend.repository<Item>('items');
    await items.insert({ id: 'b' });
    expect(await items.find({ orderBy: 'id' })).toEqual([{ id: 'a' }, { id: 'b' }]);
    await backend.close();
  });

  it('a read-modify-write that started before the lock is not left half-done', async () => {
    const file = newFile();
    const backend = new SqliteBackend({ filename: file, busyTimeoutMs: 50 });
    const items = backend.repository<Item>('items');
    await items.insertMany([
      { id: 'a', n: 1 },
      { id: 'b', n: 1 },
    ]);
    const other = openRawDatabase(file);
    other.exec('BEGIN IMMEDIATE');
    try {
      const { error } = await failure(() => items.updateMany({}, { $inc: { n: 1 } }));
      expect(isBerthError(error, 'TIMEOUT')).toBe(true);
    } finally {
      other.exec('COMMIT');
      other.close();
    }
    expect(await items.find({ orderBy: 'id' })).toEqual([
      { id: 'a', n: 1 },
      { id: 'b', n: 1 },
    ]);
    expect(await items.updateMany({}, { $inc: { n: 1 } })).toBe(2);
    await backend.close();
  });
});

describe('maxDocumentBytes', () => {
  const LIMIT = 1_000;

  async function limited() {
    const backend = new SqliteBackend({ filename: newFile(), maxDocumentBytes: LIMIT });
    const items = backend.repository<Item>('items');
    return { backend, items };
  }

  /** A document whose JSON text is exactly `bytes` bytes of UTF-8. */
  function documentOf(id: string, bytes: number, character = 'x'): Item {
    const overhead = Buffer.byteLength(JSON.stringify({ id, text: '' }));
    const size = Buffer.byteLength(character);
    return { id, text: character.repeat(Math.floor((bytes - overhead) / size)) };
  }

  async function expectTooBig(work: () => unknown): Promise<void> {
    const { error } = await failure(work);
    expect(isBerthError(error, 'VALIDATION'), String(error)).toBe(true);
    // Core says how big the document is and what the backend stores (its maxDocumentBytes).
    expect(String((error as Error).message)).toMatch(/is \d+ bytes of JSON, more than the \d+ this backend stores/);
  }

  it('a document up to the limit is stored; one byte more is VALIDATION and nothing is written', async () => {
    const { backend, items } = await limited();
    const fits = documentOf('fits', LIMIT);
    expect(Buffer.byteLength(JSON.stringify(fits))).toBe(LIMIT);
    await items.insert(fits);
    expect(await items.get('fits')).toEqual(fits);
    const over = { id: 'fitz', text: `${fits.text}x` };
    expect(Buffer.byteLength(JSON.stringify(over))).toBe(LIMIT + 1);
    await expectTooBig(() => items.insert(over));
    expect(await items.get('fitz')).toBeNull();
    expect(await items.count()).toBe(1);
    await backend.close();
  });

  it('counts bytes, not characters: multi-byte text over the limit is refused', async () => {
    const { backend, items } = await limited();
    const euros = { id: 'euros', text: '€'.repeat(400) }; // 400 characters, 1 200 bytes
    expect(JSON.stringify(euros).length).toBeLessThan(LIMIT);
    await expectTooBig(() => items.insert(euros));
    await expectTooBig(() => items.insert({ id: 'crabs', text: '🦀'.repeat(300) }));
    await items.insert(documentOf('fits', LIMIT, '€'));
    expect(await items.count()).toBe(1);
    await backend.close();
  });

  it('bulk writes with one document over the limit write nothing', async () => {
    const { backend, items } = await limited();
    await expectTooBig(() => items.insertMany([{ id: 'a' }, documentOf('big', LIMIT + 1), { id: 'c' }]));
    await expectTooBig(() => items.upsertMany([{ id: 'a' }, documentOf('big', LIMIT * 2)]));
    expect(await items.count()).toBe(0);
    await backend.close();
  });

  it('updates, replaces and upserts that would grow a document over the limit leave it unchanged', async () => {
    const { backend, items } = await limited();
    await items.insertMany([
      { id: 'a', text: 'small' },
      { id: 'b', text: 'small' },
    ]);
    const big = 'x'.repeat(LIMIT);
    await expectTooBig(() => items.update('a', { text: big }));
    await expectTooBig(() => items.update('a', { $set: { text: big } }));
    await expectTooBig(() => items.replace({ id: 'a', text: big }));
    await expectTooBig(() => items.upsert({ id: 'a', text: big }));
    await expectTooBig(() => items.updateMany({}, { $set: { text: big } }));
    await expectTooBig(() =>
      backend.transaction(async (tx) => tx.repository<Item>('items').update('b', { text: big })),
    );
    const entry = await items.getEntry('a');
    expect(entry?.document).toEqual({ id: 'a', text: 'small' });
    expect(entry?.meta.version).toBe(1);
    expect(await items.get('b')).toEqual({ id: 'b', text: 'small' });
    await backend.close();
  });

  it('defaults to 16 MiB', async () => {
    const backend = new SqliteBackend({ filename: newFile() });
    const items = backend.repository<Item>('items');
    await items.insert({ id: 'large', text: 'x'.repeat(8 * 1024 * 1024) });
    await expectTooBig(() => items.insert({ id: 'huge', text: 'x'.repeat(16 * 1024 * 1024) }));
    expect(await items.count()).toBe(1);
    await backend.close();
  });
});

describe('files that are not a usable SQLite database', () => {
  async function expectConnectionError(work: () => unknown): Promise<Error> {
    const { error } = await failure(work);
    expect(isBerthError(error, 'CONNECTION'), String(error)).toBe(true);
    expect((error as { retryable?: boolean }).retryable).toBe(false);
    expect((error as Error).message).toMatch(/not a usable SQLite database/);
    return error as Error;
  }

  it('a text file gives a CONNECTION error on connect, on every use, and in health()', async () => {
    const file = newFile();
    writeFileSync(file, 'name,score\nada,10\n'.repeat(200));
    const backend = new SqliteBackend({ filename: file });
    const error = await expectConnectionError(() => backend.connect());
    expect(error.message).toMatch(/not a database/);
    expect((error.cause as { code?: string }).code).toBe('SQLITE_NOTADB');
    await expectConnectionError(() => backend.repository('items').get('a'));
    const health = await backend.health();
    expect(health.ok).toBe(false);
    expect(health.message).toMatch(/not a usable SQLite database/);
    await backend.close();
    // The file was never written to.
    expect(readFileSync(file, 'utf8')).toBe('name,score\nada,10\n'.repeat(200));
  });

  it('a file of random bytes gives a CONNECTION error on connect', async () => {
    const file = newFile();
    writeFileSync(file, randomBytes(64 * 1024));
    const backend = new SqliteBackend({ filename: file });
    await expectConnectionError(() => backend.connect());
    await backend.close();
  });

  it('a real database cut in half gives a CONNECTION error, not wrong answers', async () => {
    const file = newFile();
    const writer = new SqliteBackend({ filename: file });
    const items = writer.repository<Item>('items', { indexes: [{ field: 'n', type: 'number' }] });
    await items.insertMany(Array.from({ length: 3_000 }, (_, n) => ({ id: `i${n}`, n, text: 'x'.repeat(200) })));
    await writer.close();
    truncateSync(file, Math.floor(statSync(file).size / 2));

    const backend = new SqliteBackend({ filename: file });
    await expectConnectionError(async () => {
      await backend.connect();
      await backend.repository<Item>('items').count();
    });
    await expectConnectionError(() => backend.repository<Item>('items').find({ where: { n: { $gt: 10 } } }));
    await backend.close();
  });

  it('a database with overwritten pages gives a CONNECTION error when they are read', async () => {
    const file = newFile();
    const writer = new SqliteBackend({ filename: file });
    const items = writer.repository<Item>('items');
    await items.insertMany(Array.from({ length: 2_000 }, (_, n) => ({ id: `i${n}`, n, text: 'x'.repeat(200) })));
    await writer.close();
    const bytes = readFileSync(file);
    // The middle of the file holds the items table's pages.
    const pageSize = bytes.readUInt16BE(16);
    const middle = Math.floor(bytes.length / pageSize / 2);
    randomBytes(pageSize * 8).copy(bytes, pageSize * middle);
    writeFileSync(file, bytes);

    const backend = new SqliteBackend({ filename: file });
    await expectConnectionError(async () => {
      await backend.connect();
      await backend.repository<Item>('items').find();
    });
    await backend.close();
  });

  it('an index that no longer matches its table (SQLITE_CORRUPT_INDEX, an extended code) is a CONNECTION error too', async () => {
    const file = newFile();
    const writer = new SqliteBackend({ filename: file });
    await writer.repository<Item>('items', { indexes: [{ field: 'n', type: 'number' }] }).insertMany([
      { id: 'a', n: 1 },
      { id: 'b', n: 2 },
    ]);
    await writer.close();
    // Point the index at another field behind SQLite's back: its entries no longer match the rows.
    const raw = openRawDatabase(file);
    raw.unsafeMode(true);
    raw.pragma('writable_schema = ON');
    raw.prepare(`UPDATE sqlite_master SET sql = replace(sql, '$."n"', '$."m"') WHERE name = 'items.n'`).run();
    raw.close();

    const backend = new SqliteBackend({ filename: file });
    const error = await expectConnectionError(() => backend.repository<Item>('items').delete('a'));
    expect((error.cause as { code?: string }).code).toBe('SQLITE_CORRUPT_INDEX');
    await backend.close();
  });

  it('maps extended result codes by their primary code', () => {
    const cases: [string, string][] = [
      ['SQLITE_BUSY_TIMEOUT', 'TIMEOUT'],
      ['SQLITE_BUSY_SNAPSHOT', 'TIMEOUT'],
      ['SQLITE_LOCKED_SHAREDCACHE', 'TIMEOUT'],
      ['SQLITE_IOERR_SHORT_READ', 'CONNECTION'],
      ['SQLITE_IOERR_FSYNC', 'CONNECTION'],
      ['SQLITE_CANTOPEN_ISDIR', 'CONNECTION'],
      ['SQLITE_READONLY_DBMOVED', 'CONNECTION'],
      ['SQLITE_CORRUPT_VTAB', 'CONNECTION'],
      ['SQLITE_CONSTRAINT_UNIQUE', 'ALREADY_EXISTS'],
      ['SQLITE_CONSTRAINT_PRIMARYKEY', 'ALREADY_EXISTS'],
    ];
    for (const [code, expected] of cases) {
      const mapped = toBerthError(new Database.SqliteError(`engine says ${code}`, code));
      expect((mapped as { code?: string }).code, code).toBe(expected);
      expect((mapped as Error).cause).toBeInstanceOf(Database.SqliteError);
    }
    const check = new Database.SqliteError('CHECK constraint failed', 'SQLITE_CONSTRAINT_CHECK');
    expect(toBerthError(check)).toBe(check);
  });

  it('a directory in place of the file is a CONNECTION error', async () => {
    const backend = new SqliteBackend({ filename: directory });
    const { error } = await failure(() => backend.connect());
    expect(isBerthError(error, 'CONNECTION'), String(error)).toBe(true);
    await backend.close();
  });
});

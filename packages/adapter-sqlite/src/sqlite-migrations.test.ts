import { isBerthError } from '@berth/core';
import type Database from 'better-sqlite3';
import { describe, expect, it } from 'vitest';
import { openRawDatabase } from './fixtures/raw-database.js';
import { lines, startFixture, waitForLine } from './fixtures/sqlite-children.js';
import { databaseFiles } from './fixtures/temp-files.js';
import { SqliteBackend } from './sqlite-backend.js';
import { SqliteConnection } from './sqlite-connection.js';
import { registerJsonFunctions } from './sqlite-json.js';
import { MIGRATIONS, runMigrations, type SqliteMigration } from './sqlite-migrations.js';

const { newFile } = databaseFiles('migrations');

interface AppliedRow {
  version: number;
  name: string;
  applied_at: number;
}

function applied(db: Database.Database): AppliedRow[] {
  return db.prepare('SELECT version, name, applied_at FROM _berth_migrations ORDER BY version').all() as AppliedRow[];
}

function tables(db: Database.Database): string[] {
  return (
    db.prepare(`SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name`).all() as { name: string }[]
  ).map((row) => row.name);
}

describe('runMigrations', () => {
  it('applies every migration once, in order; running it again applies nothing', () => {
    const connection = new SqliteConnection(openRawDatabase(newFile()));
    try {
      expect(runMigrations(connection)).toBe(MIGRATIONS.length);
      const first = applied(connection.db);
      expect(first.map((row) => row.version)).toEqual(MIGRATIONS.map((migration) => migration.version));
      expect(first.map((row) => row.name)).toEqual(MIGRATIONS.map((migration) => migration.name));
      const schema = connection.db.prepare('SELECT type, name, sql FROM sqlite_master ORDER BY name').all();

      expect(runMigrations(connection)).toBe(0);
      expect(runMigrations(connection)).toBe(0);
      expect(applied(connection.db)).toEqual(first);
      expect(connection.db.prepare('SELECT type, name, sql FROM sqlite_master ORDER BY name').all()).toEqual(schema);
    } finally {
      connection.close();
    }
  });

  it('versions are unique and increasing, and every step is named', () => {
    const versions = MIGRATIONS.map((migration) => migration.version);
    expect(versions).toEqual([...versions].sort((a, b) => a - b));
    expect(new Set(versions).size).toBe(versions.length);
    for (const migration of MIGRATIONS) {
      expect(Number.isSafeInteger(migration.version) && migration.version >= 1).toBe(true);
      expect(migration.name).not.toBe('');
      expect(migration.statements.length).toBeGreaterThan(0);
    }
  });

  it('a file opened by the backend has nothing left to apply', async () => {
    const file = newFile();
    const backend = new SqliteBackend({ filename: file });
    await backend.connect();
    await backend.close();
    const connection = new SqliteConnection(openRawDatabase(file));
    try {
      expect(runMigrations(connection)).toBe(0);
      expect(applied(connection.db).map((row) => row.version)).toEqual(
        MIGRATIONS.map((migration) => migration.version),
      );
    } finally {
      connection.close();
    }
  });

  it('applies only the new steps of a longer list, out-of-order declarations sorted', () => {
    const connection = new SqliteConnection(openRawDatabase(newFile()));
    try {
      runMigrations(connection);
      const extra: SqliteMigration[] = [
        { version: 1002, name: 'second extra', statements: ['ALTER TABLE extra ADD COLUMN b TEXT'] },
        { version: 1001, name: 'first extra', statements: ['CREATE TABLE extra (a TEXT)'] },
      ];
      expect(runMigrations(connection, [...MIGRATIONS, ...extra])).toBe(2);
      expect(
        applied(connection.db)
          .slice(-2)
          .map((row) => row.name),
      ).toEqual(['first extra', 'second extra']);
      expect(
        (connection.db.prepare('PRAGMA table_info(extra)').all() as { name: string }[]).map((row) => row.name),
      ).toEqual(['a', 'b']);
      expect(runMigrations(connection, [...MIGRATIONS, ...extra])).toBe(0);
    } finally {
      connection.close();
    }
  });

  it('a step that fails applies nothing of the run: earlier new steps are rolled back too', () => {
    const connection = new SqliteConnection(openRawDatabase(newFile()));
    try {
      runMigrations(connection);
      const before = tables(connection.db);
      const broken: SqliteMigration[] = [
        { version: 2001, name: 'fine', statements: ['CREATE TABLE fine (a TEXT)'] },
        {
          version: 2002,
          name: 'half broken',
          statements: ['CREATE TABLE half (a TEXT)', 'INSERT INTO no_such_table VALUES (1)'],
        },
      ];
      expect(() => runMigrations(connection, [...MIGRATIONS, ...broken])).toThrow(/no_such_table/);
      expect(tables(connection.db)).toEqual(before);
      expect(applied(connection.db).map((row) => row.version)).toEqual(
        MIGRATIONS.map((migration) => migration.version),
      );
      expect(connection.db.inTransaction).toBe(false);
    } finally {
      connection.close();
    }
  });

  it('waits for the write lock of another connection instead of racing it', () => {
    const file = newFile();
    const holder = openRawDatabase(file);
    holder.pragma('journal_mode = WAL');
    holder.exec('BEGIN IMMEDIATE');
    const db = openRawDatabase(file, { timeout: 50 });
    const connection = new SqliteConnection(db);
    try {
      let error: unknown;
      try {
        runMigrations(connection);
      } catch (caught) {
        error = caught;
      }
      expect(isBerthError(error, 'TIMEOUT'), String(error)).toBe(true);
      holder.exec('COMMIT');
      expect(runMigrations(connection)).toBe(MIGRATIONS.length);
    } finally {
      connection.close();
      holder.close();
    }
  });
});

describe('several processes opening one fresh file at once', () => {
  it('all succeed, each migration is recorded once and each collection created once', async () => {
    const file = newFile();
    const names = ['p1', 'p2', 'p3', 'p4'];
    const outcomes: string[] = [];
    const children = names.map((name) => startFixture('sqlite-opener.ts', [file, name]));
    let ready = 0;
    const exits = children.map((child) =>
      lines(child, (line) => {
        if (line === 'READY') {
          ready += 1;
          if (ready === children.length) for (const each of children) each.stdin?.write('go\n');
        } else outcomes.push(line);
      }),
    );
    expect(await Promise.all(exits)).toEqual(names.map(() => 0));
    expect(outcomes).toEqual(names.map(() => 'OK'));

    const db = openRawDatabase(file, { readonly: true });
    try {
      const rows = applied(db);
      expect(rows.map((row) => row.version)).toEqual(MIGRATIONS.map((migration) => migration.version));
      expect(db.prepare('SELECT name FROM _berth_collections').all()).toEqual([{ name: 'items' }]);
      expect((db.prepare('SELECT id FROM items ORDER BY id').all() as { id: string }[]).map((row) => row.id)).toEqual(
        names,
      );
      expect(
        db
          .prepare(`SELECT name FROM sqlite_master WHERE type = 'index' AND tbl_name = 'items' AND sql IS NOT NULL`)
          .all(),
      ).toEqual([{ name: 'items.n unique' }]);
      expect(db.pragma('journal_mode', { simple: true })).toBe('wal');
      // Declared indexes hold berth_number (exact numbers): checking them recomputes it.
      registerJsonFunctions(db);
      expect(db.pragma('integrity_check', { simple: true })).toBe('ok');
    } finally {
      db.close();
    }
  }, 60_000);
});

describe('a new file whose write lock another process holds while it is still in rollback mode', () => {
  // SQLite answers `journal_mode = WAL` with SQLITE_BUSY at once then, not
  // after the busy timeout: four processes opening one new file failed 13
  // times in 100 before opening retried the switch.
  it('opening waits for the lock, up to the busy timeout, instead of failing at once', async () => {
    const file = newFile();
    const locker = startFixture('sqlite-locker.ts', [file, '400']);
    const exit = lines(locker, () => undefined);
    await waitForLine(locker, 'LOCKED');
    const backend = new SqliteBackend({ filename: file, busyTimeoutMs: 20_000 });
    try {
      const started = performance.now();
      await backend.connect();
      expect(performance.now() - started).toBeGreaterThan(100);
      expect(backend.native().pragma('journal_mode', { simple: true })).toBe('wal');
    } finally {
      await backend.close();
    }
    expect(await exit).toBe(0);
  }, 30_000);

  it('and fails with TIMEOUT once the busy timeout has passed', async () => {
    const file = newFile();
    const locker = startFixture('sqlite-locker.ts', [file]);
    const exit = lines(locker, () => undefined);
    await waitForLine(locker, 'LOCKED');
    const backend = new SqliteBackend({ filename: file, busyTimeoutMs: 300 });
    try {
      const started = performance.now();
      const error = await backend.connect().catch((caught: unknown) => caught);
      expect(isBerthError(error, 'TIMEOUT'), String(error)).toBe(true);
      expect(performance.now() - started).toBeGreaterThanOrEqual(290);
    } finally {
      locker.stdin?.write('release\n');
      await backend.close();
    }
    expect(await exit).toBe(0);
  }, 30_000);
});

describe('pragmas', () => {
  it('WAL journal, the configured busy timeout, NORMAL sync and foreign keys on every connection the backend opens', async () => {
    const backend = new SqliteBackend({ filename: newFile(), busyTimeoutMs: 1_234 });
    const db = backend.native();
    expect(db.pragma('journal_mode', { simple: true })).toBe('wal');
    expect(db.pragma('busy_timeout', { simple: true })).toBe(1_234);
    expect(db.pragma('synchronous', { simple: true })).toBe(1); // NORMAL
    expect(db.pragma('foreign_keys', { simple: true })).toBe(1);
    await backend.close();
  });

  it('defaults the busy timeout to 5 s', async () => {
    const backend = new SqliteBackend({ filename: newFile() });
    expect(backend.native().pragma('busy_timeout', { simple: true })).toBe(5_000);
    await backend.close();
  });

  it('applies the pragmas and migrations to a database it was given, and leaves it open on close', async () => {
    const db = openRawDatabase(newFile());
    const backend = new SqliteBackend({ database: db, busyTimeoutMs: 250 });
    expect(backend.native()).toBe(db);
    expect(db.pragma('journal_mode', { simple: true })).toBe('wal');
    expect(db.pragma('busy_timeout', { simple: true })).toBe(250);
    expect(applied(db).length).toBe(MIGRATIONS.length);
    await backend.close();
    expect(db.open).toBe(true);
    db.close();
  });
});

// The admin additions on SQLite: migrate() and `migrate: false`, collections() from the registries,
// importEntries / importJobs atomicity across a SIGKILL, and names checked before any SQL.
import type { ChildProcess } from 'node:child_process';
import { statSync } from 'node:fs';
import { setTimeout as sleep } from 'node:timers/promises';
import { createBackend, isBerthError, type Job, type SchemaError } from '@berth/core';
import { afterEach, describe, expect, it } from 'vitest';
import { openRawDatabase } from './fixtures/raw-database.js';
import { lines, startFixture, waitForLine } from './fixtures/sqlite-children.js';
import { databaseFiles } from './fixtures/temp-files.js';
import { createBackendFromUrl, SqliteBackend } from './sqlite-backend.js';
import { MIGRATIONS } from './sqlite-migrations.js';

const { newFile } = databaseFiles('admin');
const ALL_MIGRATIONS = MIGRATIONS.map((migration) => `${migration.version} ${migration.name}`);

const children: ChildProcess[] = [];
afterEach(() => {
  for (const child of children.splice(0))
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
});

/** A fixture child whose output lines are collected. */
function start(file: string, mode: string, count?: number) {
  const child = startFixture('sqlite-admin-child.ts', [file, mode, ...(count === undefined ? [] : [String(count)])]);
  children.push(child);
  const output: string[] = [];
  const exited = lines(child, (line) => output.push(line));
  return { child, output, exited };
}

async function rejection(promise: Promise<unknown>): Promise<unknown> {
  return promise.then(
    () => new Error('expected a rejection'),
    (error: unknown) => error,
  );
}

function migrationRows(file: string): { version: number }[] {
  const db = openRawDatabase(file, { readonly: true });
  try {
    return db.prepare('SELECT version FROM _berth_migrations ORDER BY version').all() as { version: number }[];
  } finally {
    db.close();
  }
}

describe('migrate() and migrate: false', () => {
  it('a fresh file with migrate: false: connect fails with SCHEMA naming `berth migrate`; migrate() applies all, then connect works', async () => {
    const file = newFile();
    const backend = new SqliteBackend({ filename: file, migrate: false });
    const error = await rejection(backend.connect());
    expect(isBerthError(error, 'SCHEMA'), String(error)).toBe(true);
    expect((error as Error).message).toContain('berth migrate');
    expect((error as Error).message).toContain(`${MIGRATIONS.length} schema migrations are pending`);
    expect((error as SchemaError).pendingMigrations).toEqual(ALL_MIGRATIONS);
    expect((error as SchemaError).schemaMissing).toBe(true);
    expect((error as { retryable?: boolean }).retryable).toBe(false);
    // Operations fail the same way: nothing was created behind the check.
    expect(isBerthError(await rejection(backend.repository('notes').get('a')), 'SCHEMA')).toBe(true);

    expect((await backend.migrate()).applied).toEqual(ALL_MIGRATIONS);
    expect((await backend.migrate()).applied).toEqual([]);
    await backend.connect();
    await backend.repository('notes').insert({ id: 'a' });
    await backend.close();

    const again = new SqliteBackend({ filename: file, migrate: false });
    await again.connect();
    expect(await again.repository('notes').get('a')).toEqual({ id: 'a' });
    expect((await again.migrate()).applied).toEqual([]);
    await again.close();
  });

  it('only the steps a file lacks are pending, and migrate() names exactly those', async () => {
    const file = newFile();
    const db = openRawDatabase(file);
    db.exec(
      `CREATE TABLE _berth_migrations (version INTEGER PRIMARY KEY NOT NULL, name TEXT NOT NULL, applied_at INTEGER NOT NULL)`,
    );
    for (const migration of MIGRATIONS.slice(0, 3)) {
      db.transaction(() => {
        for (const statement of migration.statements) db.exec(statement);
        db.prepare('INSERT INTO _berth_migrations VALUES (?, ?, 0)').run(migration.version, migration.name);
      })();
    }
    db.close();
    const backend = new SqliteBackend({ filename: file, migrate: false });
    const error = await rejection(backend.connect());
    expect(isBerthError(error, 'SCHEMA')).toBe(true);
    expect((error as Error).message).toContain(ALL_MIGRATIONS.slice(3).join(', '));
    expect((error as SchemaError).pendingMigrations).toEqual(ALL_MIGRATIONS.slice(3));
    expect((error as SchemaError).schemaMissing).toBe(false);
    expect((await backend.migrate()).applied).toEqual(ALL_MIGRATIONS.slice(3));
    await backend.close();
  });

  it('the default still migrates on connect', async () => {
    const file = newFile();
    const backend = new SqliteBackend({ filename: file });
    await backend.connect();
    expect((await backend.migrate()).applied).toEqual([]);
    await backend.close();
    expect(migrationRows(file).length).toBe(MIGRATIONS.length);
  });

  it('a file migrated by a newer release: SCHEMA saying to upgrade, from every connect and from migrate()', async () => {
    const file = newFile();
    await new SqliteBackend({ filename: file }).close();
    const first = new SqliteBackend({ filename: file });
    await first.connect();
    await first.close();
    const db = openRawDatabase(file);
    db.prepare(`INSERT INTO _berth_migrations VALUES (999, 'from the future', 0)`).run();
    db.close();

    const checking = new SqliteBackend({ filename: file, migrate: false });
    const error = await rejection(checking.connect());
    expect(isBerthError(error, 'SCHEMA'), String(error)).toBe(true);
    expect((error as Error).message).toMatch(/upgrade Berth/);
    const migrating = await rejection(checking.migrate());
    expect(isBerthError(migrating, 'SCHEMA')).toBe(true);
    expect((migrating as Error).message).toMatch(/upgrade Berth/);
    await checking.close();
    // The default (migrating) connect refuses it too, as every engine does: this release cannot tell what the newer one changed.
    const defaulted = new SqliteBackend({ filename: file });
    const refused = await rejection(defaulted.connect());
    expect(isBerthError(refused, 'SCHEMA')).toBe(true);
    expect((refused as Error).message).toMatch(/upgrade Berth/);
    await defaulted.close();
  });

  it('?migrate=false on the URL and in createBackend; anything but true/false is VALIDATION, in the URL and the config', async () => {
    const file = newFile();
    const backend = createBackendFromUrl(`sqlite:${file}?migrate=false`);
    expect(isBerthError(await rejection(backend.connect()), 'SCHEMA')).toBe(true);
    expect((await backend.migrate()).applied).toEqual(ALL_MIGRATIONS);
    await backend.connect();
    await backend.close();
    const viaCore = await createBackend(`sqlite:${file}?migrate=true&busyTimeoutMs=100`);
    await viaCore.close();
    expect(isBerthError(await rejection(createBackend(`sqlite:${newFile()}?migrate=false`)), 'SCHEMA')).toBe(true);
    for (const value of ['0', 'no', 'FALSE', '']) {
      expect(() => createBackendFromUrl(`sqlite:${newFile()}?migrate=${value}`)).toThrow(
        expect.objectContaining({ code: 'VALIDATION' }),
      );
    }
    for (const value of ['false', 0, null]) {
      expect(() => new SqliteBackend({ filename: newFile(), migrate: value as never })).toThrow(
        expect.objectContaining({ code: 'VALIDATION', path: 'migrate' }),
      );
    }
  });

  it('two processes calling migrate() on one fresh file at once: both succeed, each migration applied once', async () => {
    const file = newFile();
    const racers = [start(file, 'migrate'), start(file, 'migrate')];
    await Promise.all(racers.map(({ child }) => waitForLine(child, 'READY')));
    for (const { child } of racers) child.stdin?.write('go\n');
    expect(await Promise.all(racers.map(({ exited }) => exited))).toEqual([0, 0]);
    const applied = racers.map(({ output }) => {
      const line = output.find((each) => each.startsWith('APPLIED '));
      expect(line, output.join('\n')).toBeDefined();
      return JSON.parse((line as string).slice('APPLIED '.length)) as string[];
    });
    // One of them applied everything, the other found nothing left (the migration lock).
    expect([...applied].sort((a, b) => a.length - b.length)).toEqual([[], ALL_MIGRATIONS]);
    expect(migrationRows(file).map((row) => row.version)).toEqual(MIGRATIONS.map((migration) => migration.version));
  }, 60_000);
});

describe('collections()', () => {
  const indexes = [
    { field: 'email', type: 'string', unique: true },
    { field: 'level', type: 'number' },
    {
      fields: [
        { field: 'team', type: 'string' },
        { field: 'joinedAt', type: 'date' },
      ],
    },
    {
      fields: [
        { field: 'a.b', type: 'boolean' },
        { field: 'c', type: 'number' },
      ],
      unique: true,
      name: 'byAc',
    },
    { field: '$updatedAt', type: 'date' },
  ] as const;

  it('lists what another backend on the file wrote, with its indexes as declared, after reopening too', async () => {
    const file = newFile();
    const writer = new SqliteBackend({ filename: file });
    await writer.repository('players', { indexes }).insert({ id: 'p', email: 'a@b.c', level: 1 });
    await writer.repository('Zeta').insert({ id: 'z' });
    await writer.repository('aB').insert({ id: 'e' });
    // Opened, never written: no table, not listed.
    writer.repository('ghost');
    const reader = new SqliteBackend({ filename: file });
    const listed = await reader.collections();
    expect(listed.map((collection) => collection.name)).toEqual(['Zeta', 'aB', 'players']);
    expect(listed[2]?.indexes).toEqual(indexes);
    expect(listed[0]?.indexes).toEqual([]);
    for (const collection of listed) {
      expect(collection.approximateBytes).toBeGreaterThan(0);
      expect(Number.isSafeInteger(collection.approximateBytes)).toBe(true);
    }
    await writer.close();
    await reader.close();
    const reopened = new SqliteBackend({ filename: file });
    expect((await reopened.collections()).find((collection) => collection.name === 'players')?.indexes).toEqual(
      indexes,
    );
    await reopened.close();
  });

  it('grows with the data, lists no internal table, and reads inside a transaction', async () => {
    await using backend = new SqliteBackend({ filename: newFile() });
    const notes = backend.repository('notes');
    await notes.insert({ id: 'a' });
    await backend.queue('jobs').enqueue({ n: 1 });
    const before = (await backend.collections())[0]?.approximateBytes ?? 0;
    await notes.insertMany(Array.from({ length: 500 }, (_, n) => ({ id: `n${n}`, text: 'y'.repeat(1_000) })));
    const after = await backend.collections();
    expect(after.map((collection) => collection.name)).toEqual(['notes']);
    expect(after[0]?.approximateBytes).toBeGreaterThan(before + 400_000);
    const inside = await backend.transaction(async (tx) => {
      await tx.repository('fresh').insert({ id: 'f' });
      return backend.collections();
    });
    expect(inside.map((collection) => collection.name)).toEqual(['fresh', 'notes']);
  });

  it('an index stored before its declaration was recorded (an older release) is recorded when a repository declares it', async () => {
    const file = newFile();
    const declared = [{ field: 'email', type: 'string', unique: true } as const];
    {
      await using backend = new SqliteBackend({ filename: file });
      await backend.repository('legacy', { indexes: declared }).insert({ id: 'l', email: 'x' });
    }
    const db = openRawDatabase(file);
    db.exec('DELETE FROM _berth_indexes');
    db.close();
    {
      await using backend = new SqliteBackend({ filename: file });
      // Not recorded: not listed, though SQLite keeps the index.
      expect((await backend.collections())[0]?.indexes).toEqual([]);
      await backend.repository('legacy', { indexes: declared }).get('l');
    }
    await using reopened = new SqliteBackend({ filename: file });
    expect((await reopened.collections())[0]?.indexes).toEqual(declared);
  });

  it('the last declaration of an index wins (same SQLite index, another declared type)', async () => {
    const file = newFile();
    {
      await using backend = new SqliteBackend({ filename: file });
      await backend.repository('events', { indexes: [{ field: 'at', type: 'number' }] }).insert({ id: 'e', at: 1 });
    }
    await using backend = new SqliteBackend({ filename: file });
    await backend.repository('events', { indexes: [{ field: 'at', type: 'date' }] }).count();
    expect((await backend.collections())[0]?.indexes).toEqual([{ field: 'at', type: 'date' }]);
  });

  it('a table dropped by hand is not listed, nor its indexes', async () => {
    const file = newFile();
    await using backend = new SqliteBackend({ filename: file });
    await backend.repository('gone', { indexes: [{ field: 'x', type: 'number' }] }).insert({ id: 'g' });
    const db = openRawDatabase(file);
    db.exec('DROP TABLE gone');
    db.close();
    expect(await backend.collections()).toEqual([]);
  });

  it('a bad signal is VALIDATION, an aborted one ABORTED', async () => {
    await using backend = new SqliteBackend({ filename: newFile() });
    await expect(backend.collections({ signal: 'nope' as never })).rejects.toMatchObject({ code: 'VALIDATION' });
    await expect(backend.collections({ signal: AbortSignal.abort() })).rejects.toMatchObject({ code: 'ABORTED' });
    await expect(backend.queues({ signal: AbortSignal.abort() })).rejects.toMatchObject({ code: 'ABORTED' });
  });
});

describe('names are checked before any SQL', () => {
  const hostile = ['x"; DROP TABLE _berth_jobs; --', "a' OR '1'='1", '_berth_jobs', 'sqlite_master', 'a b'];

  it('importEntries and the queue paths refuse hostile names with VALIDATION; nothing is created', async () => {
    const file = newFile();
    await using backend = new SqliteBackend({ filename: file });
    const meta = { version: 1, createdAt: new Date(0), updatedAt: new Date(0) };
    for (const name of hostile) {
      let error: unknown;
      try {
        await backend.repository(name).importEntries([{ document: { id: 'a' }, meta }]);
      } catch (caught) {
        error = caught;
      }
      expect(isBerthError(error, 'VALIDATION'), `${name}: ${String(error)}`).toBe(true);
      // Queue names are values in rows, never spliced into SQL; still, only identifiers pass.
      if (name !== 'sqlite_master' && name !== '_berth_jobs') {
        expect(() => backend.queue(name)).toThrow(expect.objectContaining({ code: 'VALIDATION' }));
      }
    }
    expect(await backend.collections()).toEqual([]);
    expect(await backend.queues()).toEqual([]);
    const db = openRawDatabase(file, { readonly: true });
    expect(db.prepare(`SELECT count(*) AS n FROM _berth_jobs`).get()).toEqual({ n: 0 });
    db.close();
  });
});

describe('importEntries on SQLite', () => {
  it('entries that swap unique values between ids import (only the final state must hold the index)', async () => {
    await using backend = new SqliteBackend({ filename: newFile() });
    const users = backend.repository<{ id: string; email: string }>('users', {
      indexes: [{ field: 'email', type: 'string', unique: true }],
    });
    await users.insertMany([
      { id: 'a', email: 'one' },
      { id: 'b', email: 'two' },
    ]);
    const meta = { version: 3, createdAt: new Date(5), updatedAt: new Date(6) };
    expect(
      await users.importEntries([
        { document: { id: 'a', email: 'two' }, meta },
        { document: { id: 'b', email: 'one' }, meta },
      ]),
    ).toBe(2);
    expect(await users.find({ orderBy: { field: 'id' } })).toEqual([
      { id: 'a', email: 'two' },
      { id: 'b', email: 'one' },
    ]);
    // A clash with a row left alone: ALREADY_EXISTS naming the field, and nothing of the batch kept.
    const error = await rejection(
      users.importEntries([
        { document: { id: 'c', email: 'three' }, meta },
        { document: { id: 'd', email: 'one' }, meta },
      ]),
    );
    expect(error).toMatchObject({ code: 'ALREADY_EXISTS', field: 'email' });
    expect(await users.count()).toBe(2);
  });

  it('keeps numbers past 2^53 and -0 / subnormals as the write paths do, and metadata columns exact', async () => {
    const file = newFile();
    await using backend = new SqliteBackend({ filename: file });
    const items = backend.repository('items');
    const createdAt = new Date(-62_135_596_800_000); // year 1
    const updatedAt = new Date(253_402_300_799_999); // the last ms of 9999
    await items.importEntries([
      {
        document: { id: '𝄞 é', big: 2 ** 53 + 2, tiny: 5e-324, huge: 1e308, zero: -0, __proto__x: 1 },
        meta: { version: Number.MAX_SAFE_INTEGER, createdAt, updatedAt },
      },
    ]);
    const entry = await items.getEntry('𝄞 é');
    expect(entry?.document).toEqual({ id: '𝄞 é', big: 2 ** 53 + 2, tiny: 5e-324, huge: 1e308, zero: 0, __proto__x: 1 });
    expect(entry?.meta).toEqual({ version: Number.MAX_SAFE_INTEGER, createdAt, updatedAt });
    const db = openRawDatabase(file, { readonly: true });
    expect(db.prepare('SELECT version, created_at, updated_at FROM items').get()).toEqual({
      version: Number.MAX_SAFE_INTEGER,
      created_at: createdAt.getTime(),
      updated_at: updatedAt.getTime(),
    });
    db.close();
  });

  it('SIGKILL inside a transaction that imported: nothing of it is kept', async () => {
    const file = newFile();
    {
      await using backend = new SqliteBackend({ filename: file });
      await backend.repository('bulk').insert({ id: 'kept', n: -1, text: '' });
    }
    const child = start(file, 'import-tx', 5_000);
    await waitForLine(child.child, 'READY');
    child.child.stdin?.write('go\n');
    await waitForLine(child.child, 'IMPORTED');
    child.child.kill('SIGKILL');
    await child.exited;
    expect(child.child.signalCode).toBe('SIGKILL');
    await using backend = new SqliteBackend({ filename: file });
    const bulk = backend.repository('bulk');
    expect(await bulk.count()).toBe(1);
    expect(await bulk.get('kept')).toEqual({ id: 'kept', n: -1, text: '' });
  }, 60_000);

  it('SIGKILL while one big importEntries call is writing (its WAL growing): none of it is kept, the file is sound', async () => {
    // 20 000 entries of 2 KiB: about 45 MB of pages, which spill into the WAL
    // before the commit frame; a kill at any point before that frame keeps nothing.
    const COUNT = 20_000;
    for (const megabytes of [2, 10, 25]) {
      const file = newFile();
      const child = start(file, 'import', COUNT);
      await waitForLine(child.child, 'READY');
      child.child.stdin?.write('go\n');
      await waitForLine(child.child, 'START');
      const walStart = statSync(`${file}-wal`).size;
      while (statSync(`${file}-wal`).size < walStart + megabytes * 1024 * 1024 && child.child.exitCode === null) {
        await sleep(1);
      }
      child.child.kill('SIGKILL');
      await child.exited;
      expect(child.output).not.toContain('DONE');
      expect(child.child.signalCode).toBe('SIGKILL');
      await using backend = new SqliteBackend({ filename: file });
      expect(await backend.repository('bulk').count()).toBe(0);
      expect(backend.native().pragma('integrity_check', { simple: true })).toBe('ok');
      // The file takes the same import afterwards, whole.
      const meta = { version: 7, createdAt: new Date(1), updatedAt: new Date(2) };
      expect(await backend.repository('bulk').importEntries([{ document: { id: 'after' }, meta }])).toBe(1);
    }
  }, 120_000);
});

describe('importJobs and queues() on SQLite', () => {
  const at = new Date(Date.UTC(2020, 4, 5, 6, 7, 8, 9));
  const job = (id: string, fields: Partial<Job> = {}): Job =>
    ({
      id,
      queue: 'elsewhere',
      payload: { id },
      state: 'waiting',
      priority: 0,
      attempts: 0,
      maxAttempts: 3,
      runAt: at,
      leaseMs: 30_000,
      errors: [],
      createdAt: at,
      updatedAt: at,
      ...fields,
    }) as Job;

  it('SIGKILL while one big importJobs call is writing: no job and no count of it is kept', async () => {
    const COUNT = 20_000;
    for (const megabytes of [2, 20]) {
      const file = newFile();
      const child = start(file, 'import-jobs', COUNT);
      await waitForLine(child.child, 'READY');
      child.child.stdin?.write('go\n');
      await waitForLine(child.child, 'START');
      const walStart = statSync(`${file}-wal`).size;
      while (statSync(`${file}-wal`).size < walStart + megabytes * 1024 * 1024 && child.child.exitCode === null) {
        await sleep(1);
      }
      child.child.kill('SIGKILL');
      await child.exited;
      expect(child.output).not.toContain('DONE');
      await using backend = new SqliteBackend({ filename: file });
      const queue = backend.queue('bulk');
      expect(await queue.stats()).toEqual({ waiting: 0, active: 0, completed: 0, dead: 0, cancelled: 0 });
      expect(await backend.queues()).toEqual([]);
      expect(backend.native().prepare('SELECT count(*) AS n FROM _berth_jobs').get()).toEqual({ n: 0 });
      expect(backend.native().pragma('integrity_check', { simple: true })).toBe('ok');
    }
  }, 120_000);

  it('job ids are unique in the whole file: an id another queue holds is skipped', async () => {
    await using backend = new SqliteBackend({ filename: newFile() });
    const [{ id }] = [await backend.queue('first').enqueue({ n: 1 })];
    expect(await backend.queue('second').importJobs([job(id), job('fresh')])).toEqual({ imported: 1, skipped: 1 });
    expect(await backend.queue('second').get(id)).toBeNull();
    expect(await backend.queues()).toEqual(['first', 'second']);
  });

  it('the counts table moves with the imported jobs, and an idle worker of the backend is woken at once', async () => {
    const file = newFile();
    await using backend = new SqliteBackend({ filename: file });
    const queue = backend.queue('wake');
    const seen: string[] = [];
    const worker = queue.work(
      async (each) => {
        seen.push(each.id);
      },
      // A poll far longer than the test: only the in-process wake-up can start the job in time.
      { pollIntervalMs: 60_000 },
    );
    await sleep(50);
    await queue.importJobs([
      job('done', { state: 'completed', finishedAt: at, attempts: 1, result: { ok: true } }),
      job('due'),
    ]);
    const started = performance.now();
    while (seen.length === 0 && performance.now() - started < 5_000) await sleep(5);
    await worker.close();
    expect(seen).toEqual(['due']);
    const db = openRawDatabase(file, { readonly: true });
    const counts = db
      .prepare(`SELECT state, count FROM _berth_job_counts WHERE queue = 'wake' AND count > 0 ORDER BY state`)
      .all();
    const rows = db
      .prepare(`SELECT state, count(*) AS count FROM _berth_jobs WHERE queue = 'wake' GROUP BY state ORDER BY state`)
      .all();
    db.close();
    expect(counts).toEqual(rows);
    expect(counts).toEqual([{ state: 'completed', count: 2 }]);
  });

  it('queues() lists queues with schedules only, and drops a queue once purged', async () => {
    await using backend = new SqliteBackend({ filename: newFile() });
    await backend.queue('timed').putSchedule({
      name: 'tick',
      spec: { everyMs: 60_000 },
      payload: {},
      jobOptions: {},
      missed: 'once',
      overlap: 'allow',
      paused: false,
      nextRunAt: new Date(Date.now() + 60_000),
    });
    await backend.queue('old').importJobs([job('gone', { state: 'dead', attempts: 3, finishedAt: at })]);
    expect(await backend.queues()).toEqual(['old', 'timed']);
    expect(await backend.queue('old').purge({ finishedBefore: new Date(), states: ['dead'] })).toBe(1);
    expect(await backend.queues()).toEqual(['timed']);
  });
});

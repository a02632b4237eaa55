import { existsSync } from 'node:fs';
import { readdir, readFile, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { HeadObjectCommand, ListObjectsV2Command } from '@aws-sdk/client-s3';
import Database from 'better-sqlite3';
import { Redis } from 'ioredis';
import pg from 'pg';
import { describe, expect, inject, it } from 'vitest';
import { createTestBucket, rawClient } from '../../../adapter-s3-document/src/fixtures/s3-endpoint.js';
import { MIGRATIONS } from '../../../adapter-sqlite/src/sqlite-migrations.js';
import { ADVERSARIAL_IDS, seedCollections } from '../fixtures/adversarial.js';
import { POSTGRES_URL, REDIS_URL, withBackend } from '../fixtures/engines.js';
import { runCli } from '../fixtures/run-cli.js';
import { useScratch } from '../fixtures/scratch.js';

// A dry run must leave both backends exactly as they were: no schema created
// or migrated, no SQLite file created, no key or object written.

const scratch = useScratch('berth-cli-dry-run-');

/** A migrated SQLite file holding the adversarial `users` and `count` plain documents, and one queued job. */
async function seededSqlite(name: string, count: number): Promise<string> {
  const url = `sqlite:${join(scratch.directory, name)}`;
  await withBackend(url, async (backend) => {
    await seedCollections(backend, count);
    await backend.queue('mail').enqueue({ to: 'ada@example.com' });
  });
  return url;
}

/**
 * The raw better-sqlite3 databases this file opens, kept for the life of the
 * process: from Node 24.19 on, V8 collecting one aborts the process (see
 * packages/adapter-sqlite/src/sqlite-node24-workaround.ts). Only `exec` is
 * used on them, which makes no statement object that could be collected.
 */
const heldDatabases: Database.Database[] = [];

/** A SQLite file left at schema version 3 by an older release (WAL, as Berth leaves its files). */
function olderSqlite(name: string): string {
  const file = join(scratch.directory, name);
  const db = new Database(file);
  heldDatabases.push(db);
  db.exec('PRAGMA journal_mode = WAL');
  db.exec(
    'CREATE TABLE _berth_migrations (version INTEGER PRIMARY KEY NOT NULL, name TEXT NOT NULL, applied_at INTEGER NOT NULL)',
  );
  for (const migration of MIGRATIONS.slice(0, 3)) {
    const name = `'${migration.name.replaceAll("'", "''")}'`;
    db.exec(
      `BEGIN; ${migration.statements.join(';\n')}; INSERT INTO _berth_migrations VALUES (${migration.version}, ${name}, 0); COMMIT;`,
    );
  }
  db.close();
  return `sqlite:${file}`;
}

/** The file's bytes and modification time, and the names beside it (a -wal or -shm left behind shows). */
async function snapshot(file: string): Promise<{ bytes: Buffer; mtimeMs: number; siblings: string[] }> {
  const directory = join(file, '..');
  return {
    bytes: await readFile(file),
    mtimeMs: (await stat(file)).mtimeMs,
    siblings: (await readdir(directory)).sort(),
  };
}

const ALL_MIGRATIONS = MIGRATIONS.map((migration) => `${migration.version} ${migration.name}`);

describe('berth copy --dry-run writes nothing', () => {
  it('to a PostgreSQL schema that does not exist: reports it empty, to be set up, and creates nothing', async () => {
    const source = await seededSqlite('to-pg.db', 30);
    const target = scratch.postgresUrl();
    const schema = new URL(target).searchParams.get('schema') as string;
    const run = await runCli(['copy', source, target, '--dry-run', '--queues'], { cwd: scratch.directory });
    const client = new pg.Client({ connectionString: POSTGRES_URL });
    await client.connect();
    try {
      const schemas = await client.query('SELECT 1 FROM information_schema.schemata WHERE schema_name = $1', [schema]);
      expect(schemas.rowCount).toBe(0);
      const tables = await client.query('SELECT 1 FROM information_schema.tables WHERE table_schema = $1', [schema]);
      expect(tables.rowCount).toBe(0);
    } finally {
      await client.end();
    }
    expect((await readdir(scratch.directory)).filter((name) => name.startsWith('berth-copy-'))).toEqual([]);
    expect(run.stderr).toBe('');
    expect(run.code).toBe(0);
    expect(run.stdout).toContain('plain: 30 documents, indexes group:number+name:string; target empty');
    expect(run.stdout).toContain('queue mail: 1 waiting, 0 dead; target empty');
    expect(run.stdout).toMatch(/target has no Berth schema yet: the copy would set it up \(migrations \d+ pending: 1 /);
    expect(run.stdout).toContain('dry run: nothing was written');
  });

  it('to a SQLite file that does not exist: reports it would be created, and creates neither it nor its folder', async () => {
    const source = await seededSqlite('to-missing.db', 5);
    const before = await snapshot(source.slice('sqlite:'.length));
    const folder = join(scratch.directory, 'not-there');
    const run = await runCli(['copy', source, `sqlite:${join(folder, 'app.db')}`, '--dry-run', '--json'], {
      cwd: scratch.directory,
    });
    expect(existsSync(folder)).toBe(false);
    expect(await snapshot(source.slice('sqlite:'.length))).toEqual(before);
    expect(run.stderr).toBe('');
    expect(run.code).toBe(0);
    const report = JSON.parse(run.stdout);
    expect(report.targetSchema).toEqual({ exists: false, pendingMigrations: [], empty: true });
    expect(report.collections.map((c: { name: string; targetCountBefore: number }) => c.targetCountBefore)).toEqual([
      0, 0,
    ]);
  });

  it('to a SQLite file at the current version: counts what it holds, and leaves its bytes and mtime alone', async () => {
    const source = await seededSqlite('to-current-source.db', 12);
    const target = await seededSqlite('to-current-target.db', 3);
    const before = await snapshot(target.slice('sqlite:'.length));
    const run = await runCli(['copy', source, target, '--dry-run', '--queues'], { cwd: scratch.directory });
    expect(run.stderr).toBe('');
    expect(run.code).toBe(0);
    expect(run.stdout).toContain('plain: 12 documents, indexes group:number+name:string; target holds 3 documents');
    expect(run.stdout).toContain('queue mail: 1 waiting, 0 dead; target holds 1 jobs and schedules');
    expect(run.stdout).not.toContain('schema');
    expect(await snapshot(target.slice('sqlite:'.length))).toEqual(before);
  });

  it('to a SQLite file an older release left: cannot count it before migrating, and leaves it unchanged', async () => {
    const source = await seededSqlite('to-older-source.db', 4);
    const target = olderSqlite('to-older-target.db');
    const before = await snapshot(target.slice('sqlite:'.length));
    const run = await runCli(['copy', source, target, '--dry-run'], { cwd: scratch.directory });
    expect(await snapshot(target.slice('sqlite:'.length))).toEqual(before);
    expect(run.stderr).toBe('');
    expect(run.code).toBe(0);
    expect(run.stdout).toContain(
      'plain: 4 documents, indexes group:number+name:string; target not countable before migrating',
    );
    expect(run.stdout).toContain(
      `target schema is behind: the copy would migrate it first (migrations ${ALL_MIGRATIONS.length - 3} pending: ${ALL_MIGRATIONS.slice(3).join(', ')})`,
    );
  });

  it('from a SQLite file an older release left: exit 5 saying to run berth migrate, and the source unchanged', async () => {
    const source = olderSqlite('older-source.db');
    const before = await snapshot(source.slice('sqlite:'.length));
    const target = `sqlite:${join(scratch.directory, 'older-source-target.db')}`;
    const run = await runCli(['copy', source, target, '--dry-run'], { cwd: scratch.directory });
    expect(await snapshot(source.slice('sqlite:'.length))).toEqual(before);
    expect(existsSync(target.slice('sqlite:'.length))).toBe(false);
    expect(run.code).toBe(5);
    expect(run.stderr).toContain(`${ALL_MIGRATIONS.length - 3} schema migrations are pending`);
    expect(run.stderr).toContain(`berth migrate '${source}'`);
    expect(run.stdout).toBe('');
  });

  it('from and to PostgreSQL URLs that say migrate=true: still creates no schema, and never prints the password', async () => {
    // Trust authentication ignores the password; the URL still carries one.
    const withSecret = (url: string) =>
      `${url.replace(/^postgres:\/\/([^:@/]+)@/, 'postgres://$1:s3cret-pw@')}&migrate=true`;
    const target = scratch.postgresUrl();
    const source = scratch.postgresUrl();
    const schemas = [target, source].map((url) => new URL(url).searchParams.get('schema') as string);
    expect(withSecret(source)).toContain(':s3cret-pw@');
    const seeded = await seededSqlite('to-pg-migrate-true.db', 2);
    const toPostgres = await runCli(['copy', seeded, withSecret(target), '--dry-run'], { cwd: scratch.directory });
    const fromPostgres = await runCli(['copy', withSecret(source), 'memory:', '--dry-run'], { cwd: scratch.directory });
    const client = new pg.Client({ connectionString: POSTGRES_URL });
    await client.connect();
    try {
      const found = await client.query('SELECT 1 FROM information_schema.schemata WHERE schema_name = ANY($1)', [
        schemas,
      ]);
      expect(found.rowCount).toBe(0);
    } finally {
      await client.end();
    }
    expect(toPostgres.stderr).toBe('');
    expect(toPostgres.code).toBe(0);
    expect(toPostgres.stdout).toContain('target has no Berth schema yet');
    expect(fromPostgres.code).toBe(5);
    expect(fromPostgres.stderr).toContain('schema migrations are pending');
    expect(fromPostgres.stderr).toContain('run `berth migrate <from-url>` first');
    expect(`${toPostgres.stdout}${toPostgres.stderr}${fromPostgres.stdout}${fromPostgres.stderr}`).not.toContain(
      's3cret-pw',
    );
  });

  it.each([
    { copy: 'a dry run', flags: ['--dry-run'] },
    { copy: 'a real copy', flags: [] },
  ])('from a SQLite file that does not exist: a usage error, and no file is created ($copy)', async ({ flags }) => {
    const source = join(scratch.directory, 'no-such-source.db');
    const run = await runCli(['copy', `sqlite:${source}`, 'memory:', ...flags], { cwd: scratch.directory });
    expect(existsSync(source)).toBe(false);
    expect(run.code).toBe(2);
    expect(run.stderr).toContain('does not exist');
  });

  it('to Redis (collections and queues there): the same keys with the same values afterwards', async () => {
    const source = await seededSqlite('to-redis.db', 8);
    const target = scratch.redisUrl();
    await withBackend(target, async (backend) => {
      await backend.repository('plain').insert({ id: 'already', group: 1, name: 'there' });
      await backend.queue('mail').enqueue({ to: 'grace@example.com' }, { delayMs: 60_000 });
    });
    const prefix = decodeURIComponent(new URL(target).searchParams.get('keyPrefix') as string);
    const client = new Redis(REDIS_URL);
    try {
      const dumpAll = async () => {
        const keys = (await client.keys(`${prefix}*`)).sort();
        return Promise.all(keys.map(async (key) => [key, (await client.dumpBuffer(key))?.toString('hex')]));
      };
      const before = await dumpAll();
      expect(before.length).toBeGreaterThan(0);
      const run = await runCli(['copy', source, target, '--dry-run', '--queues'], { cwd: scratch.directory });
      expect(run.stderr).toBe('');
      expect(run.code).toBe(0);
      expect(run.stdout).toContain(
        `users: ${ADVERSARIAL_IDS.length} documents, indexes email:string unique; target empty`,
      );
      expect(run.stdout).toContain('plain: 8 documents, indexes group:number+name:string; target holds 1 documents');
      expect(run.stdout).toContain('queue mail: 1 waiting, 0 dead; target holds 1 jobs and schedules');
      expect(await dumpAll()).toEqual(before);
    } finally {
      client.disconnect();
    }
  });

  it('to an S3 document that does not exist: the bucket stays empty', async () => {
    const s3 = inject('s3');
    const bucket = await createTestBucket('cli-dry-run');
    const env = { AWS_ACCESS_KEY_ID: s3.accessKeyId, AWS_SECRET_ACCESS_KEY: s3.secretAccessKey };
    const target = `s3://${bucket}/copy.json?endpoint=${encodeURIComponent(s3.endpoint)}&region=us-east-1&forcePathStyle=true&debounceMs=0&flushOnExit=false`;
    const source = await seededSqlite('to-s3.db', 6);
    const run = await runCli(['copy', source, target, '--dry-run'], { cwd: scratch.directory, env });
    // The AWS SDK warns about old Node versions on stderr; Berth itself says nothing.
    expect(run.stderr).not.toContain('berth:');
    expect(run.code).toBe(0);
    expect(run.stdout).toContain('plain: 6 documents, indexes group:number+name:string; target empty');
    const client = rawClient(s3);
    try {
      const listed = await client.send(new ListObjectsV2Command({ Bucket: bucket }));
      expect(listed.KeyCount ?? 0).toBe(0);
      await expect(client.send(new HeadObjectCommand({ Bucket: bucket, Key: 'copy.json' }))).rejects.toThrow();
    } finally {
      client.destroy();
    }
  });
});

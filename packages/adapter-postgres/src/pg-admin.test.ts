import type { ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { startQueueProcess } from '@berth/conformance-tests/processes';
import { type Backend, createBackend, isBerthError, type Job, type SchemaError } from '@berth/core';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { dropSchemas, POSTGRES_URL, requirePostgres, uniqueSchema } from './fixtures/pg-test-database.js';
import { createBackendFromUrl, PostgresBackend } from './pg-backend.js';
import { channelOf } from './queue/pg-queue-listener.js';

const schemas: string[] = [];
const started = new Set<ChildProcess>();
function schema(label: string): string {
  const name = uniqueSchema(label);
  schemas.push(name);
  return name;
}

beforeAll(requirePostgres);
afterAll(async () => {
  for (const child of started) if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  await dropSchemas(schemas);
});

const child = fileURLToPath(new URL('./fixtures/pg-admin-child.ts', import.meta.url));

/** Runs the child fixture to its end; resolves with its process. */
function startChild(args: readonly string[], name: string) {
  const process = startQueueProcess(child, args, name);
  started.add(process.process);
  return process;
}

async function sql<R extends object>(text: string, values: unknown[] = []): Promise<R[]> {
  const client = new pg.Client({ connectionString: POSTGRES_URL });
  await client.connect();
  try {
    return (await client.query<R>(text, values)).rows;
  } finally {
    await client.end();
  }
}

async function caught(work: Promise<unknown>): Promise<unknown> {
  return work.then(
    () => undefined,
    (error: unknown) => error,
  );
}

const ALL_MIGRATIONS = [
  '1 collections and their declared indexes',
  '2 index declarations keep their order',
  '3 document versions are bigint',
  '101 job queue: hot and finished job tables, counters, schedules',
  '102 job queue: the hot table counts live jobs (no UPDATE trigger); stats count active jobs by the expiry index',
  '103 job queue: finishing a job fires one count trigger (the insert into _berth_jobs_done), not two',
];

describe('PostgresBackend.migrate and migrate: false', () => {
  it('with migrate: false refuses a fresh schema with SCHEMA until migrate() ran, which lists every migration once', async () => {
    const name = schema('migrate_false');
    await using backend = new PostgresBackend({ connectionString: POSTGRES_URL, schema: name, migrate: false });
    const error = await caught(backend.connect());
    expect(isBerthError(error, 'SCHEMA')).toBe(true);
    expect((error as Error).message).toContain(`${ALL_MIGRATIONS.length} schema migrations are pending`);
    expect((error as Error).message).toContain('berth migrate <url>');
    // Tools (berth copy --dry-run) read which, and that no Berth schema exists at all, without parsing the message.
    expect((error as SchemaError).pendingMigrations).toEqual(ALL_MIGRATIONS);
    expect((error as SchemaError).schemaMissing).toBe(true);
    // Operations fail the same way, and nothing was created.
    expect(isBerthError(await caught(backend.repository('notes').get('a')), 'SCHEMA')).toBe(true);
    expect(await sql('SELECT 1 FROM pg_namespace WHERE nspname = $1', [name])).toEqual([]);

    expect(await backend.migrate()).toEqual({ applied: ALL_MIGRATIONS });
    expect(await backend.migrate()).toEqual({ applied: [] });
    await backend.connect();
    await backend.repository('notes').insert({ id: 'a' });
    expect(await backend.repository('notes').get('a')).toEqual({ id: 'a' });
    // Another backend with migrate: false now finds the schema current.
    await using second = new PostgresBackend({ connectionString: POSTGRES_URL, schema: name, migrate: false });
    await second.connect();
    // One step unrecorded: only it is pending, and the schema is there.
    const last = ALL_MIGRATIONS.at(-1) as string;
    await sql(`DELETE FROM "${name}"._berth_migrations WHERE version = $1`, [Number.parseInt(last, 10)]);
    await using behind = new PostgresBackend({ connectionString: POSTGRES_URL, schema: name, migrate: false });
    const partial = await caught(behind.connect());
    expect((partial as SchemaError).pendingMigrations).toEqual([last]);
    expect((partial as SchemaError).schemaMissing).toBe(false);
  });

  it('reads migrate from the URL (true or false) and refuses any other value or type', async () => {
    const name = schema('migrate_url');
    const refused = createBackendFromUrl(`${POSTGRES_URL}?schema=${name}&migrate=false`);
    expect(isBerthError(await caught(refused.connect()), 'SCHEMA')).toBe(true);
    await refused.close();
    // createBackend connects: it fails the same way.
    const through = createBackend(`${POSTGRES_URL}?migrate=false&schema=${name}`, {
      adapters: [await import('./index.js')],
    });
    expect(isBerthError(await caught(through), 'SCHEMA')).toBe(true);
    const migrating = createBackendFromUrl(`${POSTGRES_URL}?schema=${name}&migrate=true`);
    await migrating.connect();
    await migrating.close();
    for (const value of ['no', '0', 'FALSE', '']) {
      const error = await caught(
        Promise.resolve().then(() => createBackendFromUrl(`${POSTGRES_URL}?migrate=${value}`)),
      );
      expect(isBerthError(error, 'VALIDATION')).toBe(true);
    }
    expect(
      () => new PostgresBackend({ connectionString: POSTGRES_URL, migrate: 'false' as unknown as boolean }),
    ).toThrow(/migrate must be true or false/);
  });

  it('two processes migrating at once both succeed, and each migration is applied once', async () => {
    const name = schema('migrate_race');
    const outputs: string[][] = [];
    const children = ['A', 'B'].map((id) => {
      const process = startChild(['migrate', POSTGRES_URL, name], id);
      let text = '';
      process.process.stdout?.on('data', (chunk: Buffer) => {
        text += chunk.toString();
      });
      return { process, text: () => text };
    });
    await Promise.all(children.map(({ process }) => process.exited));
    for (const { process, text } of children) {
      expect(process.process.exitCode).toBe(0);
      const line = text()
        .split('\n')
        .find((candidate) => candidate.startsWith('APPLIED '));
      outputs.push(JSON.parse((line as string).slice('APPLIED '.length)) as string[]);
    }
    // One of them applied everything, the other found nothing left to do.
    expect(outputs.map((applied) => applied.length).sort()).toEqual([0, ALL_MIGRATIONS.length]);
    expect(outputs.flat()).toEqual(ALL_MIGRATIONS);
    const rows = await sql<{ version: number }>(`SELECT version FROM "${name}"._berth_migrations ORDER BY version`);
    expect(rows.map((row) => row.version)).toEqual([1, 2, 3, 101, 102, 103]);
  }, 120_000);

  it('refuses a schema a newer release migrated with SCHEMA saying to upgrade, whether it migrates or not', async () => {
    const name = schema('migrate_future');
    await using current = new PostgresBackend({ connectionString: POSTGRES_URL, schema: name });
    await current.connect();
    await sql(`INSERT INTO "${name}"._berth_migrations (version, name) VALUES (104, 'from a future release')`);
    for (const migrate of [true, false]) {
      await using backend = new PostgresBackend({ connectionString: POSTGRES_URL, schema: name, migrate });
      const error = await caught(backend.connect());
      expect(isBerthError(error, 'SCHEMA')).toBe(true);
      expect((error as Error).message).toMatch(/upgrade Berth/);
      expect((error as Error).message).toContain('104');
      expect(isBerthError(await caught(backend.migrate()), 'SCHEMA')).toBe(true);
    }
  });
});

describe('PostgresBackend.collections', () => {
  it("lists another process's collection with its declared indexes, from any backend instance, never Berth's tables", async () => {
    const name = schema('collections');
    const writer = startChild(['write', POSTGRES_URL, name], 'writer');
    await writer.waitFor('DONE', 90_000);
    await writer.exited;
    const expected = {
      name: 'shared',
      indexes: [
        { field: 'email', type: 'string', unique: true },
        {
          fields: [
            { field: 'team', type: 'string' },
            { field: 'rank', type: 'number' },
          ],
          name: 'by_team',
        },
      ],
    };
    for (let round = 0; round < 2; round++) {
      await using backend = new PostgresBackend({ connectionString: POSTGRES_URL, schema: name });
      await backend.queue('mails').enqueue({ to: 'a' });
      await backend.repository('Shared').upsert({ id: 'x' });
      const collections = await backend.collections();
      // Code-point order: upper case first; the job tables and registries are not collections.
      expect(collections.map((collection) => collection.name)).toEqual(['Shared', 'shared']);
      expect(collections[1]).toMatchObject(expected);
      expect(collections[1]?.indexes).toEqual(expected.indexes);
      expect(collections[0]?.indexes).toEqual([]);
      for (const collection of collections) expect(collection.approximateBytes).toBeGreaterThan(0);
    }
  }, 120_000);

  it('does not list a collection whose table was dropped by hand, and checks its options', async () => {
    const name = schema('collections_dropped');
    await using backend = new PostgresBackend({ connectionString: POSTGRES_URL, schema: name });
    await backend.repository('gone').insert({ id: 'a' });
    await backend.repository('kept').insert({ id: 'a' });
    await sql(`DROP TABLE "${name}"."gone"`);
    expect((await backend.collections()).map((collection) => collection.name)).toEqual(['kept']);
    expect(
      isBerthError(await caught(backend.collections({ signal: 'no' as unknown as AbortSignal })), 'VALIDATION'),
    ).toBe(true);
    expect(isBerthError(await caught(backend.collections({ signal: AbortSignal.abort() })), 'ABORTED')).toBe(true);
  });

  it('refuses hostile collection and queue names before any SQL', async () => {
    const name = schema('collections_hostile');
    await using backend = new PostgresBackend({ connectionString: POSTGRES_URL, schema: name });
    for (const hostile of ['x"; DROP SCHEMA public; --', 'a.b', '_berth_jobs', '']) {
      expect(() => backend.repository(hostile)).toThrow(expect.objectContaining({ code: 'VALIDATION' }));
      expect(() => backend.queue(hostile)).toThrow(expect.objectContaining({ code: 'VALIDATION' }));
    }
    expect(await backend.collections()).toEqual([]);
    expect(await backend.queues()).toEqual([]);
  });
});

const CREATED = new Date('1999-12-31T23:59:59.999Z');
const UPDATED = new Date('2001-01-01T00:00:00.001Z');

describe('PgRepository.importEntries', () => {
  it('keeps versions up to 2^53 - 1 in a table created before migration 3 made versions bigint', async () => {
    const name = schema('import_meta');
    {
      await using old = new PostgresBackend({ connectionString: POSTGRES_URL, schema: name });
      await old.repository('notes').insert({ id: 'before' });
    }
    // The table as releases before migration 3 created it.
    await sql(`ALTER TABLE "${name}"."notes" ALTER COLUMN version TYPE integer`);
    await sql(`DELETE FROM "${name}"._berth_migrations WHERE version = 3`);
    await using backend = new PostgresBackend({ connectionString: POSTGRES_URL, schema: name, migrate: false });
    expect(isBerthError(await caught(backend.connect()), 'SCHEMA')).toBe(true);
    expect(await backend.migrate()).toEqual({ applied: ['3 document versions are bigint'] });
    const notes = backend.repository<{ id: string; n: number }>('notes');
    const entries = [
      { document: { id: 'a', n: 2 ** 53 + 2 }, meta: { version: 7, createdAt: CREATED, updatedAt: UPDATED } },
      {
        document: { id: 'b', n: -0 },
        meta: { version: Number.MAX_SAFE_INTEGER, createdAt: new Date('0000-01-01T00:00:00.000Z'), updatedAt: UPDATED },
      },
    ];
    expect(await notes.importEntries(entries)).toBe(2);
    expect(await notes.getEntry('a')).toEqual(entries[0]);
    expect((await notes.getEntry('b'))?.meta).toEqual(entries[1]?.meta);
    expect(await notes.find({ where: { id: { $in: ['a', 'b'] } }, orderBy: '$createdAt' })).toHaveLength(2);
    expect(await notes.update('a', { $set: { n: 1 } }, { returnEntry: true })).toMatchObject({
      meta: { version: 8, createdAt: CREATED },
    });
    expect(await notes.get('before')).toEqual({ id: 'before' });
  });

  it('replaces documents whose unique values it swaps, and refuses a value another document holds, importing nothing', async () => {
    await using backend = new PostgresBackend({ connectionString: POSTGRES_URL, schema: schema('import_unique') });
    const users = backend.repository<{ id: string; email: string }>('users', {
      indexes: [{ field: 'email', type: 'string', unique: true }],
    });
    await users.insertMany([
      { id: 'a', email: 'a@x' },
      { id: 'b', email: 'b@x' },
      { id: 'c', email: 'c@x' },
    ]);
    const meta = { version: 5, createdAt: CREATED, updatedAt: UPDATED };
    expect(
      await users.importEntries([
        { document: { id: 'a', email: 'b@x' }, meta },
        { document: { id: 'b', email: 'a@x' }, meta },
      ]),
    ).toBe(2);
    expect(await users.getMany(['a', 'b'])).toEqual([
      { id: 'a', email: 'b@x' },
      { id: 'b', email: 'a@x' },
    ]);
    const error = await caught(
      users.importEntries([
        { document: { id: 'd', email: 'd@x' }, meta },
        { document: { id: 'e', email: 'c@x' }, meta },
      ]),
    );
    expect(error).toMatchObject({ code: 'ALREADY_EXISTS', field: 'email' });
    expect(await users.getMany(['d', 'e'])).toEqual([null, null]);
  });

  it('commits and rolls back with backend.transaction()', async () => {
    await using backend = new PostgresBackend({ connectionString: POSTGRES_URL, schema: schema('import_tx') });
    const meta = { version: 4, createdAt: CREATED, updatedAt: UPDATED };
    const failure = await caught(
      backend.transaction(async (tx) => {
        await tx.repository('notes').importEntries([{ document: { id: 'a' }, meta }]);
        expect(await tx.repository('notes').getEntry('a')).toEqual({ document: { id: 'a' }, meta });
        throw new Error('roll back');
      }),
    );
    expect((failure as Error).message).toBe('roll back');
    expect(await backend.repository('notes').get('a')).toBeNull();
    await backend.transaction(async (tx) => {
      await tx.repository('notes').importEntries([{ document: { id: 'a' }, meta }]);
    });
    expect(await backend.repository('notes').getEntry('a')).toEqual({ document: { id: 'a' }, meta });
  });

  it('leaves all or nothing when its process is SIGKILLed in the middle of a big import', async () => {
    const name = schema('import_kill');
    const count = 40_000;
    const importer = startChild(['import', POSTGRES_URL, name, String(count)], 'importer');
    await importer.waitFor('IMPORTING', 90_000);
    // Kill it while the server runs the import's transaction.
    let inFlight = false;
    for (let tries = 0; tries < 2_000 && !inFlight; tries++) {
      const rows = await sql(
        `SELECT 1 FROM pg_stat_activity WHERE query LIKE '%"${name}"."bulk"%' AND (query LIKE 'DELETE%' OR query LIKE 'INSERT%')`,
      );
      inFlight = rows.length > 0;
    }
    importer.process.kill('SIGKILL');
    await importer.exited;
    expect(inFlight).toBe(true);
    expect(importer.process.signalCode).toBe('SIGKILL');
    // The server rolls the transaction back once it sees the connection gone.
    for (let tries = 0; tries < 200; tries++) {
      const open = await sql(
        `SELECT 1 FROM pg_stat_activity WHERE query LIKE '%"${name}"."bulk"%' AND pid <> pg_backend_pid()`,
      );
      if (open.length === 0) break;
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
    const [row] = await sql<{ n: string }>(`SELECT count(*) AS n FROM "${name}"."bulk"`);
    expect([0, count]).toContain(Number(row?.n));
  }, 120_000);
});

function job(fields: Partial<Job> & Pick<Job, 'id' | 'state'>): Job {
  return {
    queue: 'elsewhere',
    payload: { n: 1 },
    priority: 0,
    attempts: 0,
    maxAttempts: 3,
    runAt: new Date('2020-01-01T00:00:00.000Z'),
    dedupeKey: undefined,
    leaseMs: 30_000,
    errors: [],
    result: undefined,
    progress: undefined,
    timeoutMs: undefined,
    createdAt: CREATED,
    updatedAt: UPDATED,
    finishedAt: undefined,
    leaseExpiresAt: undefined,
    ...fields,
  };
}

describe('PostgresJobQueue.importJobs', () => {
  it('keeps the counters exact, skips ids held by any queue and live dedupe keys', async () => {
    await using backend: Backend = new PostgresBackend({
      connectionString: POSTGRES_URL,
      schema: schema('import_jobs'),
    });
    const mails = backend.queue('mails');
    const other = backend.queue('other');
    const { id: held } = await other.enqueue({ n: 0 });
    await mails.enqueue({ n: 0 }, { dedupeKey: 'k' });
    const finishedAt = new Date('2002-02-02T00:00:00.000Z');
    const result = await mails.importJobs([
      job({ id: 'w1', state: 'waiting', priority: 5 }),
      job({ id: 'w2', state: 'waiting', dedupeKey: 'k' }),
      job({ id: held, state: 'waiting' }),
      job({
        id: 'd1',
        state: 'dead',
        attempts: 3,
        finishedAt,
        errors: [{ attempt: 3, message: 'boom', name: 'Error', at: UPDATED }],
      }),
      job({ id: 'c1', state: 'completed', attempts: 1, finishedAt, result: { ok: true }, progress: 100 }),
      job({ id: 'x1', state: 'cancelled', finishedAt }),
    ]);
    expect(result).toEqual({ imported: 4, skipped: 2 });
    expect(await mails.stats()).toEqual({ waiting: 2, active: 0, completed: 1, dead: 1, cancelled: 1 });
    expect(await other.stats()).toEqual({ waiting: 1, active: 0, completed: 0, dead: 0, cancelled: 0 });
    expect(await backend.queues()).toEqual(['mails', 'other']);
    expect(await mails.get('d1')).toMatchObject({
      queue: 'mails',
      state: 'dead',
      attempts: 3,
      finishedAt,
      errors: [{ attempt: 3, message: 'boom', name: 'Error', at: UPDATED }],
    });
    // The imported job is first by priority; the dead one comes back waiting.
    expect((await mails.dequeue())?.job.id).toBe('w1');
    expect(await mails.retry('d1')).toBe(true);
    expect(await mails.stats()).toMatchObject({ waiting: 2, active: 1, dead: 0 });
    expect(await mails.purge({ finishedBefore: new Date('2003-01-01T00:00:00.000Z') })).toBe(2);
    expect(await mails.stats()).toEqual({ waiting: 2, active: 1, completed: 0, dead: 0, cancelled: 0 });
  });

  it('wakes an idle worker of another backend with NOTIFY when an imported job is due, long before its next poll', async () => {
    const name = schema('import_jobs_wake');
    await using importer = new PostgresBackend({ connectionString: POSTGRES_URL, schema: name });
    await using consumer = new PostgresBackend({ connectionString: POSTGRES_URL, schema: name });
    await importer.connect();
    const handled: number[] = [];
    const worker = consumer.queue('wake').work(
      () => {
        handled.push(Date.now());
      },
      { pollIntervalMs: 60_000 },
    );
    try {
      for (let tries = 0; tries < 2_000; tries++) {
        const rows = await sql(`SELECT 1 FROM pg_stat_activity WHERE query = $1 AND state = 'idle'`, [
          `LISTEN ${channelOf(name)}`,
        ]);
        if (rows.length > 0) break;
        await new Promise((resolve) => setTimeout(resolve, 5));
      }
      // Let the worker's first (empty) fetch finish, so it sleeps on its 60 s poll.
      await new Promise((resolve) => setTimeout(resolve, 200));
      const importedAt = Date.now();
      expect(await importer.queue('wake').importJobs([job({ id: 'due', state: 'waiting' })])).toEqual({
        imported: 1,
        skipped: 0,
      });
      for (let tries = 0; tries < 1_000 && handled.length === 0; tries++) {
        await new Promise((resolve) => setTimeout(resolve, 5));
      }
      expect(handled).toHaveLength(1);
      // Polling alone would take a minute; the machine may be loaded, so the bound is loose.
      expect((handled[0] as number) - importedAt).toBeLessThan(2_000);
    } finally {
      await worker.close();
    }
  }, 30_000);

  it('refuses an active job and bad fields with VALIDATION naming the path, importing nothing', async () => {
    await using backend = new PostgresBackend({ connectionString: POSTGRES_URL, schema: schema('import_jobs_bad') });
    const mails = backend.queue('mails');
    const cases: [Job, string][] = [
      [job({ id: 'a', state: 'active' }), '1.state'],
      [job({ id: 'a', state: 'waiting', attempts: -1 }), '1.attempts'],
      [job({ id: 'a', state: 'waiting', priority: 1.5 }), '1.priority'],
      [job({ id: 'a', state: 'dead', finishedAt: new Date(Number.NaN) }), '1.finishedAt'],
      [
        job({ id: 'a', state: 'dead', errors: [{ attempt: 1, message: 'x', at: 'then' as unknown as Date }] }),
        '1.errors.0.at',
      ],
      [job({ id: 'a\u0000', state: 'waiting' }), '1.id'],
    ];
    for (const [bad, path] of cases) {
      const error = await caught(mails.importJobs([job({ id: 'fine', state: 'waiting' }), bad]));
      expect(error).toMatchObject({ code: 'VALIDATION', path });
    }
    expect(await mails.get('fine')).toBeNull();
    expect(await backend.queues()).toEqual([]);
  });
});

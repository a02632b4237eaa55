import { isBerthError, type Repository, type RepositoryOptions } from '@berth/core';
import pg from 'pg';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { dropSchemas, POSTGRES_URL, requirePostgres, uniqueSchema } from './fixtures/pg-test-database.js';
import { PostgresBackend } from './pg-backend.js';
import { indexName } from './pg-indexes.js';

// Hostile names, paths and values, bulk statements, long names, first use
// racing across backends: on the real server, in a schema per test.

const schemas: string[] = [];
let schema: string;
let backend: PostgresBackend;
let admin: pg.Pool;

beforeAll(async () => {
  await requirePostgres();
  admin = new pg.Pool({ connectionString: POSTGRES_URL, max: 2 });
});
afterAll(async () => {
  await admin.end();
  await dropSchemas(schemas);
});
beforeEach(async () => {
  schema = uniqueSchema('repo');
  schemas.push(schema);
  backend = new PostgresBackend({ connectionString: POSTGRES_URL, schema });
  await backend.connect();
});
afterEach(() => backend.close());

/** Resolves once some connection waits on a lock that the backend `blocker` holds. */
async function waitForLockWait(blocker: number): Promise<void> {
  for (let tries = 0; tries < 500; tries++) {
    const { rows } = await admin.query<{ n: number }>(
      'SELECT count(*)::int AS n FROM pg_stat_activity WHERE $1::int = ANY(pg_blocking_pids(pid))',
      [blocker],
    );
    if ((rows[0]?.n ?? 0) > 0) return;
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
  throw new Error(`no connection came to wait on backend ${blocker} within 10 s`);
}

/** Every table and index of the test's schema, with its definition. */
async function catalog(): Promise<string[]> {
  const { rows } = await admin.query<{ line: string }>(
    `SELECT c.relkind::text || ' ' || c.relname || ' ' || coalesce(pg_get_indexdef(c.oid), '') AS line
       FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
      WHERE n.nspname = $1 ORDER BY c.relname`,
    [schema],
  );
  return rows.map((row) => row.line);
}

async function failure(work: () => unknown): Promise<unknown> {
  try {
    await work();
  } catch (error) {
    return error;
  }
  throw new Error('expected a failure');
}

async function expectCode(work: () => unknown, code: string): Promise<unknown> {
  const error = await failure(work);
  expect(isBerthError(error, code as never), String(error)).toBe(true);
  return error;
}

interface Item {
  id: string;
  name?: string;
  value?: unknown;
  n?: number;
  email?: string;
}

const HOSTILE_NAMES = [
  'x"; DROP TABLE y; --',
  "x'); DROP TABLE y; --",
  'y; DROP TABLE y',
  '_berth_migrations',
  '_berth_collections',
  'a b',
  'a.b',
  '"y"',
  '',
  '1abc',
  'é',
  'a'.repeat(64),
  'y\u0000',
];

describe('injection', () => {
  it('refuses injection-shaped collection names with VALIDATION before any SQL runs, outside and inside transactions', async () => {
    const victim = backend.repository<Item>('y');
    await victim.insert({ id: 'kept', name: 'still here' });
    const before = await catalog();
    for (const name of HOSTILE_NAMES) {
      await expectCode(() => backend.repository<Item>(name), 'VALIDATION');
      await expectCode(() => backend.transaction(async (tx) => tx.repository<Item>(name).get('a')), 'VALIDATION');
    }
    expect(await catalog()).toStrictEqual(before);
    expect(await victim.get('kept')).toStrictEqual({ id: 'kept', name: 'still here' });
  });

  it('refuses injection-shaped field paths in filters, sorts, updates, countBy and indexes with VALIDATION', async () => {
    // Untyped: the paths are what a caller without types could send.
    const items = backend.repository('items');
    await items.insert({ id: 'a', n: 1 });
    const before = await catalog();
    const paths = ["n') OR 1=1 --", 'n"; DROP TABLE items; --', "a}'::jsonb", 'n\u0000', 'a..b', '__proto__', 'a.$b'];
    for (const path of paths) {
      await expectCode(() => items.find({ where: { [path]: 1 } }), 'VALIDATION');
      await expectCode(() => items.find({ orderBy: path }), 'VALIDATION');
      await expectCode(() => items.update('a', { $set: { [path]: 1 } }), 'VALIDATION');
      await expectCode(() => items.countBy(path), 'VALIDATION');
      await expectCode(() => backend.repository('other', { indexes: [{ field: path, type: 'number' }] }), 'VALIDATION');
    }
    await expectCode(
      () =>
        backend.repository<Item>('other', {
          indexes: [
            {
              fields: [
                { field: 'n', type: 'number' },
                { field: 'name', type: 'string' },
              ],
              name: 'x"; --',
            },
          ],
        }),
      'VALIDATION',
    );
    expect(await catalog()).toStrictEqual(before);
    expect(await items.get('a')).toStrictEqual({ id: 'a', n: 1 });
  });

  it('stores and matches SQL-shaped ids, values and keys literally', async () => {
    const items = backend.repository<Item>('items');
    const hostile = [
      "'; DROP TABLE items; --",
      '"); DELETE FROM items; --',
      "\\'; SELECT pg_sleep(10); --",
      '$1',
      '$$ language plpgsql $$',
      '{a,b}',
      "'}'::jsonb",
      '%_\\',
      '𝔘nicode 😀',
    ];
    for (const [index, text] of hostile.entries()) {
      await items.insert({ id: text, name: text, value: { [`k ${text}`]: text, nested: [text] }, n: index });
    }
    await items.insertMany(hostile.map((text) => ({ id: `bulk ${text}`, name: text })));
    await items.upsertMany(hostile.map((text) => ({ id: `bulk ${text}`, name: `${text}!` })));
    for (const [index, text] of hostile.entries()) {
      expect(await items.get(text)).toStrictEqual({
        id: text,
        name: text,
        value: { [`k ${text}`]: text, nested: [text] },
        n: index,
      });
      expect(await items.get(`bulk ${text}`)).toStrictEqual({ id: `bulk ${text}`, name: `${text}!` });
      expect((await items.find({ where: { name: text } })).map((item) => item.id)).toStrictEqual([text]);
      expect(await items.count({ id: text })).toBe(1);
    }
    expect(await items.getMany(hostile)).toHaveLength(hostile.length);
    expect(await items.count()).toBe(hostile.length * 2);
    expect(await items.deleteMany({ name: "'; DROP TABLE items; --" })).toBe(1);
    expect(await items.count()).toBe(hostile.length * 2 - 1);
  });

  it('refuses NUL and lone surrogates in ids, values and keys with VALIDATION, writing nothing', async () => {
    const items = backend.repository<Item>('items');
    await expectCode(() => items.insert({ id: 'a\u0000b' }), 'VALIDATION');
    await expectCode(() => items.insert({ id: 'a', name: 'x\u0000' }), 'VALIDATION');
    await expectCode(() => items.insert({ id: 'a', value: { 'k\u0000': 1 } }), 'VALIDATION');
    await expectCode(() => items.insertMany([{ id: 'b' }, { id: 'c', name: '\ud800' }]), 'VALIDATION');
    expect(await items.count()).toBe(0);
  });
});

describe('bulk writes', () => {
  it('insertMany writes every document with one multi-row statement', async () => {
    const items = backend.repository<Item>('items');
    const documents = Array.from({ length: 500 }, (_, n) => ({ id: `d${String(n).padStart(3, '0')}`, n }));
    await items.insertMany(documents);
    // Rows written by one statement share its transaction (xmin) and its command id (cmin).
    const { rows } = await admin.query<{ commands: string; transactions: string; rows: string }>(
      `SELECT count(DISTINCT cmin::text) AS commands, count(DISTINCT xmin::text) AS transactions, count(*) AS rows FROM "${schema}".items`,
    );
    expect(rows[0]).toStrictEqual({ commands: '1', transactions: '1', rows: '500' });
    expect(await items.get('d499')).toStrictEqual({ id: 'd499', n: 499 });
  });

  it('upsertMany and updateMany change every document with one statement each', async () => {
    const items = backend.repository<Item>('items');
    await items.insertMany(Array.from({ length: 200 }, (_, n) => ({ id: `d${n}`, n })));
    await items.upsertMany(Array.from({ length: 300 }, (_, n) => ({ id: `d${n}`, n: n + 1 })));
    const upserted = await admin.query<{ commands: string; transactions: string }>(
      `SELECT count(DISTINCT cmin::text) AS commands, count(DISTINCT xmin::text) AS transactions FROM "${schema}".items`,
    );
    expect(upserted.rows[0]).toStrictEqual({ commands: '1', transactions: '1' });
    expect(await items.updateMany({}, { $inc: { n: 1 } })).toBe(300);
    const updated = await admin.query<{ commands: string; versions: number[] }>(
      `SELECT count(DISTINCT cmin::text) AS commands, array_agg(DISTINCT version::integer) AS versions FROM "${schema}".items`,
    );
    expect(updated.rows[0]).toStrictEqual({ commands: '1', versions: [2, 3] });
    expect(await items.get('d250')).toStrictEqual({ id: 'd250', n: 252 });
  });

  it('a refused bulk write names the first offending document in input order and writes nothing', async () => {
    const users = backend.repository<Item>('users', { indexes: [{ field: 'email', type: 'string', unique: true }] });
    await users.insert({ id: 'taken', email: 'ada@example.com' });
    const refused = await expectCode(
      () =>
        users.insertMany([
          { id: 'a', email: 'a@example.com' },
          { id: 'b', email: 'ada@example.com' },
          { id: 'taken', email: 'c@example.com' },
        ]),
      'ALREADY_EXISTS',
    );
    expect(refused).toMatchObject({ field: 'email', id: 'b' });
    const duplicate = await expectCode(
      () =>
        users.insertMany([
          { id: 'x', email: 'x@example.com' },
          { id: 'x', email: 'y@example.com' },
        ]),
      'ALREADY_EXISTS',
    );
    expect(duplicate).toMatchObject({ field: 'id', id: 'x' });
    const upsert = await expectCode(
      () =>
        users.upsertMany([
          { id: 'p', email: 'p@example.com' },
          { id: 'q', email: 'p@example.com' },
        ]),
      'ALREADY_EXISTS',
    );
    expect(upsert).toMatchObject({ field: 'email', id: 'q' });
    expect(await users.count()).toBe(1);
  });

  it('upsertMany with an id given twice applies both in order, as two writes', async () => {
    const items = backend.repository<Item>('items');
    await items.upsertMany([
      { id: 'a', n: 1 },
      { id: 'a', n: 2 },
      { id: 'b', n: 3 },
    ]);
    expect(await items.getEntry('a')).toMatchObject({ document: { id: 'a', n: 2 }, meta: { version: 2 } });
    expect(await items.get('b')).toStrictEqual({ id: 'b', n: 3 });
  });
});

describe('update', () => {
  it('an update outside a transaction, without a schema or where, is one statement', async () => {
    const pool = new pg.Pool({ connectionString: POSTGRES_URL, max: 2 });
    // Every statement, on whichever of the pool's clients it runs (a transaction would be several).
    let statements = 0;
    pool.on('connect', (client) => {
      const query = client.query.bind(client) as (...args: unknown[]) => unknown;
      client.query = ((...args: unknown[]) => {
        statements += 1;
        return query(...args);
      }) as typeof client.query;
    });
    const mine = new PostgresBackend({ pool, schema });
    try {
      const items = mine.repository<Item>('counted');
      await items.insert({ id: 'a', n: 1, name: 'a' });
      statements = 0;
      expect(await items.update('a', { $inc: { n: 2 }, $set: { name: 'b' } })).toStrictEqual({
        id: 'a',
        n: 3,
        name: 'b',
      });
      expect(statements).toBe(1);
      const entry = await items.update('a', { $unset: ['name'] }, { expectedVersion: 2, returnEntry: true });
      expect(entry.document).toStrictEqual({ id: 'a', n: 3 });
      expect(entry.meta.version).toBe(3);
      expect(statements).toBe(2);
    } finally {
      await mine.close();
      await pool.end();
    }
  });

  it('keeps a one-statement update prepared by name only for a single step (several combine without bound)', async () => {
    const pool = new pg.Pool({ connectionString: POSTGRES_URL, max: 1 });
    const mine = new PostgresBackend({ pool, schema });
    try {
      const items = mine.repository<Item>('prepared');
      await items.insert({ id: 'a', n: 1, name: 'a' });
      const updates = async () =>
        (
          await pool.query<{ n: number }>(
            `SELECT count(*)::int AS n FROM pg_prepared_statements WHERE statement LIKE 'UPDATE%'`,
          )
        ).rows[0]?.n;
      const before = await updates();
      await items.update('a', { $inc: { n: 2 }, $set: { name: 'b' } });
      expect(await updates()).toBe(before);
      await items.update('a', { $inc: { n: 2 } });
      expect(await updates()).toBe((before ?? 0) + 1);
      expect(await items.get('a')).toStrictEqual({ id: 'a', n: 5, name: 'b' });
    } finally {
      await mine.close();
      await pool.end();
    }
  });

  it('a one-statement update chosen as a deadlock victim is retried, not handed to the caller as CONFLICT', async () => {
    const users = backend.repository<Item>('deadlocked', {
      indexes: [{ field: 'email', type: 'string', unique: true }],
    });
    await users.insert({ id: 'a', email: 'a@example.com' });
    const other = await admin.connect();
    try {
      // The other transaction never detects the deadlock first: ours (1 s by default) is the victim.
      const otherPid = (await other.query<{ pid: number }>('SELECT pg_backend_pid() AS pid')).rows[0]?.pid ?? 0;
      await other.query(`BEGIN; SET LOCAL deadlock_timeout = '60s'`);
      await other.query(`INSERT INTO "${schema}".deadlocked (id, data, version, created_at, updated_at)
        VALUES ('b', '{"id":"b","email":"x@example.com"}', 1, now(), now())`);
      // Locks row a, then waits on the other transaction's uncommitted x@example.com.
      const update = users.update('a', { $set: { email: 'x@example.com' } }).then(
        (value) => ({ value }),
        (error: unknown) => ({ error }),
      );
      await waitForLockWait(otherPid);
      // The other transaction now waits on row a: a deadlock, which PostgreSQL breaks by failing our statement.
      const otherUpdate = other.query(`UPDATE "${schema}".deadlocked SET version = version + 1 WHERE id = 'a'`);
      await otherUpdate;
      await other.query('COMMIT');
      // Retried after the deadlock, the write meets the committed x@example.com: the unique refusal, named.
      const outcome = await update;
      expect('error' in outcome && isBerthError(outcome.error, 'ALREADY_EXISTS')).toBe(true);
      expect(await users.get('a')).toStrictEqual({ id: 'a', email: 'a@example.com' });
    } finally {
      await other.query('ROLLBACK').catch(() => undefined);
      other.release();
    }
  });

  it('updates the one statement cannot compute exactly give what core computes, and refusals write nothing', async () => {
    const small = new PostgresBackend({ connectionString: POSTGRES_URL, schema, maxDocumentBytes: 200 });
    try {
      const items = small.repository<Item & Record<string, unknown>>('edges', {
        indexes: [{ field: 'email', type: 'string', unique: true }],
      });
      await items.insertMany([
        { id: 'a', n: 0.1, big: 2 ** 53 - 1, s: 'x', tags: ['t'], email: 'a@example.com' },
        { id: 'b', email: 'b@example.com' },
      ]);
      // Fractions and sums past 2^53 are doubles, as in JavaScript.
      expect(await items.update('a', { $inc: { n: 0.2, big: 2 } })).toMatchObject({
        n: 0.1 + 0.2,
        big: 2 ** 53 - 1 + 2,
      });
      // Missing parents are created; a Date comes back a Date.
      const at = new Date('2024-05-06T07:08:09.010Z');
      expect(await items.update('a', { $inc: { 'stats.level': 1 }, $set: { at } })).toMatchObject({
        stats: { level: 1 },
        at,
      });
      expect((await items.get('a'))?.at).toStrictEqual(at);
      // Through an array: $unset skips it, $set and $inc refuse it.
      expect(await items.update('a', { $unset: ['tags.0'] })).toMatchObject({ tags: ['t'] });
      await expectCode(() => items.update('a', { $set: { 'tags.0': 'u' } }), 'VALIDATION');
      await expectCode(() => items.update('a', { $inc: { s: 1 } }), 'VALIDATION');
      // A Date is stored as {"$date": …}, an object to PostgreSQL but not a parent to core.
      await expectCode(() => items.update('a', { $set: { 'at.x': 1 } }), 'VALIDATION');
      expect(await items.update('a', { $unset: ['at.x'] })).toMatchObject({ at });
      await expectCode(() => items.update('a', { $set: { s: 'y'.repeat(300) } }), 'VALIDATION');
      await expectCode(() => items.update('a', { $inc: { n: 1 } }, { expectedVersion: 1 }), 'CONFLICT');
      const taken = await expectCode(() => items.update('a', { $set: { email: 'b@example.com' } }), 'ALREADY_EXISTS');
      expect(taken).toMatchObject({ field: 'email' });
      await expectCode(() => items.update('missing', { $inc: { n: 1 } }), 'NOT_FOUND');
      expect(await items.update('new', { $inc: { n: 1 } }, { upsert: {} })).toStrictEqual({ id: 'new', n: 1 });
      const entry = await items.getEntry('a');
      expect(entry?.meta.version).toBe(5);
      expect(entry?.document).toMatchObject({ s: 'x', tags: ['t'], email: 'a@example.com', n: 0.1 + 0.2 });
    } finally {
      await small.close();
    }
  });

  it('updates of a document near the size limit are checked on what they write, to the byte', async () => {
    const small = new PostgresBackend({ connectionString: POSTGRES_URL, schema, maxDocumentBytes: 120 });
    try {
      const items = small.repository<Item & { s?: string; t?: string }>('near_limit');
      // 115 bytes of JSON; PostgreSQL prints it as 120 (a space after each ':' and ','), within the limit.
      await items.insert({ id: 'a', n: 9, s: 'x'.repeat(91) });
      // Each would write 122 bytes, though the stored text is within the limit.
      await expectCode(() => items.update('a', { $set: { t: 'y' } }), 'VALIDATION');
      await expectCode(() => items.update('a', { $inc: { n: 99_999_999 } }), 'VALIDATION');
      expect(await items.update('a', { $inc: { n: 1 } })).toStrictEqual({ id: 'a', n: 10, s: 'x'.repeat(91) });
      // Exactly the limit.
      expect(await items.update('a', { $set: { s: 'x'.repeat(96) } })).toMatchObject({ n: 10 });
      expect((await items.getEntry('a'))?.meta.version).toBe(3);
    } finally {
      await small.close();
    }
  });

  it('concurrent $inc of one document from two backends all apply, with and without where', async () => {
    const other = new PostgresBackend({ connectionString: POSTGRES_URL, schema });
    try {
      const mine = backend.repository<Item>('counters');
      const theirs = other.repository<Item>('counters');
      await mine.insert({ id: 'c', n: 0 });
      await Promise.all(
        Array.from({ length: 40 }, (_, k) => (k % 2 === 0 ? mine : theirs).update('c', { $inc: { n: 1 } })),
      );
      expect(await mine.getEntry('c')).toMatchObject({ document: { id: 'c', n: 40 }, meta: { version: 41 } });
      // With `where`, each update reads and then writes conditional on the version read; lost races read again.
      const conditional = { where: { n: { $gte: 0 } } } as const;
      const results = await Promise.all(
        Array.from({ length: 40 }, (_, k) =>
          (k % 2 === 0 ? mine : theirs).update('c', { $inc: { n: 1 } }, conditional),
        ),
      );
      expect(results.every((result) => result !== null)).toBe(true);
      expect(await mine.getEntry('c')).toMatchObject({ document: { id: 'c', n: 80 }, meta: { version: 81 } });
    } finally {
      await other.close();
    }
  });

  it('writes refused with ALREADY_EXISTS keep the pool’s connections: none is opened again', async () => {
    const users = backend.repository<Item>('users', { indexes: [{ field: 'email', type: 'string', unique: true }] });
    await users.insertMany([
      { id: 'ada', email: 'ada@example.com' },
      { id: 'bob', email: 'bob@example.com' },
    ]);
    let connects = 0;
    backend.native().on('connect', () => {
      connects += 1;
    });
    for (let round = 0; round < 5; round += 1) {
      await expectCode(() => users.update('bob', { email: 'ada@example.com' }), 'ALREADY_EXISTS');
      await expectCode(() => users.upsert({ id: 'cy', email: 'ada@example.com' }), 'ALREADY_EXISTS');
      await expectCode(() => users.replace({ id: 'bob', email: 'ada@example.com' }), 'ALREADY_EXISTS');
    }
    expect(await users.update('bob', { name: 'Bob' })).toMatchObject({ id: 'bob', name: 'Bob' });
    // Each refused statement used to cost its connection: the next statement opened a new one.
    expect(connects).toBe(0);
  });
});

describe('tables and indexes', () => {
  it('creates one table per collection with the decided columns, registered in _berth_collections', async () => {
    await backend.repository<Item>('items').insert({ id: 'a' });
    const { rows } = await admin.query<{ column_name: string; data_type: string; collation_name: string | null }>(
      `SELECT column_name, data_type, collation_name FROM information_schema.columns
        WHERE table_schema = $1 AND table_name = 'items' ORDER BY ordinal_position`,
      [schema],
    );
    expect(rows).toStrictEqual([
      { column_name: 'id', data_type: 'text', collation_name: 'C' },
      { column_name: 'data', data_type: 'jsonb', collation_name: null },
      { column_name: 'version', data_type: 'bigint', collation_name: null },
      { column_name: 'created_at', data_type: 'timestamp with time zone', collation_name: null },
      { column_name: 'updated_at', data_type: 'timestamp with time zone', collation_name: null },
    ]);
    const registered = await admin.query(`SELECT name FROM "${schema}"._berth_collections`);
    expect(registered.rows).toStrictEqual([{ name: 'items' }]);
  });

  it('index names longer than 63 bytes end with a hash, never truncated by PostgreSQL into a clash', async () => {
    const collection = `c${'x'.repeat(62)}`;
    const long = `${'a'.repeat(60)}.b`;
    const specs = [
      { field: long, type: 'string' as const, unique: true },
      { field: `${'a'.repeat(60)}.c`, type: 'string' as const },
    ];
    const items = backend.repository<Record<string, unknown> & { id: string }>(collection, { indexes: specs });
    await items.insert({ id: 'a', [`${'a'.repeat(60)}`]: { b: 'one', c: 'two' } });
    await expectCode(() => items.insert({ id: 'b', [`${'a'.repeat(60)}`]: { b: 'one' } }), 'ALREADY_EXISTS');
    const names = (await catalog()).filter((line) => line.startsWith('i ')).map((line) => line.split(' ')[1] as string);
    const expected = specs.map((spec) =>
      indexName(collection, { key: spec.field, compound: false, unique: spec.unique === true }),
    );
    for (const name of expected) {
      expect(Buffer.byteLength(name)).toBeLessThanOrEqual(63);
      expect(names).toContain(name);
    }
    expect(new Set(expected).size).toBe(2);
  });

  it('two backends using a new collection with indexes at once both succeed, and the table and indexes exist once', async () => {
    const others = Array.from({ length: 3 }, () => new PostgresBackend({ connectionString: POSTGRES_URL, schema }));
    try {
      const options: RepositoryOptions<Item> = {
        indexes: [
          { field: 'email', type: 'string', unique: true },
          { field: 'n', type: 'number' },
        ],
      };
      await Promise.all(
        [backend, ...others].map((each, n) =>
          each.repository<Item>('race', options).insert({ id: `i${n}`, email: `${n}@x` }),
        ),
      );
      expect(await backend.repository<Item>('race').count()).toBe(4);
      const indexes = (await catalog()).filter((line) => line.startsWith('i race.'));
      expect(indexes).toHaveLength(2);
    } finally {
      await Promise.all(others.map((other) => other.close()));
    }
  });

  it('a collection first used inside a transaction that rolls back is created again on the next use', async () => {
    await expect(
      backend.transaction(async (tx) => {
        await tx.repository<Item>('fresh', { indexes: [{ field: 'n', type: 'number' }] }).insert({ id: 'a', n: 1 });
        throw new Error('roll back');
      }),
    ).rejects.toThrow('roll back');
    expect((await catalog()).some((line) => line.startsWith('r fresh'))).toBe(false);
    const fresh = backend.repository<Item>('fresh', { indexes: [{ field: 'n', type: 'number' }] });
    await fresh.insert({ id: 'b', n: 2 });
    expect(await fresh.find()).toStrictEqual([{ id: 'b', n: 2 }]);
  });

  it('a collection table dropped by hand is created again with its indexes on the next backend', async () => {
    const options: RepositoryOptions<Item> = { indexes: [{ field: 'email', type: 'string', unique: true }] };
    await backend.repository<Item>('dropped', options).insert({ id: 'a', email: 'a@x' });
    await admin.query(`DROP TABLE "${schema}".dropped`);
    const next = new PostgresBackend({ connectionString: POSTGRES_URL, schema });
    try {
      const users = next.repository<Item>('dropped', options);
      await users.insert({ id: 'b', email: 'b@x' });
      await expectCode(() => users.insert({ id: 'c', email: 'b@x' }), 'ALREADY_EXISTS');
      expect((await catalog()).some((line) => line.startsWith('i dropped.email!unique'))).toBe(true);
    } finally {
      await next.close();
    }
  });

  it('works on a pool the application passed in, and leaves it open', async () => {
    const pool = new pg.Pool({ connectionString: POSTGRES_URL, max: 3 });
    const mine = new PostgresBackend({ pool, schema });
    try {
      const items: Repository<Item> = mine.repository<Item>('pooled');
      await items.insert({ id: 'a', n: 1 });
      await mine.transaction(async (tx) => {
        await tx.repository<Item>('pooled').update('a', { $inc: { n: 1 } });
      });
      expect(await backend.repository<Item>('pooled').get('a')).toStrictEqual({ id: 'a', n: 2 });
    } finally {
      await mine.close();
    }
    expect((await pool.query('SELECT 1 AS one')).rows).toStrictEqual([{ one: 1 }]);
    await pool.end();
  });
});

describe('transactions', () => {
  it('run one at a time per schema, across collections, and commit together', async () => {
    let running = 0;
    let most = 0;
    await Promise.all(
      Array.from({ length: 4 }, (_, n) =>
        backend.transaction(async (tx) => {
          running += 1;
          most = Math.max(most, running);
          await tx.repository<Item>('left').insert({ id: `l${n}` });
          await new Promise((resolve) => setTimeout(resolve, 20));
          await tx.repository<Item>('right').insert({ id: `r${n}` });
          running -= 1;
        }),
      ),
    );
    expect(most).toBe(1);
    expect(await backend.repository<Item>('left').count()).toBe(4);
    expect(await backend.repository<Item>('right').count()).toBe(4);
  });

  it('transactions of two backends on one schema (two processes) run one after the other, each seeing the other commit', async () => {
    const other = new PostgresBackend({ connectionString: POSTGRES_URL, schema });
    try {
      const counters = backend.repository<Item>('counters');
      await counters.insert({ id: 'c', n: 0 });
      let release: () => void = () => undefined;
      const held = new Promise<void>((resolve) => {
        release = resolve;
      });
      const events: string[] = [];
      const first = backend.transaction(async (tx) => {
        const current = await tx.repository<Item>('counters').get('c');
        events.push('first read');
        await held;
        await tx.repository<Item>('counters').update('c', { n: (current?.n ?? 0) + 1 });
        events.push('first wrote');
      });
      while (events.length === 0) await new Promise((resolve) => setTimeout(resolve, 5));
      const second = other.transaction(async (tx) => {
        events.push('second started');
        const current = await tx.repository<Item>('counters').get('c');
        await tx.repository<Item>('counters').update('c', { n: (current?.n ?? 0) + 1 });
      });
      await new Promise((resolve) => setTimeout(resolve, 150));
      expect(events).toStrictEqual(['first read']);
      release();
      await Promise.all([first, second]);
      expect(events).toStrictEqual(['first read', 'first wrote', 'second started']);
      expect(await counters.get('c')).toStrictEqual({ id: 'c', n: 2 });
    } finally {
      await other.close();
    }
  });

  it('a single write between a transaction’s read and its write makes the transaction a retryable CONFLICT; with retries it applies', async () => {
    const counters = backend.repository<Item>('counters');
    await counters.insert({ id: 'c', n: 0 });
    let runs = 0;
    const increment = (retries: number) =>
      backend.transaction(
        async (tx) => {
          runs += 1;
          const current = await tx.repository<Item>('counters').get('c');
          // Only the first run is overtaken by a write outside the transaction.
          if (runs === 1) await counters.update('c', { $inc: { n: 10 } });
          await tx.repository<Item>('counters').update('c', { n: (current?.n ?? 0) + 1 });
        },
        { retries },
      );
    const error = await expectCode(() => increment(0), 'CONFLICT');
    expect(error).toMatchObject({ retryable: true });
    expect(await counters.get('c')).toStrictEqual({ id: 'c', n: 10 });
    runs = 0;
    await increment(3);
    expect(runs).toBe(2);
    expect(await counters.get('c')).toStrictEqual({ id: 'c', n: 21 });
  });

  it('an insert of an id a single write inserted after the transaction found it missing is a retryable CONFLICT; run again, it finds the document', async () => {
    const items = backend.repository<Item>('items');
    await items.insert({ id: 'seed' });
    let runs = 0;
    const insertIfMissing = (retries: number) =>
      backend.transaction(
        async (tx) => {
          runs += 1;
          const inside = tx.repository<Item>('items');
          const existing = await inside.get('x');
          // Only the first run is overtaken by the insert outside the transaction.
          if (runs === 1) await items.insert({ id: 'x', name: 'outside' });
          if (existing === null) await inside.insert({ id: 'x', name: 'inside' });
        },
        { retries },
      );
    const error = await expectCode(() => insertIfMissing(0), 'CONFLICT');
    expect(error).toMatchObject({ retryable: true });
    expect(await items.get('x')).toStrictEqual({ id: 'x', name: 'outside' });
    await items.delete('x');
    runs = 0;
    await insertIfMissing(3);
    expect(runs).toBe(2);
    expect(await items.get('x')).toStrictEqual({ id: 'x', name: 'outside' });
  });

  it('a transaction started inside the work of another is a TRANSACTION error, not a wait for itself', async () => {
    await backend.transaction(async (tx) => {
      await expectCode(() => backend.transaction(async () => undefined), 'TRANSACTION');
      await tx.repository<Item>('items').insert({ id: 'a' });
    });
    expect(await backend.repository<Item>('items').count()).toBe(1);
  });

  it('a unique violation inside a transaction is ALREADY_EXISTS naming the field, and the transaction goes on', async () => {
    const users = backend.repository<Item>('users', { indexes: [{ field: 'email', type: 'string', unique: true }] });
    await users.insert({ id: 'ada', email: 'ada@example.com' });
    await backend.transaction(async (tx) => {
      const inside = tx.repository<Item>('users');
      await inside.insert({ id: 'bob', email: 'bob@example.com' });
      const error = await expectCode(() => inside.update('bob', { email: 'ada@example.com' }), 'ALREADY_EXISTS');
      expect(error).toMatchObject({ field: 'email' });
      await expectCode(() => inside.upsert({ id: 'cy', email: 'bob@example.com' }), 'ALREADY_EXISTS');
      await inside.update('bob', { name: 'Bob' });
    });
    expect(await users.get('bob')).toStrictEqual({ id: 'bob', email: 'bob@example.com', name: 'Bob' });
    expect(await users.count()).toBe(2);
  });
});

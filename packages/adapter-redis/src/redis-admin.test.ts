import { fileURLToPath } from 'node:url';
import { startQueueProcess } from '@berth/conformance-tests/processes';
import { type Entry, isBerthError } from '@berth/core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { REDIS_URL, rawClient, rejection, requireRedis, uniqueKeyPrefix } from './fixtures/redis-server.js';
import { createBackendFromUrl, RedisBackend } from './redis-backend.js';
import { forEachKeyBatch, prefixPattern, unlinkKeys } from './redis-scan.js';

interface Note {
  id: string;
  email?: string;
  n?: number;
  tag?: string;
  title?: string;
}

const prefixes: string[] = [];
const backends: RedisBackend[] = [];
const checker = rawClient();
beforeAll(async () => {
  await requireRedis();
  await checker.connect();
});
afterAll(async () => {
  for (const backend of backends) await backend.close();
  for (const prefix of prefixes) {
    await forEachKeyBatch(checker, prefixPattern(prefix), unlinkKeys, undefined, 'cleanup');
  }
  checker.disconnect();
});

function open(keyPrefix = uniqueKeyPrefix('admin')): RedisBackend {
  if (!prefixes.includes(keyPrefix)) prefixes.push(keyPrefix);
  const backend = new RedisBackend({ url: REDIS_URL, keyPrefix });
  backends.push(backend);
  return backend;
}

const at = (ms: number) => new Date(ms);
const entry = (document: Note, version: number, created: number, updated: number): Entry<Note> => ({
  document,
  meta: { version, createdAt: at(created), updatedAt: at(updated) },
});

describe('RedisRepository.importEntries', () => {
  it('stores documents with their metadata exactly, replacing what an id held, and indexes see the imported values', async () => {
    const backend = open();
    const notes = backend.repository<Note>('notes', {
      indexes: [
        { field: 'email', type: 'string', unique: true },
        { field: 'n', type: 'number' },
        { field: '$updatedAt', type: 'date' },
      ],
    });
    await notes.insert({ id: 'b', email: 'old@x', n: 1 });
    const big = 2 ** 53 - 1;
    const written = await notes.importEntries([
      entry({ id: 'a', email: 'ada@x', n: 1e308 }, big, -5, 0),
      entry({ id: 'b', email: 'B@x', n: -0 }, 7, 1_000, 2_000),
      entry({ id: '__proto__', email: 'ada@x ', n: 5e-324, title: 'é\u{1F600}' }, 3, 10, 20),
    ]);
    expect(written).toBe(3);
    expect(await notes.getEntry('a')).toStrictEqual(entry({ id: 'a', email: 'ada@x', n: 1e308 }, big, -5, 0));
    expect(await notes.getEntry('b')).toStrictEqual(entry({ id: 'b', email: 'B@x', n: 0 }, 7, 1_000, 2_000));
    // The old unique value was freed with the replaced document; the new ones are held.
    expect((await notes.insert({ email: 'old@x' })).email).toBe('old@x');
    expect(isBerthError(await rejection(notes.insert({ email: 'ada@x' })), 'ALREADY_EXISTS')).toBe(true);
    expect((await notes.find({ where: { n: { $gte: 1e300 } } })).map((note) => note.id)).toStrictEqual(['a']);
    expect(
      (await notes.find({ where: { $updatedAt: { $lte: at(20) } }, orderBy: '$updatedAt' })).map((note) => note.id),
    ).toStrictEqual(['a', '__proto__']);
    // A later write bumps from the imported version and keeps the imported creation time.
    const updated = await notes.update('b', { $set: { tag: 't' } }, { returnEntry: true });
    expect(updated.meta.version).toBe(8);
    expect(updated.meta.createdAt).toStrictEqual(at(1_000));
  });

  it('is all or none: a unique clash with a stored document is ALREADY_EXISTS and imports nothing', async () => {
    const backend = open();
    const notes = backend.repository<Note>('notes', { indexes: [{ field: 'email', type: 'string', unique: true }] });
    await notes.insert({ id: 'holder', email: 'taken@x' });
    const error = await rejection(
      notes.importEntries([
        entry({ id: 'x', email: 'free@x' }, 1, 1, 1),
        entry({ id: 'y', email: 'taken@x' }, 1, 1, 1),
      ]),
    );
    expect(isBerthError(error, 'ALREADY_EXISTS')).toBe(true);
    expect(await notes.count()).toBe(1);
    expect(await notes.findOne({ where: { email: 'free@x' } })).toBeNull();
    // Two entries of one import taking one unique value clash too.
    const twice = await rejection(
      notes.importEntries([entry({ id: 'p', email: 'same@x' }, 1, 1, 1), entry({ id: 'q', email: 'same@x' }, 1, 1, 1)]),
    );
    expect(isBerthError(twice, 'ALREADY_EXISTS')).toBe(true);
    expect(await notes.count()).toBe(1);
  });

  it('lets stored documents trade unique values in one import, checked against the state it leaves', async () => {
    const notes = open().repository<Note>('notes', { indexes: [{ field: 'email', type: 'string', unique: true }] });
    await notes.insertMany([
      { id: 'a', email: 'x@x' },
      { id: 'b', email: 'y@x' },
    ]);
    await notes.importEntries([entry({ id: 'a', email: 'y@x' }, 2, 1, 2), entry({ id: 'b', email: 'x@x' }, 2, 1, 2)]);
    expect((await notes.findOne({ where: { email: 'x@x' } }))?.id).toBe('b');
    expect((await notes.findOne({ where: { email: 'y@x' } }))?.id).toBe('a');
  });

  it('checks entries like a write, naming the path, before anything is stored', async () => {
    const notes = open().repository<Note>('notes');
    const cases: [unknown[], string][] = [
      [[entry({ id: 'a' }, 0, 1, 1)], '0.meta.version'],
      [[entry({ id: 'a' }, 1, 1, 1), entry({ id: 'b' }, 2 ** 53, 1, 1)], '1.meta.version'],
      [
        [{ document: { id: 'a' }, meta: { version: 1, createdAt: new Date(Number.NaN), updatedAt: at(1) } }],
        '0.meta.createdAt',
      ],
      [[{ document: { id: 'a' }, meta: { version: 1, createdAt: at(1), updatedAt: 5 } }], '0.meta.updatedAt'],
      [[entry({ id: 'a', title: 'a\u0000b' }, 1, 1, 1)], '0.document.title'],
      [[entry({ id: 'a' }, 1, 1, 1), entry({ id: 'a' }, 2, 1, 1)], '1.document.id'],
      [[{ document: { id: 'a' } }], '0.meta'],
      [[null], '0'],
    ];
    for (const [entries, path] of cases) {
      const error = await rejection(notes.importEntries(entries as Entry<Note>[]));
      expect(isBerthError(error, 'VALIDATION') && error.path, JSON.stringify(path)).toBe(path);
    }
    expect(isBerthError(await rejection(notes.importEntries('no' as never)), 'VALIDATION')).toBe(true);
    expect(await notes.importEntries([])).toBe(0);
    expect(await notes.count()).toBe(0);
    const aborted = AbortSignal.abort();
    expect(isBerthError(await rejection(notes.importEntries([], { signal: aborted })), 'ABORTED')).toBe(true);
  });

  it('commits with the transaction it runs in, and rolls back with it', async () => {
    const backend = open();
    await backend.transaction(async (tx) => {
      await tx.repository<Note>('notes').importEntries([entry({ id: 'in' }, 4, 1, 2)]);
    });
    const failed = await rejection(
      backend.transaction(async (tx) => {
        await tx.repository<Note>('notes').importEntries([entry({ id: 'out' }, 4, 1, 2)]);
        throw new Error('give up');
      }),
    );
    expect((failed as Error).message).toBe('give up');
    const notes = backend.repository<Note>('notes');
    expect(await notes.getEntry('in')).toStrictEqual(entry({ id: 'in' }, 4, 1, 2));
    expect(await notes.get('out')).toBeNull();
    // An import refused inside a transaction leaves the transaction as it was; its other writes commit.
    const unique = { indexes: [{ field: 'email', type: 'string', unique: true }] } as const;
    await backend.repository<Note>('people', unique).insert({ id: 'holder', email: 'taken@x' });
    await backend.transaction(async (tx) => {
      const people = tx.repository<Note>('people', unique);
      await people.insert({ id: 'kept', email: 'kept@x' });
      const refused = await rejection(
        people.importEntries([
          entry({ id: 'p1', email: 'p1@x' }, 1, 1, 1),
          entry({ id: 'p2', email: 'taken@x' }, 1, 1, 1),
        ]),
      );
      expect(isBerthError(refused, 'ALREADY_EXISTS')).toBe(true);
    });
    const people = backend.repository<Note>('people');
    expect((await people.find({ orderBy: 'id' })).map((person) => person.id)).toStrictEqual(['holder', 'kept']);
  });
});

describe('RedisBackend.collections', () => {
  it('lists every collection of the prefix from another backend, sorted, with its indexes as declared', async () => {
    const first = open();
    const indexes = [
      { field: 'email', type: 'string', unique: true },
      { field: 'n', type: 'number' },
      {
        fields: [
          { field: 'tag', type: 'string' },
          { field: 'n', type: 'number' },
        ],
        name: 'by_tag',
      },
      {
        fields: [
          { field: 'email', type: 'string' },
          { field: 'tag', type: 'string' },
        ],
        unique: true,
      },
    ] as const;
    await first.repository<Note>('notes', { indexes: [...indexes] }).insert({ id: 'a', email: 'a@x', n: 1 });
    await first.repository<Note>('Zeta').insert({ id: 'z' });
    await first.repository<Note>('alpha', { indexes: [{ field: '$createdAt', type: 'date' }] }).get('none');
    await first.repository<Note>('opened').get('none');
    await first.queue('jobs').enqueue({ n: 1 });

    const second = open(first.keyPrefix);
    const listed = await second.collections();
    expect(listed.map((collection) => collection.name)).toStrictEqual(['Zeta', 'alpha', 'notes']);
    const byName = new Map(listed.map((collection) => [collection.name, collection]));
    expect(byName.get('notes')?.indexes).toStrictEqual(indexes);
    expect(byName.get('alpha')?.indexes).toStrictEqual([{ field: '$createdAt', type: 'date' }]);
    expect(byName.get('alpha')?.approximateBytes).toBe(0);
    expect(byName.get('notes')?.approximateBytes).toBeGreaterThan(0);
    // Another prefix on the same server sees none of them.
    expect(await open().collections()).toStrictEqual([]);
  });

  it('never lists a key that is not a collection registry, and refuses hostile names before they reach a key', async () => {
    const backend = open();
    await backend.repository<Note>('notes').insert({ id: 'x}:m' });
    // Keys planted by something else under the prefix, shaped like a registry.
    await checker.hset(`${backend.keyPrefix}{bad name}:m`, 'n', '1');
    await checker.hset(`${backend.keyPrefix}{q:jobs}:m`, 'n', '1');
    expect((await backend.collections()).map((collection) => collection.name)).toStrictEqual(['notes']);
    for (const name of ['a}:x', 'q:jobs', '*', '', 'a b']) {
      expect(isBerthError(await rejection((async () => backend.repository(name))()), 'VALIDATION')).toBe(true);
    }
    expect(isBerthError(await rejection(backend.collections({ signal: 'x' as never })), 'VALIDATION')).toBe(true);
    expect(isBerthError(await rejection(backend.collections({ signal: AbortSignal.abort() })), 'ABORTED')).toBe(true);
  });
});

describe('RedisBackend.migrate and the migrate option', () => {
  it('has nothing to migrate, accepts migrate: false in config and URL, and refuses other values', async () => {
    const backend = open();
    expect(await backend.migrate()).toStrictEqual({ applied: [] });
    const lazy = new RedisBackend({ url: REDIS_URL, keyPrefix: backend.keyPrefix, migrate: false });
    backends.push(lazy);
    await lazy.connect();
    expect(await lazy.migrate()).toStrictEqual({ applied: [] });
    const fromUrl = createBackendFromUrl(`${REDIS_URL}/?keyPrefix=${backend.keyPrefix}&migrate=false`) as RedisBackend;
    backends.push(fromUrl);
    await fromUrl.connect();
    expect(fromUrl.keyPrefix).toBe(backend.keyPrefix);
    const withTrue = createBackendFromUrl(`${REDIS_URL}/?migrate=true`) as RedisBackend;
    backends.push(withTrue);
    expect(() => createBackendFromUrl(`${REDIS_URL}/?migrate=no`)).toThrow(/migrate/);
    expect(() => new RedisBackend({ url: REDIS_URL, migrate: 'false' as never })).toThrow(/migrate/);
  });
});

describe('imports and a process killed in the middle', () => {
  const fixture = fileURLToPath(new URL('./fixtures/redis-import-child.ts', import.meta.url));
  const COUNT = 10_000;

  it('a SIGKILL during a big importEntries / importJobs leaves all or none of each, indexes consistent', async () => {
    const outcomes: string[] = [];
    for (const delayMs of [0, 200, 1_000, 2_500, 6_000]) {
      const keyPrefix = uniqueKeyPrefix('import_kill');
      prefixes.push(keyPrefix);
      const child = startQueueProcess(fixture, [REDIS_URL, keyPrefix, String(COUNT)], 'importer');
      let imported = false;
      try {
        await child.waitFor('READY', 90_000);
        const done = child.waitFor('IMPORTED', 90_000).then(() => {
          imported = true;
        });
        done.catch(() => {});
        child.process.stdin?.write('go\n');
        await child.waitFor('IMPORTING');
        await new Promise((resolve) => setTimeout(resolve, delayMs));
        child.process.kill('SIGKILL');
        await child.exited;
      } finally {
        if (child.process.exitCode === null && child.process.signalCode === null) child.process.kill('SIGKILL');
      }
      const backend = open(keyPrefix);
      const notes = backend.repository<Note>('notes', { indexes: [{ field: 'email', type: 'string', unique: true }] });
      const stored = await notes.count();
      const holders = await checker.hlen(`${keyPrefix}{notes}:u:email`);
      const { waiting } = await backend.queue('jobs').stats();
      const ready = await checker.zcard(`${keyPrefix}{q:jobs}:r`);
      expect([0, COUNT]).toContain(stored);
      expect(holders).toBe(stored);
      expect([0, COUNT]).toContain(waiting);
      expect(ready).toBe(waiting);
      if (imported) expect([stored, waiting]).toStrictEqual([COUNT, COUNT]);
      if (stored === COUNT) expect(await notes.getEntry(`n${COUNT - 1}`)).toMatchObject({ meta: { version: 3 } });
      outcomes.push(`${delayMs}ms: ${stored} entries, ${waiting} jobs`);
    }
    console.log(`SIGKILL during imports: ${outcomes.join('; ')}`);
  }, 300_000);
});

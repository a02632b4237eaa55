import { isBerthError } from '@berth/core';
import { describe, expect, it } from 'vitest';
import { DocumentBackend } from './document-backend.js';
import { MemoryDocumentStore } from './memory-document-store.js';

const encoder = new TextEncoder();

async function storeHolding(text: string): Promise<MemoryDocumentStore> {
  const store = new MemoryDocumentStore();
  await store.write(encoder.encode(text));
  return store;
}

async function storedText(store: MemoryDocumentStore): Promise<string> {
  const stored = await store.read();
  if (stored === null) throw new Error('nothing stored');
  return new TextDecoder().decode(stored.data);
}

/** Names that are properties of every plain object: as keys of the JSON document they are data. */
const PROTOTYPE_NAMES = ['__proto__', 'constructor', 'prototype', 'hasOwnProperty', 'toString', 'valueOf'];

describe('the JSON document of the document-backed backend', () => {
  it('saves and reloads ids named like Object.prototype members, __proto__ included, with their versions', async () => {
    const store = new MemoryDocumentStore();
    const backend = new DocumentBackend({ store, debounceMs: 60_000 });
    const items = backend.repository<{ id: string; n: number }>('items');
    for (const [n, id] of PROTOTYPE_NAMES.entries()) await items.insert({ id, n });
    await items.update('__proto__', { $inc: { n: 10 } });
    await backend.close();

    const reloaded = new DocumentBackend({ store });
    const again = reloaded.repository<{ id: string; n: number }>('items');
    expect((await again.find()).map((item) => item.id).sort()).toEqual([...PROTOTYPE_NAMES].sort());
    expect(await again.getEntry('__proto__')).toMatchObject({
      document: { id: '__proto__', n: 10 },
      meta: { version: 2 },
    });
    expect(await again.get('constructor')).toEqual({ id: 'constructor', n: 1 });
    await reloaded.close();
  });

  it('keeps collections named like Object.prototype members', async () => {
    const store = new MemoryDocumentStore();
    const backend = new DocumentBackend({ store, debounceMs: 60_000 });
    for (const name of ['constructor', 'toString', 'valueOf']) await backend.repository(name).insert({ id: name });
    await backend.close();
    const reloaded = new DocumentBackend({ store });
    for (const name of ['constructor', 'toString', 'valueOf']) {
      expect(await reloaded.repository(name).get(name)).toEqual({ id: name });
    }
    await reloaded.close();
  });

  it('loads a top-level __proto__ key and an entity keyed __proto__ from a file, and writes both back', async () => {
    const store = await storeHolding(
      '{"__proto__":{"owner":"another tool"},"items":{"__proto__":{"n":1},"constructor":{"n":2}}}',
    );
    const backend = new DocumentBackend({ store, debounceMs: 60_000 });
    const items = backend.repository<{ id: string; n: number }>('items');
    expect(await items.get('__proto__')).toEqual({ id: '__proto__', n: 1 });
    expect(await items.get('constructor')).toEqual({ id: 'constructor', n: 2 });
    await items.insert({ id: 'added', n: 3 });
    await backend.close();
    const saved = JSON.parse(await storedText(store)) as Record<string, unknown>;
    expect(Object.hasOwn(saved, '__proto__')).toBe(true);
    expect(JSON.stringify(Object.getOwnPropertyDescriptor(saved, '__proto__')?.value)).toBe('{"owner":"another tool"}');
    expect(Object.keys(saved.items as object).sort()).toEqual(['__proto__', 'added', 'constructor']);
  });

  it('refuses an entity holding a __proto__ key at any depth with CONNECTION, instead of dropping the key', async () => {
    for (const entity of ['{"__proto__":{"x":1},"n":1}', '{"n":{"__proto__":{"x":1}}}', '{"n":[{"__proto__":1}]}']) {
      const store = await storeHolding(`{"items":{"a":${entity}}}`);
      const error = await new DocumentBackend({ store }).connect().catch((caught: unknown) => caught);
      expect(isBerthError(error, 'CONNECTION'), entity).toBe(true);
      expect((error as Error).message, entity).toContain('__proto__');
    }
  });

  it('never replaces another tool’s data under a collection-like key: using that collection is VALIDATION', async () => {
    const original = { docs: [1, 2], count: 5, nothing: null, label: 'x', items: {} };
    const store = await storeHolding(JSON.stringify(original));
    const backend = new DocumentBackend({ store, debounceMs: 60_000 });
    for (const name of ['docs', 'count', 'nothing', 'label']) {
      const repository = backend.repository(name);
      const insert = await repository.insert({ id: 'a' }).catch((error: unknown) => error);
      expect(isBerthError(insert, 'VALIDATION'), `insert into ${name}`).toBe(true);
      expect((insert as Error).message).toContain(JSON.stringify(name));
      await expect(repository.get('a')).rejects.toMatchObject({ code: 'VALIDATION' });
      await expect(repository.count()).rejects.toMatchObject({ code: 'VALIDATION' });
      await expect(backend.transaction(async (tx) => tx.repository(name).insert({ id: 'b' }))).rejects.toMatchObject({
        code: 'VALIDATION',
      });
    }
    await backend.repository('items').insert({ id: 'kept' });
    await backend.close();
    const saved = JSON.parse(await storedText(store)) as Record<string, unknown>;
    expect({ ...saved, $berth: undefined, items: undefined }).toEqual({
      ...original,
      $berth: undefined,
      items: undefined,
    });
    expect(saved.items).toEqual({ kept: { id: 'kept' } });
  });

  const broken: readonly [string, unknown, string][] = [
    ['not an object', 'x', '$berth'],
    ['a newer format', { format: 2, meta: {} }, '$berth.format'],
    ['no format', { meta: {} }, '$berth.format'],
    ['meta not an object', { format: 1, meta: [] }, '$berth.meta'],
    ['a collection entry not an object', { format: 1, meta: { items: 5 } }, '$berth.meta.items'],
    ['a version as text', { format: 1, meta: { items: { a: ['7', 1, 1] } } }, '$berth.meta.items.a'],
    ['a version of 0', { format: 1, meta: { items: { a: [0, 1, 1] } } }, '$berth.meta.items.a'],
    ['a fractional version', { format: 1, meta: { items: { a: [1.5, 1, 1] } } }, '$berth.meta.items.a'],
    ['a date as text', { format: 1, meta: { items: { a: [1, 'yesterday', 1] } } }, '$berth.meta.items.a'],
    ['a date out of range', { format: 1, meta: { items: { a: [1, 1, 1e20] } } }, '$berth.meta.items.a'],
    ['updatedAt before createdAt', { format: 1, meta: { items: { a: [1, 10, 5] } } }, '$berth.meta.items.a'],
    ['a tuple too short', { format: 1, meta: { items: { a: [1, 1] } } }, '$berth.meta.items.a'],
    ['indexes not an object', { format: 1, indexes: [] }, '$berth.indexes'],
    ['a collection’s indexes not an array', { format: 1, indexes: { items: { field: 'n' } } }, '$berth.indexes.items'],
    [
      'an index without unique',
      { format: 1, indexes: { items: [{ field: 'n', type: 'number' }] } },
      '$berth.indexes.items',
    ],
    [
      'an index with unique as text',
      { format: 1, indexes: { items: [{ field: 'n', type: 'number', unique: 'yes' }] } },
      '$berth.indexes.items',
    ],
    [
      'an index of an unknown type',
      { format: 1, indexes: { items: [{ field: 'n', type: 'text', unique: true }] } },
      '$berth.indexes.items',
    ],
    [
      'an index on an empty field',
      { format: 1, indexes: { items: [{ field: '', type: 'number', unique: true }] } },
      '$berth.indexes.items',
    ],
    [
      'an index on a __proto__ path',
      { format: 1, indexes: { items: [{ field: '__proto__.n', type: 'number', unique: true }] } },
      '$berth.indexes.items',
    ],
    [
      'an index with a key of its own',
      { format: 1, indexes: { items: [{ field: 'n', type: 'number', unique: true, sparse: true }] } },
      '$berth.indexes.items',
    ],
    [
      'a field indexed twice',
      {
        format: 1,
        indexes: {
          items: [
            { field: 'n', type: 'number', unique: true },
            { field: 'n', type: 'number', unique: false },
          ],
        },
      },
      '$berth.indexes.items',
    ],
    [
      'a compound index of one field',
      { format: 1, indexes: { items: [{ fields: [{ field: 'n', type: 'number' }], unique: true }] } },
      '$berth.indexes.items',
    ],
    [
      'a compound index with a key of its own',
      {
        format: 1,
        indexes: {
          items: [
            {
              fields: [
                { field: 'n', type: 'number' },
                { field: 'm', type: 'number' },
              ],
              unique: true,
              sparse: true,
            },
          ],
        },
      },
      '$berth.indexes.items',
    ],
    ['indexes under a name that is no collection’s', { format: 1, indexes: { $x: [] } }, '$berth.indexes.$x'],
  ];
  for (const [what, berth, key] of broken) {
    it(`refuses metadata with ${what} at load with CONNECTION naming ${key}`, async () => {
      const store = await storeHolding(JSON.stringify({ items: { a: { n: 1 } }, $berth: berth }));
      const before = await storedText(store);
      const backend = new DocumentBackend({ store, debounceMs: 1 });
      const error = await backend.connect().catch((caught: unknown) => caught);
      expect(isBerthError(error, 'CONNECTION'), String(error)).toBe(true);
      expect((error as { retryable?: boolean }).retryable).toBe(false);
      expect((error as Error).message).toContain(key);
      await expect(backend.repository('items').update('a', { n: 2 })).rejects.toMatchObject({ code: 'CONNECTION' });
      await backend.close();
      expect(await storedText(store)).toBe(before);
    });
  }

  it('loads valid metadata as it is and gives entities without metadata version 1', async () => {
    const store = await storeHolding(
      JSON.stringify({
        items: { a: { n: 1 }, b: { n: 2 } },
        $berth: { format: 1, meta: { items: { a: [7, 1000, 2000] } } },
      }),
    );
    const backend = new DocumentBackend({ store, debounceMs: 60_000 });
    const items = backend.repository<{ id: string; n: number }>('items');
    expect((await items.getEntry('a'))?.meta).toEqual({
      version: 7,
      createdAt: new Date(1000),
      updatedAt: new Date(2000),
    });
    expect((await items.getEntry('b'))?.meta.version).toBe(1);
    await items.update('a', { $inc: { n: 1 } });
    expect((await items.getEntry('a'))?.meta.version).toBe(8);
    await backend.close();
  });
});

interface User {
  id: string;
  email?: unknown;
  n?: number;
}

const UNIQUE_EMAIL = [{ field: 'email', type: 'string', unique: true }] as const;

/** What `$berth.indexes` holds in the stored document. */
async function storedIndexes(store: MemoryDocumentStore): Promise<unknown> {
  return (JSON.parse(await storedText(store)) as { $berth: { indexes?: unknown } }).$berth.indexes;
}

describe('writing a large document', () => {
  it('writes text past many encoding chunks exactly as JSON.stringify would, multi-byte characters and Dates included', async () => {
    const store = new MemoryDocumentStore();
    const backend = new DocumentBackend({ store, debounceMs: 60_000 });
    const notes = backend.repository<{ id: string; text: string; at: Date }>('notes');
    const at = new Date('2026-11-26T12:00:00.000Z');
    // About 300 000 characters: several 64 KB chunks, with 2- to 4-byte characters on every boundary.
    const documents = Array.from({ length: 2_000 }, (_, i) => ({ id: `n${i}`, text: `é😀€ ${i} `.repeat(20), at }));
    await notes.insertMany(documents);
    await backend.close();

    const parsed = JSON.parse(await storedText(store)) as { notes: Record<string, unknown> };
    expect(Object.keys(parsed)).toEqual(['notes', '$berth']);
    expect(parsed.notes.n1999).toEqual({ id: 'n1999', text: `é😀€ 1999 `.repeat(20), at: { $date: at.toISOString() } });
    const reloaded = new DocumentBackend({ store });
    const byId = (a: { id: string }, b: { id: string }) => (a.id < b.id ? -1 : 1);
    expect(await reloaded.repository('notes').find()).toEqual([...documents].sort(byId));
    await reloaded.close();
  });
});

describe('index declarations in the JSON document', () => {
  it('a backend reopened on the document enforces a unique index declared before, without redeclaring it', async () => {
    const store = new MemoryDocumentStore();
    const first = new DocumentBackend({ store, debounceMs: 60_000 });
    await first.repository<User>('users', { indexes: UNIQUE_EMAIL }).insert({ id: 'a', email: 'ada@example.com' });
    await first.close();
    expect(await storedIndexes(store)).toEqual({ users: [{ field: 'email', type: 'string', unique: true }] });

    const second = new DocumentBackend({ store, debounceMs: 60_000 });
    const users = second.repository<User>('users');
    await expect(users.insert({ id: 'b', email: 'ada@example.com' })).rejects.toMatchObject({
      code: 'ALREADY_EXISTS',
      field: 'email',
    });
    await expect(
      second.transaction(async (tx) => tx.repository<User>('users').insert({ id: 'b', email: 'ada@example.com' })),
    ).rejects.toMatchObject({ code: 'ALREADY_EXISTS', field: 'email' });
    await users.update('a', { email: 'x' });
    await users.insert({ id: 'c', email: 'carol@example.com' });
    await expect(users.update('c', { email: 'x' })).rejects.toMatchObject({ code: 'ALREADY_EXISTS', field: 'email' });
    expect(await users.explain({ where: { email: 'x' } })).toMatchObject({ strategy: 'index' });
    await second.close();
  });

  it('saves a declaration made without any write, and one made on a collection that holds nothing', async () => {
    const store = await storeHolding('{"users":{"a":{"email":"ada@example.com"}}}');
    const backend = new DocumentBackend({ store, debounceMs: 60_000 });
    expect(await backend.repository<User>('users', { indexes: UNIQUE_EMAIL }).count()).toBe(1);
    expect(await backend.repository<User>('empty', { indexes: [{ field: 'n', type: 'number' }] }).count()).toBe(0);
    await backend.close();
    expect(await storedIndexes(store)).toEqual({
      users: [{ field: 'email', type: 'string', unique: true }],
      empty: [{ field: 'n', type: 'number', unique: false }],
    });
    const reloaded = new DocumentBackend({ store, debounceMs: 60_000 });
    expect(await reloaded.repository<User>('empty').explain({ where: { n: 1 } })).toMatchObject({ strategy: 'index' });
    await expect(
      reloaded.repository<User>('users').insert({ id: 'b', email: 'ada@example.com' }),
    ).rejects.toMatchObject({ code: 'ALREADY_EXISTS' });
    await reloaded.close();
  });

  it('writes no indexes key when nothing is declared, so such a file reads as before', async () => {
    const store = new MemoryDocumentStore();
    const backend = new DocumentBackend({ store, debounceMs: 60_000 });
    await backend.repository<User>('users').insert({ id: 'a' });
    await backend.close();
    expect(await storedIndexes(store)).toBeUndefined();
  });

  it('declarations add up, as on SQLite: a stored unique index stays unique when declared without unique', async () => {
    const store = new MemoryDocumentStore();
    const first = new DocumentBackend({ store, debounceMs: 60_000 });
    await first.repository<User>('users', { indexes: UNIQUE_EMAIL }).insert({ id: 'a', email: 'ada@example.com' });
    await first.close();
    const second = new DocumentBackend({ store, debounceMs: 60_000 });
    const users = second.repository<User>('users', {
      indexes: [
        { field: 'email', type: 'string' },
        { field: 'n', type: 'number' },
      ],
    });
    await expect(users.insert({ id: 'b', email: 'ada@example.com' })).rejects.toMatchObject({
      code: 'ALREADY_EXISTS',
    });
    await second.close();
    expect(await storedIndexes(store)).toEqual({
      users: [
        { field: 'email', type: 'string', unique: true },
        { field: 'n', type: 'number', unique: false },
      ],
    });
  });

  it('declaring unique on a stored plain index checks the documents: a shared value is ALREADY_EXISTS', async () => {
    const store = new MemoryDocumentStore();
    const first = new DocumentBackend({ store, debounceMs: 60_000 });
    await first.repository<User>('users', { indexes: [{ field: 'email', type: 'string' }] }).insertMany([
      { id: 'a', email: 'same' },
      { id: 'b', email: 'same' },
    ]);
    await first.close();
    const second = new DocumentBackend({ store, debounceMs: 60_000 });
    await expect(second.repository<User>('users', { indexes: UNIQUE_EMAIL }).count()).rejects.toMatchObject({
      code: 'ALREADY_EXISTS',
      field: 'email',
    });
    await second.repository<User>('users').insert({ id: 'c', email: 'same' });
    await second.close();
    expect(await storedIndexes(store)).toEqual({ users: [{ field: 'email', type: 'string', unique: false }] });
  });

  it('refuses a stored unique index that the stored documents break, and indexes on another tool’s key, with CONNECTION', async () => {
    const cases: readonly [string, string][] = [
      [
        '{"users":{"a":{"email":"x"},"b":{"email":"x"}},"$berth":{"format":1,"indexes":{"users":[{"field":"email","type":"string","unique":true}]}}}',
        '$berth.indexes.users',
      ],
      [
        '{"users":[1,2],"$berth":{"format":1,"indexes":{"users":[{"field":"email","type":"string","unique":true}]}}}',
        '$berth.indexes.users',
      ],
    ];
    for (const [text, key] of cases) {
      const store = await storeHolding(text);
      const backend = new DocumentBackend({ store, debounceMs: 1 });
      const error = await backend.connect().catch((caught: unknown) => caught);
      expect(isBerthError(error, 'CONNECTION'), String(error)).toBe(true);
      expect((error as Error).message).toContain(key);
      await backend.close();
      expect(await storedText(store)).toBe(text);
    }
  });
});

describe('compound index declarations in the document', () => {
  it('are saved with their fields, uniqueness and name, and a backend opened later enforces them without redeclaring', async () => {
    const store = new MemoryDocumentStore();
    const backend = new DocumentBackend({ store, debounceMs: 60_000 });
    const fields = [
      { field: 'player', type: 'string' },
      { field: 'round', type: 'number' },
    ] as const;
    await backend
      .repository('scores', { indexes: [{ fields, unique: true, name: 'byRound' }, { fields: [...fields].reverse() }] })
      .insert({ id: 'a', player: 'ada', round: 1 });
    await backend.close();
    const saved = JSON.parse(await storedText(store)) as { $berth: { indexes: unknown } };
    expect(saved.$berth.indexes).toEqual({
      scores: [
        { fields, unique: true, name: 'byRound' },
        { fields: [...fields].reverse(), unique: false },
      ],
    });
    const reloaded = new DocumentBackend({ store });
    const scores = reloaded.repository('scores');
    await expect(scores.insert({ id: 'b', player: 'ada', round: 1 })).rejects.toMatchObject({
      code: 'ALREADY_EXISTS',
      field: 'player+round',
    });
    await scores.insert({ id: 'c', player: 'ada', round: 2 });
    expect((await scores.explain({ where: { player: 'ada' }, orderBy: 'round', limit: 1 })).index).toBe(
      'scores_byRound_uidx',
    );
    await reloaded.close();
  });
});

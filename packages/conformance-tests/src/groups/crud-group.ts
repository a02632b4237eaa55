import type { Document, DocumentMeta, Repository } from '@berth/core';
import { expect } from 'vitest';
import { type ConformanceGroup, defineGroup } from '../harness.js';
import { expectBerthError, expectUnchanged, invalid, type LooseDocument, snapshot } from './assertions.js';
import { LOOKALIKE_STRINGS } from './query-fixtures.js';

interface Item extends Document {
  name: string;
  n: number;
  group?: string;
}

/** Clock skew allowed between this process and an engine that stamps times itself. */
const CLOCK_TOLERANCE_MS = 60_000;

async function metaOf<T extends Document>(repository: Repository<T>, id: string): Promise<DocumentMeta> {
  const entry = await repository.getEntry(id);
  if (entry === null) return expect.unreachable(`document ${id} is missing`);
  return entry.meta;
}

function expectTimestamps(meta: DocumentMeta, before: number, after: number): void {
  expect(meta.createdAt).toBeInstanceOf(Date);
  expect(meta.updatedAt).toBeInstanceOf(Date);
  expect(meta.createdAt.getTime()).toBeGreaterThanOrEqual(before - CLOCK_TOLERANCE_MS);
  expect(meta.createdAt.getTime()).toBeLessThanOrEqual(after + CLOCK_TOLERANCE_MS);
  expect(meta.updatedAt.getTime()).toBeGreaterThanOrEqual(meta.createdAt.getTime());
}

/**
 * The basic reads and writes: `get`, `getEntry`, `getMany`, `insert`, `replace`, `upsert`, `delete`, their
 * errors and the metadata (version, timestamps) they leave.
 *
 * ### Examples
 * ```ts
 * import { type ConformanceOptions, crudGroup, registerGroup } from '@berth/conformance-tests';
 *
 * declare const options: ConformanceOptions; // what your adapter passes to repositoryConformance
 * registerGroup(crudGroup, options);
 * ```
 */
export const crudGroup: ConformanceGroup = defineGroup('crud', [
  {
    name: 'get and getEntry return null for a missing id, even in a collection never written',
    async run(context) {
      const repository = context.repository<Item>();
      expect(await repository.get('missing')).toBeNull();
      expect(await repository.getEntry('missing')).toBeNull();
      await repository.insert({ id: 'present', name: 'a', n: 1 });
      expect(await repository.get('missing')).toBeNull();
      expect(await repository.getEntry('missing')).toBeNull();
    },
  },
  {
    name: 'getMany returns documents in the order asked, with null for missing ids and repeats kept',
    async run(context) {
      const repository = context.repository<Item>();
      const a = await repository.insert({ id: 'a', name: 'a', n: 1 });
      const b = await repository.insert({ id: 'b', name: 'b', n: 2 });
      expect(await repository.getMany(['b', 'missing', 'a', 'b'])).toStrictEqual([b, null, a, b]);
      expect(await repository.getMany([])).toStrictEqual([]);
      expect(await repository.getMany(['x', 'y'])).toStrictEqual([null, null]);
    },
  },
  {
    name: 'insert returns the document as stored',
    async run(context) {
      const repository = context.repository<Item>();
      const inserted = await repository.insert({ id: 'a', name: 'first', n: 1 });
      expect(inserted).toStrictEqual({ id: 'a', name: 'first', n: 1 });
      expect(await repository.get('a')).toStrictEqual(inserted);
    },
  },
  {
    name: 'ids named like Object.prototype members (__proto__, constructor…) are ids like any other',
    async run(context) {
      const repository = context.repository<Item>();
      // An engine that keeps documents in a plain object keyed by id loses or confuses these.
      const ids = ['__proto__', 'constructor', 'prototype', 'hasOwnProperty', 'toString', 'valueOf'];
      expect(await repository.get('constructor')).toBeNull();
      for (const [n, id] of ids.entries()) await repository.insert({ id, name: id, n });
      expect(await repository.get('__proto__')).toStrictEqual({ id: '__proto__', name: '__proto__', n: 0 });
      expect((await repository.find({ orderBy: 'n' })).map((item) => item.id)).toStrictEqual(ids);
      const some = await repository.find({ where: { id: { $in: ['__proto__', 'toString'] } }, orderBy: 'n' });
      expect(some.map((item) => item.id)).toStrictEqual(['__proto__', 'toString']);
      expect(await repository.count()).toBe(ids.length);
      await expectBerthError(repository.insert({ id: '__proto__', name: 'again', n: 9 }), 'ALREADY_EXISTS', {
        field: 'id',
      });
      expect(await repository.delete('__proto__')).toBe(true);
      expect(await repository.get('__proto__')).toBeNull();
      expect(await repository.delete('constructor')).toBe(true);
      expect((await repository.find({ orderBy: 'n' })).map((item) => item.id)).toStrictEqual(ids.slice(2));
    },
  },
  {
    name: 'rejects inserting a second document with the same id as ALREADY_EXISTS on field id, keeping the first',
    async run(context) {
      const repository = context.repository<Item>();
      await repository.insert({ id: 'dup-7', name: 'first', n: 1 });
      const error = await expectBerthError(repository.insert({ id: 'dup-7', name: 'second', n: 2 }), 'ALREADY_EXISTS', {
        field: 'id',
      });
      expect(error.message).toContain(repository.name);
      expect(error.message).toContain('dup-7');
      expect(await repository.get('dup-7')).toStrictEqual({ id: 'dup-7', name: 'first', n: 1 });
      expect((await metaOf(repository, 'dup-7')).version).toBe(1);
    },
  },
  {
    name: 'rejects replacing a missing document as NOT_FOUND without creating it',
    async run(context) {
      const repository = context.repository<Item>();
      const error = await expectBerthError(repository.replace({ id: 'ghost', name: 'x', n: 1 }), 'NOT_FOUND');
      expect(error.message).toContain(repository.name);
      expect(error.message).toContain('ghost');
      expect(await repository.get('ghost')).toBeNull();
    },
  },
  {
    name: 'replace swaps the whole document: fields it leaves out are gone',
    async run(context) {
      const repository = context.repository<Item>();
      await repository.insert({ id: 'a', name: 'first', n: 1, group: 'g' });
      const replaced = await repository.replace({ id: 'a', name: 'second', n: 2 });
      expect(replaced).toStrictEqual({ id: 'a', name: 'second', n: 2 });
      expect(await repository.get('a')).toStrictEqual({ id: 'a', name: 'second', n: 2 });
    },
  },
  {
    name: 'upsert inserts a missing document, then replaces it whole',
    async run(context) {
      const repository = context.repository<Item>();
      expect(await repository.upsert({ id: 'a', name: 'first', n: 1, group: 'g' })).toStrictEqual({
        id: 'a',
        name: 'first',
        n: 1,
        group: 'g',
      });
      expect((await metaOf(repository, 'a')).version).toBe(1);
      expect(await repository.upsert({ id: 'a', name: 'second', n: 2 })).toStrictEqual({
        id: 'a',
        name: 'second',
        n: 2,
      });
      expect(await repository.get('a')).toStrictEqual({ id: 'a', name: 'second', n: 2 });
      expect((await metaOf(repository, 'a')).version).toBe(2);
      expect(await repository.count()).toBe(1);
    },
  },
  {
    name: 'delete returns true when the document existed and false when it did not',
    async run(context) {
      const repository = context.repository<Item>();
      expect(await repository.delete('never')).toBe(false);
      await repository.insert({ id: 'a', name: 'a', n: 1 });
      await repository.insert({ id: 'b', name: 'b', n: 2 });
      expect(await repository.delete('a')).toBe(true);
      expect(await repository.get('a')).toBeNull();
      expect(await repository.delete('a')).toBe(false);
      expect(await repository.get('b')).toStrictEqual({ id: 'b', name: 'b', n: 2 });
    },
  },
  {
    name: 'delete with an expected version of a missing document is NOT_FOUND',
    async run(context) {
      const repository = context.repository<Item>();
      await expectBerthError(repository.delete('ghost', { expectedVersion: 1 }), 'NOT_FOUND');
      await repository.insert({ id: 'a', name: 'a', n: 1 });
      await repository.delete('a');
      await expectBerthError(repository.delete('a', { expectedVersion: 1 }), 'NOT_FOUND');
    },
  },
  {
    name: 'update of a missing document is NOT_FOUND naming the collection and id',
    async run(context) {
      const repository = context.repository<Item>();
      const error = await expectBerthError(repository.update('ghost', { name: 'x' }), 'NOT_FOUND');
      expect(error.message).toContain(repository.name);
      expect(error.message).toContain('ghost');
      expect(await repository.get('ghost')).toBeNull();
    },
  },
  {
    name: 'insert sets version 1 and Date timestamps near now, with updatedAt not before createdAt',
    async run(context) {
      const repository = context.repository<Item>();
      const before = Date.now();
      await repository.insert({ id: 'a', name: 'a', n: 1 });
      const after = Date.now();
      const meta = await metaOf(repository, 'a');
      expect(meta.version).toBe(1);
      expectTimestamps(meta, before, after);
      expect(Object.keys((await repository.getEntry('a'))?.document ?? {}).sort()).toStrictEqual(['id', 'n', 'name']);
    },
  },
  {
    name: 'every update, replace and upsert bumps version by one, keeps createdAt and advances updatedAt',
    async run(context) {
      const repository = context.repository<Item>();
      await repository.insert({ id: 'a', name: 'a', n: 1 });
      const first = await metaOf(repository, 'a');
      const writes: (() => Promise<unknown>)[] = [
        () => repository.update('a', { name: 'b' }),
        () => repository.update('a', { $inc: { n: 1 } }),
        () => repository.replace({ id: 'a', name: 'c', n: 5 }),
        () => repository.upsert({ id: 'a', name: 'd', n: 6 }),
        () => repository.updateMany({ id: 'a' }, { $set: { name: 'e' } }),
        () => repository.upsertMany([{ id: 'a', name: 'f', n: 7 }]),
      ];
      let previous = first;
      for (const [index, write] of writes.entries()) {
        await write();
        const meta = await metaOf(repository, 'a');
        expect(meta.version).toBe(index + 2);
        expect(meta.createdAt.getTime()).toBe(first.createdAt.getTime());
        expect(meta.updatedAt).toBeInstanceOf(Date);
        expect(meta.updatedAt.getTime()).toBeGreaterThanOrEqual(previous.updatedAt.getTime());
        previous = meta;
      }
      expect(await repository.get('a')).toStrictEqual({ id: 'a', name: 'f', n: 7 });
    },
  },
  {
    name: 're-inserting a deleted id starts again at version 1',
    async run(context) {
      const repository = context.repository<Item>();
      await repository.insert({ id: 'a', name: 'a', n: 1 });
      await repository.update('a', { n: 2 });
      await repository.delete('a');
      await repository.insert({ id: 'a', name: 'again', n: 3 });
      expect((await metaOf(repository, 'a')).version).toBe(1);
    },
  },
  {
    name: 'writes with the matching expected version succeed',
    async run(context) {
      const repository = context.repository<Item>();
      await repository.insert({ id: 'a', name: 'a', n: 1 });
      await repository.update('a', { n: 2 }, { expectedVersion: 1 });
      await repository.replace({ id: 'a', name: 'b', n: 3 }, { expectedVersion: 2 });
      await repository.upsert({ id: 'a', name: 'c', n: 4 }, { expectedVersion: 3 });
      expect((await metaOf(repository, 'a')).version).toBe(4);
      expect(await repository.delete('a', { expectedVersion: 4 })).toBe(true);
      expect(await repository.get('a')).toBeNull();
    },
  },
  {
    name: 'update, replace, upsert and delete with a stale expected version fail with a retryable CONFLICT and write nothing',
    async run(context) {
      const repository = context.repository<Item>();
      await repository.insert({ id: 'a', name: 'a', n: 1 });
      await repository.update('a', { n: 2 });
      const before = await snapshot(repository);
      const options = { expectedVersion: 1 };
      await expectBerthError(repository.update('a', { n: 9 }, options), 'CONFLICT', { retryable: true });
      await expectBerthError(repository.update('a', { $inc: { n: 9 } }, options), 'CONFLICT', { retryable: true });
      await expectBerthError(repository.replace({ id: 'a', name: 'x', n: 9 }, options), 'CONFLICT', {
        retryable: true,
      });
      await expectBerthError(repository.upsert({ id: 'a', name: 'x', n: 9 }, options), 'CONFLICT', {
        retryable: true,
      });
      await expectBerthError(repository.delete('a', options), 'CONFLICT', { retryable: true });
      await expectBerthError(repository.delete('a', { expectedVersion: 3 }), 'CONFLICT', { retryable: true });
      // Versions past a 32-bit integer are still versions: a mismatch, not a value the engine cannot hold.
      for (const expectedVersion of [2 ** 31, Number.MAX_SAFE_INTEGER]) {
        const far = { expectedVersion };
        await expectBerthError(repository.update('a', { n: 9 }, far), 'CONFLICT', { retryable: true });
        await expectBerthError(repository.update('a', { $inc: { n: 9 } }, far), 'CONFLICT', { retryable: true });
        await expectBerthError(repository.replace({ id: 'a', name: 'x', n: 9 }, far), 'CONFLICT', { retryable: true });
        await expectBerthError(repository.upsert({ id: 'a', name: 'x', n: 9 }, far), 'CONFLICT', { retryable: true });
        await expectBerthError(repository.delete('a', far), 'CONFLICT', { retryable: true });
      }
      await expectUnchanged(repository, before);
    },
  },
  {
    name: 'of 20 parallel updates with the same expected version exactly one wins and the others get CONFLICT',
    async run(context) {
      const repository = context.repository<Item>();
      await repository.insert({ id: 'a', name: 'start', n: 0 });
      const results = await Promise.allSettled(
        Array.from({ length: 20 }, (_, index) =>
          repository.update('a', { name: `writer-${index}`, n: index }, { expectedVersion: 1 }),
        ),
      );
      const winners = results.flatMap((result, index) => (result.status === 'fulfilled' ? [index] : []));
      expect(winners).toHaveLength(1);
      for (const result of results) {
        if (result.status === 'rejected') {
          await expectBerthError(Promise.reject(result.reason), 'CONFLICT', { retryable: true });
        }
      }
      const winner = winners[0] ?? -1;
      expect(await repository.get('a')).toStrictEqual({ id: 'a', name: `writer-${winner}`, n: winner });
      expect((await metaOf(repository, 'a')).version).toBe(2);
    },
  },
  {
    name: 'of 20 parallel replaces with the same expected version exactly one wins and the others get CONFLICT',
    async run(context) {
      const repository = context.repository<Item>();
      await repository.insert({ id: 'a', name: 'start', n: 0 });
      const results = await Promise.allSettled(
        Array.from({ length: 20 }, (_, index) =>
          repository.replace({ id: 'a', name: `writer-${index}`, n: index }, { expectedVersion: 1 }),
        ),
      );
      const winners = results.flatMap((result, index) => (result.status === 'fulfilled' ? [index] : []));
      expect(winners).toHaveLength(1);
      for (const result of results) {
        if (result.status === 'rejected') {
          await expectBerthError(Promise.reject(result.reason), 'CONFLICT', { retryable: true });
        }
      }
      const winner = winners[0] ?? -1;
      expect(await repository.get('a')).toStrictEqual({ id: 'a', name: `writer-${winner}`, n: winner });
      expect((await metaOf(repository, 'a')).version).toBe(2);
    },
  },
  {
    name: 'insertMany inserts every document and returns them in order, generating missing ids',
    async run(context) {
      const repository = context.repository<Item>();
      const inserted = await repository.insertMany([
        { id: 'b', name: 'b', n: 2 },
        { name: 'generated', n: 3 },
        { id: 'a', name: 'a', n: 1 },
      ]);
      expect(inserted.map((document) => document.name)).toStrictEqual(['b', 'generated', 'a']);
      expect(inserted[0]).toStrictEqual({ id: 'b', name: 'b', n: 2 });
      const generatedId = inserted[1]?.id ?? '';
      expect(typeof generatedId).toBe('string');
      expect(generatedId).not.toBe('');
      expect(await repository.getMany(['a', 'b', generatedId])).toStrictEqual([inserted[2], inserted[0], inserted[1]]);
      for (const document of inserted) expect((await metaOf(repository, document.id)).version).toBe(1);
      expect(await repository.insertMany([])).toStrictEqual([]);
      expect(await repository.count()).toBe(3);
    },
  },
  {
    name: 'insertMany with one id already taken writes nothing',
    async run(context) {
      const repository = context.repository<Item>();
      await repository.insert({ id: 'taken', name: 'original', n: 0 });
      const before = await snapshot(repository);
      await expectBerthError(
        repository.insertMany([
          { id: 'new1', name: 'x', n: 1 },
          { id: 'taken', name: 'y', n: 2 },
          { id: 'new2', name: 'z', n: 3 },
        ]),
        'ALREADY_EXISTS',
        { field: 'id' },
      );
      await expectUnchanged(repository, before);
    },
  },
  {
    name: 'insertMany with the same id twice in one call writes nothing',
    async run(context) {
      const repository = context.repository<Item>();
      await expectBerthError(
        repository.insertMany([
          { id: 'a', name: 'x', n: 1 },
          { id: 'b', name: 'y', n: 2 },
          { id: 'a', name: 'z', n: 3 },
        ]),
        'ALREADY_EXISTS',
        { field: 'id' },
      );
      expect(await repository.count()).toBe(0);
    },
  },
  {
    name: 'insertMany with one invalid value writes nothing',
    async run(context) {
      const repository = context.repository<LooseDocument>();
      await repository.insert({ id: 'existing', n: 0 });
      const before = await snapshot(repository);
      await expectBerthError(
        repository.insertMany([{ id: 'a', n: 1 }, { id: 'b', n: 2 }, invalid({ id: 'c', n: Number.NaN })]),
        'VALIDATION',
      );
      await expectUnchanged(repository, before);
    },
  },
  {
    name: 'upsertMany inserts missing documents and replaces existing ones, bumping their versions',
    async run(context) {
      const repository = context.repository<Item>();
      await repository.insert({ id: 'a', name: 'old', n: 1, group: 'g' });
      const result = await repository.upsertMany([
        { id: 'b', name: 'new', n: 2 },
        { id: 'a', name: 'replaced', n: 3 },
      ]);
      expect(result).toStrictEqual([
        { id: 'b', name: 'new', n: 2 },
        { id: 'a', name: 'replaced', n: 3 },
      ]);
      expect(await repository.get('a')).toStrictEqual({ id: 'a', name: 'replaced', n: 3 });
      expect((await metaOf(repository, 'a')).version).toBe(2);
      expect((await metaOf(repository, 'b')).version).toBe(1);
      expect(await repository.upsertMany([])).toStrictEqual([]);
    },
  },
  {
    name: 'upsertMany with one invalid document writes nothing',
    async run(context) {
      const repository = context.repository<LooseDocument>();
      await repository.insert({ id: 'a', n: 1 });
      const before = await snapshot(repository);
      await expectBerthError(
        repository.upsertMany([
          { id: 'a', n: 2 },
          { id: 'b', n: 3 },
          invalid({ id: 'c', n: Number.POSITIVE_INFINITY }),
        ]),
        'VALIDATION',
      );
      await expectUnchanged(repository, before);
    },
  },
  {
    name: 'updateMany changes every match, returns how many, and leaves the rest untouched',
    async run(context) {
      const repository = context.repository<Item>();
      await repository.insertMany([
        { id: 'a', name: 'a', n: 1, group: 'x' },
        { id: 'b', name: 'b', n: 2, group: 'x' },
        { id: 'c', name: 'c', n: 3, group: 'y' },
      ]);
      expect(await repository.updateMany({ group: 'x' }, { $inc: { n: 10 } })).toBe(2);
      expect(await repository.getMany(['a', 'b', 'c'])).toStrictEqual([
        { id: 'a', name: 'a', n: 11, group: 'x' },
        { id: 'b', name: 'b', n: 12, group: 'x' },
        { id: 'c', name: 'c', n: 3, group: 'y' },
      ]);
      expect((await metaOf(repository, 'a')).version).toBe(2);
      expect((await metaOf(repository, 'c')).version).toBe(1);
      expect(await repository.updateMany({ group: 'nobody' }, { name: 'z' })).toBe(0);
      expect(await repository.updateMany({ group: 'y' }, { name: 'patched' })).toBe(1);
      expect(await repository.get('c')).toStrictEqual({ id: 'c', name: 'patched', n: 3, group: 'y' });
    },
  },
  {
    name: 'updateMany that fails on one match changes none of them',
    async run(context) {
      const repository = context.repository<LooseDocument>();
      await repository.insertMany([
        { id: 'a', n: 1, group: 'x' },
        { id: 'b', n: 'not a number', group: 'x' },
        { id: 'c', n: 3, group: 'x' },
      ]);
      const before = await snapshot(repository);
      await expectBerthError(repository.updateMany({ group: 'x' }, { $inc: { n: 1 } }), 'VALIDATION');
      await expectUnchanged(repository, before);
    },
  },
  {
    name: 'ids differing only by trailing spaces, case, accent or astral character are different documents',
    async run(context) {
      const repository = context.repository<LooseDocument>();
      for (const id of LOOKALIKE_STRINGS) await repository.insert({ id, value: id });
      for (const id of LOOKALIKE_STRINGS) {
        expect(await repository.get(id)).toStrictEqual({ id, value: id });
        expect(await repository.find({ where: { id } })).toStrictEqual([{ id, value: id }]);
        expect(await repository.count({ id: { $in: [id] } })).toBe(1);
      }
      for (const absent of ['a   ', ' a ', 'A ', '\u00c9', 'E\u0301', '😁 ']) {
        expect(await repository.get(absent), `get(${JSON.stringify(absent)})`).toBeNull();
        expect(await repository.exists({ id: absent })).toBe(false);
        expect(await repository.delete(absent)).toBe(false);
        await expectBerthError(repository.update(absent, { value: 'changed' }), 'NOT_FOUND');
      }
      const many = await repository.getMany(['a  ', 'a', 'a ', 'a   ']);
      expect(many.map((document) => document?.id ?? null)).toStrictEqual(['a  ', 'a', 'a ', null]);
      expect(await repository.update('a  ', { value: 'changed' })).toStrictEqual({ id: 'a  ', value: 'changed' });
      expect(await repository.delete('a ')).toBe(true);
      // Without orderBy, results come in id order: the fixture's order, by code point.
      expect(await repository.find()).toStrictEqual(
        LOOKALIKE_STRINGS.filter((id) => id !== 'a ').map((id) => ({ id, value: id === 'a  ' ? 'changed' : id })),
      );
    },
  },
  {
    name: 'deleteMany deletes every match and returns how many',
    async run(context) {
      const repository = context.repository<Item>();
      await repository.insertMany([
        { id: 'a', name: 'a', n: 1, group: 'x' },
        { id: 'b', name: 'b', n: 2, group: 'x' },
        { id: 'c', name: 'c', n: 3, group: 'y' },
      ]);
      expect(await repository.deleteMany({ group: 'x' })).toBe(2);
      expect(await repository.getMany(['a', 'b', 'c'])).toStrictEqual([
        null,
        null,
        { id: 'c', name: 'c', n: 3, group: 'y' },
      ]);
      expect(await repository.deleteMany({ group: 'x' })).toBe(0);
      expect(await repository.deleteMany({})).toBe(1);
      expect(await repository.count()).toBe(0);
    },
  },
  {
    name: 'findOne refuses a limit or a cursor with VALIDATION naming it, and honours where, orderBy and offset',
    async run(context) {
      const repository = context.repository<Item>();
      await repository.insertMany([
        { id: 'a', name: 'a', n: 3, group: 'x' },
        { id: 'b', name: 'b', n: 1, group: 'x' },
        { id: 'c', name: 'c', n: 2, group: 'x' },
        { id: 'd', name: 'd', n: 0, group: 'y' },
      ]);
      const { nextCursor } = await repository.findPage({ orderBy: 'n', limit: 1 });
      // Neither ignored (as taking find's query whole would) nor applied (limit 0 would give null).
      for (const limit of [0, 1, 2, 10]) {
        await expectBerthError(repository.findOne(invalid({ where: { group: 'x' }, limit })), 'VALIDATION', {
          path: 'limit',
        });
      }
      await expectBerthError(repository.findOne(invalid({ orderBy: 'n', cursor: nextCursor })), 'VALIDATION', {
        path: 'cursor',
      });
      const where = { group: 'x' };
      expect((await repository.findOne({ where, orderBy: 'n' }))?.id).toBe('b');
      expect((await repository.findOne({ where, orderBy: { field: 'n', direction: 'desc' }, offset: 1 }))?.id).toBe(
        'c',
      );
      expect(await repository.findOne({ where, offset: 3 })).toBeNull();
      expect(await repository.findOne({ where: { group: 'z' } })).toBeNull();
    },
  },
]);

import type { Capabilities, DocumentValue, Filter } from '@berth/core';
import { MAX_DOCUMENT_BYTES, MAX_FILTER_DEPTH, MAX_NESTING_DEPTH, stringifyDocument } from '@berth/core/adapter';
import { expect } from 'vitest';
import type { ConformanceCase } from '../harness.js';
import { expectBerthError, expectUnchanged, invalid, type LooseDocument, snapshot } from './assertions.js';

/** The document size limit the adapter declares (16 MiB unless it says less). */
function declaredMaxDocumentBytes(capabilities: Capabilities): number {
  return capabilities.repository.maxDocumentBytes ?? MAX_DOCUMENT_BYTES;
}

function utf8Bytes(text: string): number {
  return new TextEncoder().encode(text).length;
}

/**
 * A value under `key` whose JSON text, wrapped as `shell` puts it, is exactly
 * `bytes` long. The filler mixes 2- and 4-byte characters, a quote and a
 * newline (2 bytes each once escaped), so only a measure of UTF-8 JSON text
 * gets the size right; a Date in the shell counts as its stored `{"$date":…}`.
 */
export function sizedValue<T>(bytes: number, shell: (filler: string) => T): T {
  const room = bytes - utf8Bytes(stringifyDocument(shell('')));
  const unit = 'é😀"\n'; // 2 + 4 + 2 + 2 bytes of JSON
  const unitBytes = 10;
  if (room < 0) throw new Error(`cannot build a value of ${bytes} bytes`);
  return shell(unit.repeat(Math.floor(room / unitBytes)) + 'x'.repeat(room % unitBytes));
}

/** A document of exactly `bytes` bytes of stored JSON. */
function sizedDocument(id: string, bytes: number): LooseDocument {
  return sizedValue(bytes, (filler) => ({ id, at: new Date(0), text: filler }));
}

/** The document `keep` (`{ id, text }`) at exactly `bytes` bytes. */
function keepOf(bytes: number): { id: string; text: string } {
  return sizedValue(bytes, (filler) => ({ id: 'keep', text: filler }));
}

/** An object `levels` deep (it is level 1), built without recursion. */
function nestedObject(levels: number, leaf: unknown = 1): Record<string, unknown> {
  let value: Record<string, unknown> = { d: leaf };
  for (let level = 1; level < levels; level++) value = { d: value };
  return value;
}

/** A document nested exactly `levels` deep (the document is level 1). */
function nestedDocument(id: string, levels: number, n: number): LooseDocument {
  return { id, n, ...nestedObject(levels, n) };
}

/** Path of the value at level `level` of {@link nestedDocument}. */
function levelPath(level: number): string {
  return Array.from({ length: level - 1 }, () => 'd').join('.');
}

/** A filter nesting `operator` `levels` deep (the outer filter is level 1). */
function nestedFilter(levels: number, operator: '$and' | '$or' | '$not'): Filter {
  let filter: Filter = { n: 1 };
  for (let level = 1; level < levels; level++)
    filter = operator === '$not' ? { $not: filter } : { [operator]: [filter] };
  return filter;
}

export const limitCases: readonly ConformanceCase[] = [
  {
    name: 'stores a document of exactly capabilities.repository.maxDocumentBytes of UTF-8 JSON and refuses one byte more with VALIDATION, writing nothing',
    async run(context) {
      const max = declaredMaxDocumentBytes(context.capabilities);
      expect(max).toBeLessThanOrEqual(MAX_DOCUMENT_BYTES);
      const repository = context.repository<LooseDocument>();
      await repository.insert({ id: 'keep', text: 'small' });
      const before = await snapshot(repository);
      await expectBerthError(repository.insert(sizedDocument('big', max + 1)), 'VALIDATION', { path: '' });
      await expectBerthError(repository.upsert(sizedDocument('big', max + 1)), 'VALIDATION');
      await expectBerthError(repository.replace(sizedDocument('keep', max + 1)), 'VALIDATION');
      await expectBerthError(repository.upsert(sizedDocument('keep', max + 1)), 'VALIDATION');
      await expectBerthError(
        repository.insertMany([{ id: 'fine', text: 'x' }, sizedDocument('big', max + 1)]),
        'VALIDATION',
      );
      const grown = keepOf(max + 1).text;
      await expectBerthError(repository.update('keep', { text: grown }), 'VALIDATION', { path: '' });
      await expectBerthError(repository.update('keep', { $set: { text: grown } }), 'VALIDATION', { path: '' });
      await expectBerthError(repository.updateMany({ id: 'keep' }, { $set: { text: grown } }), 'VALIDATION');
      await expectUnchanged(repository, before);

      const exact = sizedDocument('big', max);
      await repository.insert(exact);
      expect(await repository.get('big')).toStrictEqual(exact);
      await repository.update('keep', { text: keepOf(max).text });
      expect(await repository.get('keep')).toStrictEqual(keepOf(max));
    },
  },
  {
    name: 'accepts a document nested exactly MAX_NESTING_DEPTH levels, and the collection stays usable by filters, sorts and countBy',
    async run(context) {
      const repository = context.repository<LooseDocument>();
      const deep = nestedDocument('deep', MAX_NESTING_DEPTH, 2);
      await repository.insertMany([{ id: 'flat', n: 1 }, deep]);
      expect(await repository.get('deep')).toStrictEqual(deep);
      const ids = async (where: Filter): Promise<string[]> =>
        (await repository.find({ where, orderBy: { field: 'n', direction: 'desc' } })).map((document) => document.id);
      expect(await ids({ n: { $gte: 1 } })).toStrictEqual(['deep', 'flat']);
      expect(await ids({ [levelPath(17)]: { $exists: true } })).toStrictEqual(['deep']);
      expect(await repository.countBy('n')).toStrictEqual([
        { value: 1, count: 1 },
        { value: 2, count: 1 },
      ]);
      expect(await repository.count({ n: 2 })).toBe(1);
    },
  },
  {
    name: 'refuses a document one level deeper than MAX_NESTING_DEPTH with VALIDATION naming the path, in every write',
    async run(context) {
      const repository = context.repository<LooseDocument>();
      await repository.insert({ id: 'keep', n: 1 });
      const before = await snapshot(repository);
      const path = levelPath(MAX_NESTING_DEPTH + 1);
      const tooDeep = (id: string) => nestedDocument(id, MAX_NESTING_DEPTH + 1, 1);
      await expectBerthError(repository.insert(tooDeep('deep')), 'VALIDATION', { path });
      await expectBerthError(repository.replace(tooDeep('keep')), 'VALIDATION', { path });
      await expectBerthError(repository.upsert(tooDeep('keep')), 'VALIDATION', { path });
      await expectBerthError(repository.insertMany([tooDeep('deep')]), 'VALIDATION');
      await expectBerthError(repository.upsertMany([tooDeep('deep')]), 'VALIDATION');
      // The update's value alone is legal; the document it makes is one level too deep.
      const value = invalid<DocumentValue>(nestedObject(MAX_NESTING_DEPTH));
      await expectBerthError(repository.update('keep', { d: value }), 'VALIDATION', { path });
      await expectBerthError(repository.update('keep', { $set: { d: value } }), 'VALIDATION', { path });
      await expectBerthError(repository.updateMany({}, { $set: { d: value } }), 'VALIDATION');
      let arrays: unknown[] = [];
      for (let level = 2; level < MAX_NESTING_DEPTH; level++) arrays = [arrays];
      await repository.insert({ id: 'arrays', list: arrays });
      await expectBerthError(repository.insert({ id: 'deeper', list: [arrays] }), 'VALIDATION');
      await repository.delete('arrays');
      await expectUnchanged(repository, before);
    },
  },
  {
    name: 'refuses values nested 100 000 levels (objects or arrays) with VALIDATION, never a RangeError',
    async run(context) {
      const repository = context.repository<LooseDocument>();
      await repository.insert({ id: 'keep', n: 1 });
      const before = await snapshot(repository);
      let arrays: unknown[] = [];
      for (let level = 0; level < 100_000; level++) arrays = [arrays];
      const objects = nestedObject(100_000);
      await expectBerthError(repository.insert({ id: 'a', list: arrays }), 'VALIDATION');
      await expectBerthError(repository.insert({ id: 'a', ...objects }), 'VALIDATION');
      await expectBerthError(repository.upsert({ id: 'keep', list: arrays }), 'VALIDATION');
      await expectBerthError(repository.update('keep', { $set: { list: invalid(arrays) } }), 'VALIDATION');
      await expectBerthError(repository.update('keep', invalid({ list: objects })), 'VALIDATION');
      await expectUnchanged(repository, before);
    },
  },
  {
    name: 'accepts $and, $or and $not nested MAX_FILTER_DEPTH levels and refuses deeper filters (even 10 000 levels) with VALIDATION',
    async run(context) {
      const repository = context.repository<LooseDocument>();
      await repository.insertMany([
        { id: 'a', n: 1 },
        { id: 'b', n: 2 },
      ]);
      const before = await snapshot(repository);
      for (const operator of ['$and', '$or', '$not'] as const) {
        const matched = operator === '$not' && MAX_FILTER_DEPTH % 2 === 0 ? ['b'] : ['a'];
        const found = await repository.find({ where: nestedFilter(MAX_FILTER_DEPTH, operator), orderBy: 'id' });
        expect(found.map((document) => document.id)).toStrictEqual(matched);
        for (const levels of [MAX_FILTER_DEPTH + 1, 10_000]) {
          const where = nestedFilter(levels, operator);
          await expectBerthError(repository.find({ where }), 'VALIDATION');
          await expectBerthError(repository.count(where), 'VALIDATION');
          await expectBerthError(repository.countBy('n', where), 'VALIDATION');
          await expectBerthError(repository.updateMany(where, { $set: { touched: true } }), 'VALIDATION');
          await expectBerthError(repository.deleteMany(where), 'VALIDATION');
        }
      }
      await expectUnchanged(repository, before);
    },
  },
];

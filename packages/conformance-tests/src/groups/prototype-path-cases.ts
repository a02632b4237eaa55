import { expect } from 'vitest';
import type { ConformanceCase } from '../harness.js';
import {
  expectBerthError,
  expectRepositoryRefused,
  expectUnchanged,
  invalid,
  type LooseDocument,
  snapshot,
} from './assertions.js';

/** Paths that walk into `__proto__`: a prototype, never a field. */
const PROTO_PATHS: readonly string[] = ['__proto__', 'k.__proto__', '__proto__.x', 'k.__proto__.x'];

/** Names of Object.prototype members: legal keys, so they must work as plain fields. */
const PROTOTYPE_MEMBERS: readonly string[] = ['constructor', 'prototype', 'toString', 'hasOwnProperty', 'valueOf'];

export const prototypePathCases: readonly ConformanceCase[] = [
  {
    name: 'refuses a __proto__ segment in update paths with VALIDATION naming the path; nothing changes, not even the version',
    async run(context) {
      const repository = context.repository<LooseDocument>();
      await repository.insert({ id: 'keep', k: { n: 1 }, n: 1 });
      const before = await snapshot(repository);
      for (const path of PROTO_PATHS) {
        await expectBerthError(repository.update('keep', { $inc: { [path]: 5 } }), 'VALIDATION', { path });
        await expectBerthError(repository.update('keep', { $unset: [path] }), 'VALIDATION', { path });
        await expectBerthError(repository.update('keep', { $set: { [path]: 1 } }), 'VALIDATION', { path });
        await expectBerthError(repository.updateMany({}, { $inc: { [path]: 1 } }), 'VALIDATION', { path });
      }
      for (const path of PROTO_PATHS.filter((candidate) => candidate.includes('.'))) {
        await expectBerthError(repository.update('keep', invalid({ [path]: 1 })), 'VALIDATION', { path });
      }
      await expectBerthError(repository.update('keep', JSON.parse('{"__proto__": {"x": 1}}')), 'VALIDATION', {
        path: '__proto__',
      });
      await expectUnchanged(repository, before);
      expect(({} as Record<string, unknown>).x).toBeUndefined();
    },
  },
  {
    name: 'refuses a __proto__ segment in filters, sorts, countBy and index declarations with VALIDATION naming the path',
    async run(context) {
      const repository = context.repository<LooseDocument>();
      await repository.insert({ id: 'keep', k: { n: 1 } });
      const before = await snapshot(repository);
      for (const path of PROTO_PATHS) {
        await expectBerthError(repository.find({ where: { [path]: null } }), 'VALIDATION', { path });
        await expectBerthError(repository.count({ $or: [{ [path]: { $exists: true } }] }), 'VALIDATION', { path });
        await expectBerthError(repository.deleteMany({ [path]: { $exists: false } }), 'VALIDATION', { path });
        await expectBerthError(repository.find({ orderBy: path }), 'VALIDATION', { path });
        await expectBerthError(repository.find({ orderBy: { field: path, direction: 'desc' } }), 'VALIDATION', {
          path,
        });
        await expectBerthError(repository.countBy(path), 'VALIDATION', { path });
        await expectRepositoryRefused(context.backend, context.collectionName(), 'VALIDATION', {
          indexes: [{ field: path, type: 'string' }],
        });
      }
      await expectUnchanged(repository, before);
    },
  },
  {
    name: 'treats constructor, prototype, toString and other Object.prototype names as plain fields everywhere paths go',
    async run(context) {
      // Unique where the adapter enforces unique indexes (the last assertion), plain otherwise.
      const unique = context.capabilities.repository.uniqueIndexes;
      const repository = context.repository<LooseDocument>({
        indexes: [{ field: 'constructor', type: 'number', unique }],
      });
      await repository.insertMany([
        { id: 'bare', k: {} },
        { id: 'held', constructor: 2, k: { prototype: 'p', toString: 't' } },
      ]);
      const ids = async (where: Record<string, unknown>): Promise<string[]> =>
        (await repository.find({ where: invalid(where), orderBy: 'id' })).map((document) => document.id);
      for (const member of PROTOTYPE_MEMBERS) {
        for (const path of [member, `k.${member}`]) {
          const present = path === 'constructor' || path === 'k.prototype' || path === 'k.toString' ? ['held'] : [];
          const absent = present.length === 0 ? ['bare', 'held'] : ['bare'];
          expect(await ids({ [path]: null }), path).toStrictEqual(absent);
          expect(await ids({ [path]: { $exists: true } }), path).toStrictEqual(present);
          expect(await ids({ [path]: { $ne: null } }), path).toStrictEqual(present);
        }
      }
      expect(await repository.countBy('constructor')).toStrictEqual([
        { value: null, count: 1 },
        { value: 2, count: 1 },
      ]);
      const sorted = await repository.find({ orderBy: { field: 'constructor', direction: 'desc' } });
      expect(sorted.map((document) => document.id)).toStrictEqual(['held', 'bare']);

      await repository.update('bare', { $inc: { constructor: 5, 'k.valueOf': 1 } });
      await repository.update('held', { $unset: ['k.toString', 'hasOwnProperty'], $set: { 'k.constructor': 'c' } });
      expect(await repository.get('bare')).toStrictEqual({ id: 'bare', k: { valueOf: 1 }, constructor: 5 });
      expect(await repository.get('held')).toStrictEqual({
        id: 'held',
        constructor: 2,
        k: { prototype: 'p', constructor: 'c' },
      });
      if (unique) {
        await expectBerthError(repository.update('bare', invalid({ constructor: 2 })), 'ALREADY_EXISTS', {
          field: 'constructor',
        });
      }
    },
  },
];

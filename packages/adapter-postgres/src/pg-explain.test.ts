import type { OrderBy, Query } from '@berth/core';
import { matchesFilter, sortDocuments } from '@berth/core/adapter';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { dropSchemas, POSTGRES_URL, requirePostgres, uniqueSchema } from './fixtures/pg-test-database.js';
import { PostgresBackend } from './pg-backend.js';

// explain reports PostgreSQL's own plan: on an analyzed table of a few
// thousand documents, the planner must pick the expression indexes Berth
// built, which proves that the compiler's expressions match them.

interface Score {
  id: string;
  email: string;
  level: number;
  guild: string;
  at: number;
  name: string;
}

const schema = uniqueSchema('explain');
const all: Score[] = Array.from({ length: 4000 }, (_, n) => ({
  id: `s${String(n).padStart(5, '0')}`,
  email: `u${n}@example.com`,
  level: n % 400,
  guild: `g${n % 50}`,
  at: n,
  name: `player ${n}`,
}));
let backend: PostgresBackend;
const scores = () =>
  backend.repository<Score>('scores', {
    indexes: [
      { field: 'email', type: 'string', unique: true },
      { field: 'level', type: 'number' },
      {
        fields: [
          { field: 'guild', type: 'string' },
          { field: 'at', type: 'number' },
        ],
      },
      { field: '$updatedAt', type: 'date' },
    ],
  });

beforeAll(async () => {
  await requirePostgres();
  backend = new PostgresBackend({ connectionString: POSTGRES_URL, schema });
  await scores().insertMany(all);
  const admin = new pg.Client({ connectionString: POSTGRES_URL });
  await admin.connect();
  await admin.query(`ANALYZE "${schema}".scores`);
  await admin.end();
});
afterAll(async () => {
  await backend.close();
  await dropSchemas([schema]);
});

describe('explain', () => {
  it('names the unique expression index for an equality on its field', async () => {
    const plan = await scores().explain({ where: { email: 'u17@example.com' } });
    expect(plan).toMatchObject({ strategy: 'index', index: 'scores.email!unique' });
    expect(await scores().find({ where: { email: 'u17@example.com' } })).toHaveLength(1);
  });

  it('names the number index for a range and for a sorted top-N', async () => {
    expect(await scores().explain({ where: { level: { $gte: 10, $lt: 12 } } })).toMatchObject({
      strategy: 'index',
      index: 'scores.level',
    });
    const top = await scores().explain({ orderBy: { field: 'level', direction: 'desc' }, limit: 5 });
    expect(top).toMatchObject({ strategy: 'index', index: 'scores.level' });
    // The index ends with id, the tie-break (ascending in both directions): ascending, nothing is sorted.
    const ascending = await scores().explain({ orderBy: 'level', limit: 5 });
    expect(ascending).toMatchObject({ strategy: 'index', index: 'scores.level' });
    expect(ascending.detail).not.toMatch(/Sort/);
    expect(
      (await scores().find({ orderBy: { field: 'level', direction: 'desc' }, limit: 5 })).map((s) => s.level),
    ).toStrictEqual([399, 399, 399, 399, 399]);
  });

  it('names the compound index for an equality on its first field plus a range on the next', async () => {
    const plan = await scores().explain({ where: { guild: 'g7', at: { $gt: 3000 } } });
    expect(plan).toMatchObject({ strategy: 'index', index: 'scores(guild+at)' });
    const found = await scores().find({ where: { guild: 'g7', at: { $gt: 3000 } } });
    expect(found.map((s) => s.at)).toStrictEqual(found.map((s) => s.at).sort((a, b) => a - b));
    expect(found).toHaveLength(20);
  });

  it('names the primary key for an id and reports a scan for an unindexed field', async () => {
    expect(await scores().explain({ where: { id: 's00042' } })).toMatchObject({
      strategy: 'index',
      index: 'primary key',
    });
    const scan = await scores().explain({ where: { name: 'player 7' } });
    expect(scan.strategy).toBe('scan');
    expect(scan.detail).toMatch(/Seq Scan/);
  });

  // `berth copy` reads in id order and resumes after the last id: each page
  // must be a walk of the primary key (code-point order, COLLATE "C"), not a
  // sort of every row.
  it('walks the primary key for id order, id ranges and id prefixes, without a sort', async () => {
    const queries: Query<Score>[] = [
      { orderBy: 'id', limit: 50 },
      { orderBy: { field: 'id', direction: 'desc' }, limit: 50 },
      { orderBy: 'id', where: { id: { $gt: 's02000' } }, limit: 50 },
      { orderBy: { field: 'id', direction: 'desc' }, where: { id: { $lte: 's02000' } }, limit: 50 },
      { orderBy: ['id', 'level'], limit: 50 },
      { orderBy: 'id', where: { id: { $startsWith: 's0200' } } },
    ];
    for (const query of queries) {
      const plan = await scores().explain(query);
      expect(plan, `${JSON.stringify(query)}\n${plan.detail}`).toMatchObject({
        strategy: 'index',
        index: 'primary key',
      });
      expect(plan.detail, JSON.stringify(query)).toMatch(/Index (Only )?Scan (Backward )?using scores_pkey/);
      expect(plan.detail, JSON.stringify(query)).not.toMatch(/Sort/);
      const found = (await scores().find(query)).map((s) => s.id);
      const expected = sortDocuments(
        all.filter((score) => matchesFilter(score, query.where ?? {})),
        query.orderBy as OrderBy,
      ).slice(0, query.limit);
      expect(found).toStrictEqual(expected.map((score) => score.id));
    }
  });
});

describe('ids that sort apart only by code point', () => {
  it('orders, ranges and prefixes ids by code point: case, accents, astral characters, trailing spaces', async () => {
    const odd = backend.repository<{ id: string; n: number }>('odd_ids');
    const ids = [
      'a',
      'A',
      'a ',
      'á',
      'a\u0301',
      '\u{1F600}',
      '\uFFFF',
      'Z',
      'z',
      'ab',
      'a\u{10FFFF}',
      'b',
      '__proto__',
      '\u{D7FF}x',
      '\uE000',
    ];
    const documents = ids.map((id, n) => ({ id, n }));
    await odd.insertMany(documents);
    for (const query of [
      { orderBy: 'id' },
      { orderBy: { field: 'id', direction: 'desc' } },
      { orderBy: 'id', where: { id: { $gt: 'a' } } },
      { orderBy: 'id', where: { id: { $startsWith: 'a' } } },
      { orderBy: 'id', where: { id: { $startsWith: '\u{D7FF}' } } },
      { orderBy: 'id', where: { id: { $startsWith: 'a\u{10FFFF}' } } },
      { orderBy: 'id', where: { id: { $gte: '\uFFFF', $lt: '\u{1F601}' } } },
    ] satisfies Query<{ id: string; n: number }>[]) {
      const expected = sortDocuments(
        documents.filter((document) => matchesFilter(document, query.where ?? {})),
        query.orderBy as OrderBy,
      );
      expect((await odd.find(query)).map((document) => document.id)).toStrictEqual(expected.map((d) => d.id));
    }
  });
});

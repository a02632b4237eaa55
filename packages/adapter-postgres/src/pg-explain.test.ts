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
  await scores().insertMany(
    Array.from({ length: 4000 }, (_, n) => ({
      id: `s${String(n).padStart(5, '0')}`,
      email: `u${n}@example.com`,
      level: n % 400,
      guild: `g${n % 50}`,
      at: n,
      name: `player ${n}`,
    })),
  );
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
});

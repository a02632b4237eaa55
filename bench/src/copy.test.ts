import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { measureProcess } from './copy.bench.js';
import { COPY_COLLECTION, customer, customerId, seedSource } from './copy-fixture.js';
import { rawCopy } from './copy-raw.js';
import { BenchSchemas, postgresUrl, quotedSchema } from './pg-peers/pg-database.js';
import { BenchPrefixes, redisUrl } from './redis-peers/redis-server.js';

// The raw baseline must move every document and keep the index, and the
// peak-memory probe must see what a process allocates, or the rows of the
// `berth copy` benchmark mean nothing.

const DOCUMENTS = 1_234; // not a multiple of the batch: the last page is short
const directory = mkdtempSync(join(tmpdir(), 'berth-bench-copy-test-'));
const source = join(directory, 'source.db');
const schemas = new BenchSchemas();
const prefixes = new BenchPrefixes();

beforeAll(async () => {
  await schemas.reachable();
  await prefixes.reachable();
  await seedSource(`sqlite:${source}`, DOCUMENTS);
}, 60_000);

afterAll(async () => {
  await schemas.dropAll();
  await prefixes.dropAll();
  rmSync(directory, { recursive: true, force: true });
});

/** The stored rows of the source, as the raw copy must reproduce them. */
function sourceRow(id: string): { doc: string; version: number; created_at: number; updated_at: number } | undefined {
  const db = new Database(source, { readonly: true });
  try {
    return db
      .prepare<[string], { doc: string; version: number; created_at: number; updated_at: number }>(
        `SELECT doc, version, created_at, updated_at FROM "${COPY_COLLECTION}" WHERE id = ?`,
      )
      .get(id);
  } finally {
    db.close();
  }
}

describe('the seeded source', () => {
  it('holds every customer of about 400–500 bytes, with its Date kept', () => {
    const row = sourceRow(customerId(DOCUMENTS - 1));
    expect(row?.version).toBe(1);
    const stored = JSON.parse(row?.doc ?? '{}') as Record<string, unknown>;
    expect(stored.signedUpAt).toEqual({ $date: customer(DOCUMENTS - 1).signedUpAt.toISOString() });
    const size = JSON.stringify(customer(DOCUMENTS - 1)).length;
    expect(size).toBeGreaterThan(400);
    expect(size).toBeLessThan(520);
  });
});

describe('rawCopy', () => {
  it('copies every row into SQLite with the country index', async () => {
    const target = join(directory, 'raw-target.db');
    expect(await rawCopy(source, COPY_COLLECTION, 'sqlite', target, '')).toBe(DOCUMENTS);
    const db = new Database(target, { readonly: true });
    try {
      const last = customerId(DOCUMENTS - 1);
      expect(db.prepare(`SELECT count(*) AS n FROM "${COPY_COLLECTION}"`).get()).toEqual({ n: DOCUMENTS });
      expect(
        db.prepare(`SELECT doc, version, created_at, updated_at FROM "${COPY_COLLECTION}" WHERE id = ?`).get(last),
      ).toEqual(sourceRow(last));
      const plan = db
        .prepare(
          `EXPLAIN QUERY PLAN SELECT id FROM "${COPY_COLLECTION}" WHERE json_type(doc, '$."country"') = 'text' AND json_extract(doc, '$."country"') = 'FR'`,
        )
        .all() as { detail: string }[];
      expect(plan.map((step) => step.detail).join(' ')).toContain(`INDEX ${COPY_COLLECTION}.country`);
    } finally {
      db.close();
    }
  });

  it('copies every row into a PostgreSQL schema of its own', async () => {
    const schema = schemas.next('test_copy');
    expect(await rawCopy(source, COPY_COLLECTION, 'postgres', postgresUrl(), schema)).toBe(DOCUMENTS);
    const table = `${quotedSchema(schema)}."${COPY_COLLECTION}"`;
    const { rows } = await schemas.pool.query<{ n: string; fr: string }>(
      `SELECT count(*) AS n, count(*) FILTER (WHERE data ->> 'country' = 'FR') AS fr FROM ${table}`,
    );
    const france = Array.from({ length: DOCUMENTS }, (_, i) => customer(i)).filter((c) => c.country === 'FR');
    expect(rows[0]).toEqual({ n: String(DOCUMENTS), fr: String(france.length) });
    const { rows: dates } = await schemas.pool.query<{ created: Date }>(
      `SELECT created_at AS created FROM ${table} WHERE id = $1`,
      [customerId(3)],
    );
    expect(dates[0]?.created.getTime()).toBe(sourceRow(customerId(3))?.created_at);
  });

  it('copies every row into Redis under its prefix, ids and country sets included', async () => {
    const prefix = prefixes.next('test_copy');
    expect(await rawCopy(source, COPY_COLLECTION, 'redis', redisUrl(), prefix)).toBe(DOCUMENTS);
    const base = `${prefix}{${COPY_COLLECTION}}:`;
    expect(await prefixes.redis.zcard(`${base}ids`)).toBe(DOCUMENTS);
    const france = Array.from({ length: DOCUMENTS }, (_, i) => customer(i)).filter((c) => c.country === 'FR');
    expect((await prefixes.redis.smembers(`${base}e:country:FR`)).sort()).toEqual(france.map((c) => c.id));
    expect(await prefixes.redis.hget(`${base}d:${customerId(5)}`, 'j')).toBe(sourceRow(customerId(5))?.doc);
  });

  it('refuses a collection name that is not a plain identifier', async () => {
    await expect(
      rawCopy(source, 'customers"; DROP TABLE x; --', 'sqlite', join(directory, 'x.db'), ''),
    ).rejects.toThrow(/not a collection name/);
  });
});

describe('measureProcess', () => {
  const peakFile = join(directory, 'peak');

  it('reports the peak RSS of a process that allocates 200 MB, far above one that does not', async () => {
    const idle = await measureProcess(['-e', 'process.stdout.write("copy-ms 12.5\\n")'], peakFile, 'idle');
    const busy = await measureProcess(
      ['-e', 'const b = Buffer.alloc(200 * 1024 * 1024, 1); process.stdout.write(String(b[7]))'],
      peakFile,
      'busy',
    );
    expect(idle.copyMs).toBe(12.5);
    expect(busy.copyMs).toBeUndefined();
    expect(idle.peakRssBytes).toBeGreaterThan(10 * 1024 * 1024);
    expect(busy.peakRssBytes - idle.peakRssBytes).toBeGreaterThan(190 * 1024 * 1024);
  });

  it('rejects with the end of what a failing process wrote, without its stack', async () => {
    await expect(
      measureProcess(['-e', 'throw new Error("the target is not empty")'], peakFile, 'failing'),
    ).rejects.toThrow(/failing exited with 1: .*the target is not empty/);
  });
});

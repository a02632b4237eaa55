/**
 * The raw-driver baseline of the `berth copy` benchmark, run as a child
 * process: the same movement written as a careful user would with the
 * drivers alone. It reads the source's table with better-sqlite3 a batch at a
 * time (keyset pagination on the primary key, so memory stays bounded), and
 * writes each batch with the target's driver, keeping the index the source
 * declares:
 *
 * - SQLite: the adapter's table layout and expression index, one
 *   transaction of prepared INSERTs per batch (WAL, synchronous=NORMAL, as
 *   the adapter opens files).
 * - PostgreSQL: a table of the adapter's column layout and an expression
 *   index on `data->>'country'`, one `INSERT … SELECT FROM unnest(…)` per batch.
 * - Redis: per document HSET of the JSON, version and times, ZADD to the id
 *   set and SADD to the country's set, one pipeline per batch.
 *
 * It moves the stored JSON text as it is (no decoding into documents, no
 * validation, no verification pass), so it is a floor, not an equal. It
 * prints `copy-ms <ms>` last: the copy's time (connecting to the target and
 * creating its table included), without the process's start-up.
 *
 *   tsx copy-raw.ts <source.db> <collection> sqlite <target.db>
 *   tsx copy-raw.ts <source.db> <collection> postgres <postgres url> <schema>
 *   tsx copy-raw.ts <source.db> <collection> redis <redis url> <key prefix>
 *
 * It imports no Berth package (the collection is an argument), so its
 * start-up is the drivers' and tsx's only.
 */
import { resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import Database from 'better-sqlite3';
import { Redis } from 'ioredis';
import pg from 'pg';
import { quotedSchema } from './pg-peers/pg-database.js';
import { checkedPrefix } from './redis-peers/redis-server.js';

/** Rows read and written together: `berth copy`'s default batch. */
const RAW_BATCH = 500;

interface Row {
  readonly id: string;
  readonly doc: string;
  readonly version: number;
  readonly created_at: number;
  readonly updated_at: number;
}

/** Writes batches of rows into one target, then closes it. */
interface RawTarget {
  write(rows: readonly Row[]): Promise<void>;
  close(): Promise<void>;
}

/** Every row of the source collection, `RAW_BATCH` at a time, in id order. */
function* sourceBatches(path: string, collection: string): Generator<Row[]> {
  const db = new Database(path, { readonly: true });
  try {
    const page = db.prepare<[string, number], Row>(
      `SELECT id, doc, version, created_at, updated_at FROM "${collection}" WHERE id > ? ORDER BY id LIMIT ?`,
    );
    let after = '';
    for (;;) {
      const rows = page.all(after, RAW_BATCH);
      if (rows.length === 0) return;
      yield rows;
      after = rows[rows.length - 1]?.id ?? after;
    }
  } finally {
    db.close();
  }
}

function sqliteTarget(path: string, collection: string): RawTarget {
  const db = new Database(path);
  db.pragma('journal_mode = WAL');
  db.pragma('synchronous = NORMAL');
  db.exec(`CREATE TABLE "${collection}" (
    id TEXT PRIMARY KEY NOT NULL,
    doc TEXT NOT NULL,
    version INTEGER NOT NULL,
    created_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL
  )`);
  db.exec(
    `CREATE INDEX "${collection}.country" ON "${collection}" ` +
      `(json_type(doc, '$."country"'), json_extract(doc, '$."country"'), id)`,
  );
  const insert = db.prepare(
    `INSERT INTO "${collection}" (id, doc, version, created_at, updated_at) VALUES (@id, @doc, @version, @created_at, @updated_at)`,
  );
  const insertAll = db.transaction((rows: readonly Row[]) => {
    for (const row of rows) insert.run(row);
  });
  return {
    write: async (rows) => insertAll(rows),
    close: async () => {
      db.close();
    },
  };
}

async function postgresTarget(url: string, schema: string, collection: string): Promise<RawTarget> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  const table = `${quotedSchema(schema)}."${collection}"`;
  await client.query(`CREATE SCHEMA IF NOT EXISTS ${quotedSchema(schema)}`);
  await client.query(`CREATE TABLE ${table} (
    id text COLLATE "C" PRIMARY KEY,
    data jsonb NOT NULL,
    version integer NOT NULL,
    created_at timestamptz(3) NOT NULL,
    updated_at timestamptz(3) NOT NULL
  )`);
  await client.query(`CREATE INDEX "${collection}_country" ON ${table} ((data ->> 'country'), id)`);
  return {
    async write(rows) {
      await client.query({
        name: 'raw_copy_insert',
        text:
          `INSERT INTO ${table} (id, data, version, created_at, updated_at) ` +
          'SELECT * FROM unnest($1::text[], $2::jsonb[], $3::int[], $4::timestamptz[], $5::timestamptz[])',
        values: [
          rows.map((row) => row.id),
          rows.map((row) => row.doc),
          rows.map((row) => row.version),
          rows.map((row) => new Date(row.created_at)),
          rows.map((row) => new Date(row.updated_at)),
        ],
      });
    },
    close: () => client.end(),
  };
}

async function redisTarget(url: string, prefix: string, collection: string): Promise<RawTarget> {
  const redis = new Redis(url, { lazyConnect: true, maxRetriesPerRequest: 1 });
  await redis.connect();
  const base = `${checkedPrefix(prefix)}{${collection}}:`;
  return {
    async write(rows) {
      const pipeline = redis.pipeline();
      for (const row of rows) {
        const country = (JSON.parse(row.doc) as { country?: unknown }).country;
        pipeline.hset(`${base}d:${row.id}`, {
          j: row.doc,
          v: row.version,
          c: row.created_at,
          u: row.updated_at,
        });
        pipeline.zadd(`${base}ids`, 0, row.id);
        pipeline.sadd(`${base}e:country:${String(country)}`, row.id);
      }
      for (const [error] of (await pipeline.exec()) ?? []) if (error) throw error;
    },
    close: async () => {
      await redis.quit();
    },
  };
}

async function openTarget(collection: string, kind: string, target: string, extra: string): Promise<RawTarget> {
  if (kind === 'sqlite') return sqliteTarget(target, collection);
  if (kind === 'postgres') return postgresTarget(target, extra, collection);
  if (kind === 'redis') return redisTarget(target, extra, collection);
  throw new Error(`unknown raw copy target ${JSON.stringify(kind)}: sqlite, postgres or redis`);
}

/** Copies every row of `collection`; resolves to how many. */
export async function rawCopy(
  source: string,
  collection: string,
  kind: string,
  target: string,
  extra: string,
): Promise<number> {
  if (!/^[A-Za-z0-9_]+$/.test(collection)) throw new Error(`not a collection name: ${JSON.stringify(collection)}`);
  const writer = await openTarget(collection, kind, target, extra);
  let copied = 0;
  try {
    for (const rows of sourceBatches(source, collection)) {
      await writer.write(rows);
      copied += rows.length;
    }
  } finally {
    await writer.close();
  }
  return copied;
}

// Run as a script (not imported by a test); without arguments it only loads: the benchmark's start-up floor.
const [, script, source, collection, kind, target, extra] = process.argv;
const runAsScript = script !== undefined && resolve(script) === fileURLToPath(import.meta.url);
if (runAsScript && source !== undefined && collection !== undefined && kind !== undefined && target !== undefined) {
  const started = performance.now();
  const copied = await rawCopy(source, collection, kind, target, extra ?? '');
  process.stdout.write(`copied ${copied} documents\ncopy-ms ${performance.now() - started}\n`);
}

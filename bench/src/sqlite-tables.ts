/**
 * What the SQLite benchmarks share: the documents, and raw better-sqlite3 on
 * the adapter's table layout (one table per collection, `id` primary key,
 * the document as JSON text, version and timestamps in columns, the same
 * expression indexes, pragmas and JSON encoding).
 */
import type { Repository } from '@berth/core';
import Database from 'better-sqlite3';
import { type Hero, hero, SIZE } from './heroes.js';

/** `json_type(doc, '$."field"')`, as the adapter writes it. */
export function rawType(field: string): string {
  return `json_type(doc, '$."${field}"')`;
}

/** `json_extract(doc, '$."field"')`, as the adapter writes it. */
export function rawValue(field: string): string {
  return `json_extract(doc, '$."${field}"')`;
}

/** A table in the adapter's layout (id, JSON text, version, timestamps). */
export function createDocumentTable(db: Database.Database, name: string): void {
  db.exec(`CREATE TABLE IF NOT EXISTS "${name}" (
    id TEXT PRIMARY KEY NOT NULL,
    doc TEXT NOT NULL,
    version INTEGER NOT NULL,
    created_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL
  )`);
}

/** Raw better-sqlite3 on the adapter's table layout, with prepared statements per table. */
export class RawTable<T extends Hero = Hero> {
  private readonly insertStatement: Database.Statement;
  private readonly getStatement: Database.Statement<[string], { doc: string }>;
  private readonly versionedStatement: Database.Statement<[string], { doc: string; version: number }>;
  private readonly updateStatement: Database.Statement;
  private readonly guildStatement: Database.Statement<[string], { doc: string }>;
  readonly insertMany: (documents: readonly T[]) => void;
  readonly increment: (id: string) => T;

  /**
   * `indexed` fields get the index the adapter declares for a non-unique
   * index: (json_type, json_extract) of the field.
   */
  constructor(
    readonly db: Database.Database,
    readonly name: string,
    private readonly documentAt: (i: number) => T = hero as (i: number) => T,
    indexed: readonly string[] = ['guild'],
  ) {
    createDocumentTable(db, name);
    for (const field of indexed) {
      db.exec(`CREATE INDEX IF NOT EXISTS "${name}.${field}" ON "${name}" (${rawType(field)}, ${rawValue(field)})`);
    }
    this.insertStatement = db.prepare(
      `INSERT INTO "${name}" (id, doc, version, created_at, updated_at) VALUES (?, ?, 1, ?, ?)`,
    );
    this.getStatement = db.prepare(`SELECT doc FROM "${name}" WHERE id = ?`);
    this.versionedStatement = db.prepare(`SELECT doc, version FROM "${name}" WHERE id = ?`);
    this.updateStatement = db.prepare(
      `UPDATE "${name}" SET doc = ?, version = version + 1, updated_at = ? WHERE id = ? AND version = ?`,
    );
    this.guildStatement = db.prepare(
      `SELECT id, doc FROM "${name}" WHERE (${rawType('guild')} IS 'text' AND ${rawValue('guild')} = ?) ORDER BY id ASC`,
    );
    const insertAll = db.transaction((documents: readonly T[]) => {
      const now = Date.now();
      for (const document of documents) this.insertStatement.run(document.id, JSON.stringify(document), now, now);
    });
    this.insertMany = (documents) => insertAll.immediate(documents);
    const increment = db.transaction((id: string): T => {
      const row = this.versionedStatement.get(id);
      if (row === undefined) throw new Error(`missing ${id}`);
      const document = JSON.parse(row.doc) as T;
      const next = { ...document, level: document.level + 1 };
      this.updateStatement.run(JSON.stringify(next), Date.now(), id, row.version);
      return next;
    });
    this.increment = (id) => increment.immediate(id);
  }

  insert(document: T): T {
    const now = Date.now();
    this.insertStatement.run(document.id, JSON.stringify(document), now, now);
    return document;
  }

  get(id: string): T | null {
    const row = this.getStatement.get(id);
    return row === undefined ? null : (JSON.parse(row.doc) as T);
  }

  findByGuild(guild: string): T[] {
    return this.guildStatement.all(guild).map((row) => JSON.parse(row.doc) as T);
  }

  /** A query over this table returning documents; `{table}` in the SQL is replaced by the table's name. */
  documentsOf<P extends unknown[]>(query: string): (...parameters: P) => T[] {
    const statement = this.db.prepare<P, { doc: string }>(query.replaceAll('{table}', `"${this.name}"`));
    return (...parameters) => statement.all(...parameters).map((row) => JSON.parse(row.doc) as T);
  }

  clear(): void {
    this.db.exec(`DELETE FROM "${this.name}"`);
  }

  fill(): void {
    if (this.db.prepare(`SELECT 1 FROM "${this.name}" LIMIT 1`).get() !== undefined) return;
    this.insertMany(Array.from({ length: SIZE }, (_, i) => this.documentAt(i)));
  }
}

export async function fillRepository<T extends Hero>(
  repository: Repository<T>,
  documentAt: (i: number) => T = hero as (i: number) => T,
): Promise<void> {
  if (await repository.exists()) return;
  await repository.insertMany(Array.from({ length: SIZE }, (_, i) => documentAt(i)));
}

/** Opens a raw connection the way the adapter opens its own. */
export function openRaw(filename: string): Database.Database {
  const db = new Database(filename, { timeout: 5_000 });
  db.pragma('journal_mode = WAL');
  db.pragma('synchronous = NORMAL');
  return db;
}

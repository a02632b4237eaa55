import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type CleanupInfo, queueConformance, repositoryConformance } from '@berth/conformance-tests';
import { afterAll } from 'vitest';
import { openRawDatabase } from './fixtures/raw-database.js';
import { SqliteBackend } from './sqlite-backend.js';

// Every test gets a database file of its own: real files, WAL and all.
const directory = mkdtempSync(join(tmpdir(), 'berth-sqlite-'));
afterAll(() => rmSync(directory, { recursive: true, force: true }));
let counter = 0;
const filenames = new WeakMap<object, string>();
const createBackend = (): SqliteBackend => {
  counter += 1;
  const filename = join(directory, `${counter}.db`);
  const backend = new SqliteBackend({ filename });
  filenames.set(backend, filename);
  return backend;
};
const { capabilities } = createBackend();

/** A second backend on the test's file: its own connection, as another process would have. */
const openSameStorage = (first: object): SqliteBackend =>
  new SqliteBackend({ filename: filenames.get(first) as string });

/**
 * Drops what the test created through a connection of its own (the test may
 * have closed its backend), then checks that nothing is left: the suite must
 * name every collection and queue it used.
 */
function cleanup({ backend, collections, queues }: CleanupInfo<object>): void {
  const db = openRawDatabase(filenames.get(backend) as string, { fileMustExist: true, timeout: 5_000 });
  try {
    db.transaction(() => {
      for (const name of collections) {
        db.exec(`DROP TABLE IF EXISTS "${name}"`);
        db.prepare('DELETE FROM _berth_collections WHERE name = ?').run(name);
        db.prepare('DELETE FROM _berth_indexes WHERE collection = ?').run(name);
      }
      for (const queue of queues) {
        db.prepare('DELETE FROM _berth_jobs WHERE queue = ?').run(queue);
        db.prepare('DELETE FROM _berth_job_counts WHERE queue = ?').run(queue);
        db.prepare('DELETE FROM _berth_schedules WHERE queue = ?').run(queue);
      }
    })();
    const left = db
      .prepare(
        `SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE '\\_berth\\_%' ESCAPE '\\'
           AND name NOT LIKE 'sqlite\\_%' ESCAPE '\\'
         UNION ALL SELECT 'job of ' || queue FROM _berth_jobs
         UNION ALL SELECT 'schedule ' || name || ' of ' || queue FROM _berth_schedules`,
      )
      .pluck()
      .all();
    if (left.length > 0) throw new Error(`the test left behind: ${left.join(', ')}`);
  } finally {
    db.close();
  }
}

repositoryConformance({ name: 'sqlite', createBackend, capabilities, cleanup, openSameStorage });
queueConformance({ name: 'sqlite', createBackend, capabilities, cleanup, openSameStorage });

import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runGroup, sharedStorageGroup } from '@berth/conformance-tests';
import { afterAll, describe, expect, it } from 'vitest';
import { openRawDatabase } from './fixtures/raw-database.js';
import { SqliteBackend } from './sqlite-backend.js';
import type { SqliteDatabase } from './sqlite-connection.js';

const directory = mkdtempSync(join(tmpdir(), 'berth-sqlite-shared-'));
afterAll(() => rmSync(directory, { recursive: true, force: true }));

/**
 * A database whose every `BEGIN IMMEDIATE` is a plain (deferred) `BEGIN`:
 * a transaction reads under a shared lock and asks for the write lock only
 * when it writes, as an adapter written that way would.
 */
function deferringBegin(db: SqliteDatabase): SqliteDatabase {
  return new Proxy(db, {
    get(target, property) {
      if (property === 'prepare') {
        return (source: string) => target.prepare(source === 'BEGIN IMMEDIATE' ? 'BEGIN' : source);
      }
      const value: unknown = Reflect.get(target, property, target);
      return typeof value === 'function' ? value.bind(target) : value;
    },
  });
}

describe('the shared-storage group on SQLite', () => {
  it('rejects an adapter whose transactions open with a deferred BEGIN: one of two concurrent ones fails with TIMEOUT', async () => {
    let counter = 0;
    const files = new WeakMap<object, string>();
    const open = (filename: string) => {
      const backend = new SqliteBackend({ database: deferringBegin(openRawDatabase(filename)) });
      files.set(backend, filename);
      return backend;
    };
    const results = await runGroup(sharedStorageGroup, {
      name: 'sqlite with a deferred BEGIN',
      createBackend: () => {
        counter += 1;
        return open(join(directory, `deferred-${counter}.db`));
      },
      openSameStorage: (first) => open(files.get(first) as string),
      capabilities: new SqliteBackend({ filename: ':memory:' }).capabilities,
    });
    const failed = results.filter((result) => !result.passed);
    expect(failed.map((result) => result.name)).toEqual([
      'concurrent read-then-write transactions through two backends both commit in turn, or one fails with a retryable CONFLICT',
    ]);
    expect(String(failed[0]?.error)).toMatch(/TIMEOUT|locked/);
  }, 60_000);
});

import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { afterAll, describe, expect, it } from 'vitest';

const directory = mkdtempSync(join(tmpdir(), 'berth-sqlite-node24-'));
afterAll(() => rmSync(directory, { recursive: true, force: true }));

/**
 * The plain better-sqlite3 objects this file makes, held for the life of the
 * process: on Node >= 24.19 collecting one aborts it (the bug the workaround
 * is about), and nothing here patches better-sqlite3 to prevent that.
 */
const held: unknown[] = [];

/** Every own member of better-sqlite3's prototypes, as they are now. */
function prototypeMembers(): Map<string, unknown> {
  const members = new Map<string, unknown>();
  const probe = new Database(':memory:');
  const statement = probe.prepare('SELECT 1');
  held.push(probe, statement);
  const prototypes = { Database: Database.prototype, Statement: Object.getPrototypeOf(statement) };
  probe.close();
  for (const [name, prototype] of Object.entries(prototypes)) {
    for (const key of Reflect.ownKeys(prototype)) {
      const descriptor = Object.getOwnPropertyDescriptor(prototype, key);
      members.set(`${name}.${String(key)}`, descriptor?.value ?? descriptor?.get);
    }
  }
  return members;
}

/**
 * The package, imported as if on Node 24.19 so the workaround is on whatever
 * Node runs the test (the first import evaluates the modules; later ones
 * share them).
 */
async function importAsOnNode24() {
  const node = Object.getOwnPropertyDescriptor(process.versions, 'node') as PropertyDescriptor;
  Object.defineProperty(process.versions, 'node', { ...node, value: '24.19.0' });
  try {
    return { ...(await import('./index.js')), ...(await import('./sqlite-node24-workaround.js')) };
  } finally {
    Object.defineProperty(process.versions, 'node', node);
  }
}

describe('the Node 24 statement workaround', () => {
  it("leaves better-sqlite3 untouched for the process's other users: importing and using the package patches nothing", async () => {
    const before = prototypeMembers();
    // Imported here, after the snapshot, so a patch made on import shows.
    const { SqliteBackend } = await importAsOnNode24();
    const backend = new SqliteBackend({ filename: join(directory, 'berth.db') });
    const items = backend.repository('items', { indexes: [{ field: 'n', type: 'number', unique: true }] });
    await items.insert({ id: 'a', n: 1 });
    await backend.queue('jobs').enqueue({ n: 1 });
    await backend.transaction(async (tx) => {
      await tx.repository('items').insert({ id: 'b', n: 2 });
    });
    expect(await items.count()).toBe(2);
    await backend.close();
    expect(prototypeMembers()).toEqual(before);
    expect(Database.prototype.prepare).toBe(before.get('Database.prepare'));
    expect(Database.prototype.pragma).toBe(before.get('Database.pragma'));
    // A plain better-sqlite3 user in the same process works as usual.
    const other = new Database(join(directory, 'other.db'));
    held.push(other);
    // Not other.pragma(): it prepares a statement out of reach, which could not be held.
    const journal = other.prepare('PRAGMA journal_mode');
    held.push(journal);
    expect(journal.pluck().get()).toBe('delete');
    other.exec('CREATE TABLE t (x)');
    const insert = other.prepare('INSERT INTO t VALUES (?)');
    const select = other.prepare('SELECT x FROM t');
    held.push(insert, select);
    insert.run(7);
    expect(select.pluck().get()).toBe(7);
    other.close();
  });

  it('keeps one copy of each distinct statement: a full statement cache is not dropped and prepared again', async () => {
    const { SqliteBackend, keptCount } = await importAsOnNode24();
    const busy = new SqliteBackend({ filename: join(directory, 'busy.db') });
    const many = busy.repository('many');
    const distinct = async () => {
      for (let size = 1; size <= 600; size++) {
        await many.find({ where: { n: { $in: Array.from({ length: size }, (_, index) => index) } } });
      }
    };
    await distinct();
    const afterOneRound = keptCount();
    await distinct();
    expect(keptCount()).toBe(afterOneRound);
    await busy.close();
  });

  it('keeps what an application prepares through native() on a database the adapter opened, without touching the prototypes', async () => {
    const { SqliteBackend, keptCount } = await importAsOnNode24();
    const backend = new SqliteBackend({ filename: join(directory, 'native.db') });
    const db = backend.native();
    const before = keptCount();
    db.prepare('SELECT 1').get();
    db.pragma('user_version', { simple: true });
    expect(keptCount()).toBe(before + 2);
    expect(Object.hasOwn(db, 'prepare')).toBe(true);
    expect(Object.getPrototypeOf(db).prepare).toBe(Database.prototype.prepare);
    await backend.close();
  });

  it('applies from Node 24.19 on, and only there', async () => {
    const { needsWorkaround } = await import('./sqlite-node24-workaround.js');
    expect(['20.19.0', '22.22.0', '24.18.9', '24.0.0'].map(needsWorkaround)).toEqual([false, false, false, false]);
    expect(['24.19.0', '24.20.1', '25.0.0', '26.3.0'].map(needsWorkaround)).toEqual([true, true, true, true]);
  });
});

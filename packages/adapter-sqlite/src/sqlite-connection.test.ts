import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { afterAll, describe, expect, it } from 'vitest';
import { SqliteConnection } from './sqlite-connection.js';

const directory = mkdtempSync(join(tmpdir(), 'berth-sqlite-connection-'));
afterAll(() => rmSync(directory, { recursive: true, force: true }));

let files = 0;
function connection(): SqliteConnection {
  return new SqliteConnection(new Database(join(directory, `turns-${files++}.db`)));
}

/** Resolves after a few macrotask turns, so any queued microtask has run. */
const later = () => new Promise((resolve) => setTimeout(resolve, 5));

describe('SqliteConnection turns', () => {
  // A turn that starts with no other pending runs at once, without a place in
  // the queue; these pin that it still orders every turn as the queue would.
  it('a turn queued by a synchronous turn itself runs after it', async () => {
    const db = connection();
    const order: string[] = [];
    let inner: Promise<void> | undefined;
    const outer = db.exclusive(() => {
      inner = db.exclusive(() => {
        order.push('inner');
      });
      order.push('outer');
      return 'done';
    });
    expect(await outer).toBe('done');
    await inner;
    expect(order).toStrictEqual(['outer', 'inner']);
    db.close();
  });

  it('a turn queued during the synchronous part of an asynchronous turn waits until it settles', async () => {
    const db = connection();
    const order: string[] = [];
    let release: () => void = () => undefined;
    const paused = new Promise<void>((resolve) => {
      release = resolve;
    });
    let inner: Promise<void> | undefined;
    const outer = db.exclusive(async () => {
      inner = db.exclusive(() => {
        order.push('inner');
      });
      await paused;
      order.push('outer');
    });
    const after = db.exclusive(() => {
      order.push('after');
    });
    await later();
    expect(order).toStrictEqual([]);
    release();
    await Promise.all([outer, inner, after, db.idle()]);
    expect(order).toStrictEqual(['outer', 'inner', 'after']);
    db.close();
  });

  it('turns after an asynchronous turn wait for it, and idle() for all of them', async () => {
    const db = connection();
    const order: string[] = [];
    let release: () => void = () => undefined;
    const paused = new Promise<void>((resolve) => {
      release = resolve;
    });
    const first = db.exclusive(async () => {
      await paused;
      order.push('first');
    });
    const second = db.exclusive(() => {
      order.push('second');
    });
    let idle = false;
    const waited = db.idle().then(() => {
      idle = true;
    });
    await later();
    expect([order, idle]).toStrictEqual([[], false]);
    release();
    await Promise.all([first, second, waited]);
    expect(order).toStrictEqual(['first', 'second']);
    db.close();
  });

  it('a synchronous turn that throws rejects, and the next turn runs', async () => {
    const db = connection();
    const failing = db.exclusive(() => {
      throw new Error('boom');
    });
    await expect(failing).rejects.toThrow('boom');
    expect(await db.exclusive(() => db.get<{ n: number }>('SELECT 1 AS n')?.n)).toBe(1);
    // A turn queued behind a failing asynchronous turn runs too.
    const rejected = db.exclusive(async () => {
      await later();
      throw new Error('late');
    });
    const next = db.exclusive(() => 'next');
    await expect(rejected).rejects.toThrow('late');
    expect(await next).toBe('next');
    db.close();
  });
});

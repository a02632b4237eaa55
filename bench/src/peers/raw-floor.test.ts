import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { SqliteBackend } from '@berth/adapter-sqlite';
import Database from 'better-sqlite3';
import { better, defineQueue } from 'plainjob';
import { afterAll, afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { BERTH_QUEUE } from './berth-peer.js';
import { type Task, task } from './peer-queue.js';
import { PLAINJOB_TYPE, silentLogger } from './plainjob-peer.js';
import { berthLayoutFloor, type FloorLayout, type FloorQueue, plainjobLayoutFloor } from './raw-floor.js';

// The floor mirrors each library's enqueue statement by statement: these
// tests trace what the library runs (better-sqlite3's `verbose` hook gets
// each statement with its values spelled in) and what the floor runs, with
// the clock stopped so both write the same times, and compare them.

const directory = mkdtempSync(join(tmpdir(), 'berth-raw-floor-'));
let files = 0;
const nextFile = (): string => {
  files += 1;
  return join(directory, `${files}.db`);
};

afterAll(() => rmSync(directory, { recursive: true, force: true }));

beforeEach(() => {
  vi.useFakeTimers({ toFake: ['Date'], now: new Date('2026-01-02T03:04:05.678Z') });
});
afterEach(() => {
  vi.useRealTimers();
});

/** Berth's ids are random; SQLite's trace shows their first 32 bytes and counts the rest. */
const BERTH_ID = /'[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[0-9a-f]{4}-[0-9a-f]{8}'\/\*\+4 bytes\*\//g;

class Trace {
  readonly statements: string[] = [];
  readonly verbose = (statement?: unknown): void => {
    this.statements.push(String(statement).replace(BERTH_ID, '<id>'));
  };

  /** The statements `work` runs. */
  async of(work: () => unknown): Promise<string[]> {
    this.statements.length = 0;
    await work();
    return [...this.statements];
  }
}

/** The floor's statements for one enqueue and one batch of two, on a fresh file. */
async function floorTrace(floor: (options: { verbose: Trace['verbose'] }) => FloorLayout): Promise<string[][]> {
  const trace = new Trace();
  const queue: FloorQueue = await floor({ verbose: trace.verbose }).open(nextFile());
  try {
    return [await trace.of(() => queue.enqueue(task(1))), await trace.of(() => queue.enqueueBatch([task(2), task(3)]))];
  } finally {
    await queue.close();
  }
}

describe("the raw floor on Berth's layout", () => {
  it('runs the statements the SQLite adapter runs for enqueue and enqueueMany', async () => {
    const trace = new Trace();
    const db = new Database(nextFile(), { verbose: trace.verbose });
    const backend = new SqliteBackend({ database: db });
    let berth: string[][];
    try {
      const queue = backend.queue<Task>(BERTH_QUEUE);
      await backend.connect();
      berth = [
        await trace.of(() => queue.enqueue(task(1))),
        await trace.of(() => queue.enqueueMany([{ payload: task(2) }, { payload: task(3) }])),
      ];
    } finally {
      await backend.close();
      db.close();
    }

    expect(berth[0]).toHaveLength(5);
    expect(berth[0]?.[1]).toContain("VALUES (<id>, 'bench', 'waiting', 0.0,");
    // One look per transaction for another backend listening to job events (none here: no event is written).
    expect(berth[0]?.[2]).toMatch(/^SELECT 1 FROM _berth_event_listeners /);
    expect(berth[1]).toHaveLength(6);
    expect(await floorTrace(berthLayoutFloor)).toEqual(berth);
  });
});

describe("the raw floor on plainjob's layout", () => {
  it('runs the statement plainjob runs for add and addMany', async () => {
    const trace = new Trace();
    const queue = defineQueue({
      connection: better(new Database(nextFile(), { verbose: trace.verbose })),
      logger: silentLogger,
    });
    let plainjob: string[][];
    try {
      plainjob = [
        await trace.of(() => queue.add(PLAINJOB_TYPE, task(1))),
        await trace.of(() => queue.addMany(PLAINJOB_TYPE, [task(2), task(3)])),
      ];
    } finally {
      queue.close();
    }

    expect(plainjob[0]).toEqual([
      `INSERT INTO plainjob_jobs (type, data, created_at, next_run_at) VALUES ('noop', '{"kind":"noop","n":1}', ${Date.now()}.0, ${Date.now()}.0)`,
    ]);
    expect(plainjob[1]?.filter((statement) => statement.startsWith('INSERT'))).toHaveLength(2);
    expect(await floorTrace(plainjobLayoutFloor)).toEqual(plainjob);
  });
});

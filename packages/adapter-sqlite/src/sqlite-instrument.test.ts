import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createCollector, type Document, instrument, type OperationEvent, type OperationStart } from '@berth/core';
import { afterAll, describe, expect, it } from 'vitest';
import { SqliteBackend } from './sqlite-backend.js';

// instrument() and the collector on a real SQLite file: spans nest in a real
// transaction, the adapter's own worker reports its traffic, and every start
// has its end on the failure paths.

const directory = mkdtempSync(join(tmpdir(), 'berth-sqlite-instrument-'));
afterAll(() => rmSync(directory, { recursive: true, force: true }));
let counter = 0;

interface Player extends Document {
  name: string;
  level: number;
  guild: string;
}

type Recorded =
  | { readonly phase: 'start'; readonly event: OperationStart }
  | { readonly phase: 'end'; readonly event: OperationEvent };

function traced(): { backend: SqliteBackend; log: Recorded[]; ends: () => OperationEvent[] } {
  counter += 1;
  const log: Recorded[] = [];
  const backend = instrument(new SqliteBackend({ filename: join(directory, `${counter}.db`) }), {
    onStart: (event) => log.push({ phase: 'start', event }),
    onOperation: (event) => log.push({ phase: 'end', event }),
  });
  return { backend, log, ends: () => log.flatMap((entry) => (entry.phase === 'end' ? [entry.event] : [])) };
}

/** Each start has one end after it, with the same fields; children start after and end before their parent. */
function expectWellNested(log: readonly Recorded[]): void {
  const starts = new Map<number, number>();
  const ends = new Map<number, number>();
  for (const [index, { phase, event }] of log.entries()) {
    const seen = phase === 'start' ? starts : ends;
    expect(seen.has(event.id)).toBe(false);
    seen.set(event.id, index);
    if (phase === 'end') {
      const start = log[starts.get(event.id) ?? -1]?.event;
      expect(start, `start of ${event.operation} #${event.id}`).toBeDefined();
      expect({ ...event, durationMs: 0, ok: true, rows: 0, result: 0, error: 0 }).toMatchObject(start ?? {});
    }
  }
  expect([...starts.keys()].sort()).toStrictEqual([...ends.keys()].sort());
  for (const { phase, event } of log) {
    if (phase !== 'start' || event.parentId === undefined) continue;
    expect(starts.get(event.parentId) as number).toBeLessThan(starts.get(event.id) as number);
    expect(ends.get(event.id) as number).toBeLessThan(ends.get(event.parentId) as number);
  }
}

async function until(condition: () => boolean | Promise<boolean>): Promise<void> {
  const deadline = Date.now() + 10_000;
  while (!(await condition())) {
    if (Date.now() > deadline) throw new Error('timed out');
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
}

describe('instrument on SQLite', () => {
  it('nests the operations of a committed and of a rolled back transaction under it', async () => {
    const { backend, log, ends } = traced();
    await backend.transaction(async (tx) => {
      await tx.repository<Player>('players').insert({ id: 'p1', name: 'Ada', level: 1, guild: 'north' });
      await tx.queue('mails').enqueue({ to: 'ada' });
    });
    await expect(
      backend.transaction(async (tx) => {
        await tx.repository<Player>('players').update('p1', { $inc: { level: 1 } });
        await tx.repository<Player>('players').insert({ id: 'p1', name: 'Twin', level: 1, guild: 'north' });
      }),
    ).rejects.toMatchObject({ code: 'ALREADY_EXISTS' });
    expectWellNested(log);
    const [committed, rolledBack] = ends().filter((event) => event.operation === 'transaction');
    expect(committed).toMatchObject({ ok: true, transaction: true });
    expect(rolledBack).toMatchObject({ ok: false, error: { code: 'ALREADY_EXISTS' } });
    const children = (parent: OperationEvent | undefined) =>
      ends()
        .filter((event) => event.parentId === parent?.id)
        .map((event) => [event.kind, event.operation, event.ok]);
    expect(children(committed)).toEqual([
      ['repository', 'insert', true],
      ['queue', 'enqueue', true],
    ]);
    expect(children(rolledBack)).toEqual([
      ['repository', 'update', true],
      ['repository', 'insert', false],
    ]);
    expect(await backend.repository<Player>('players').get('p1')).toMatchObject({ level: 1 });
    await backend.close();
  });

  it('pairs start and end for an aborted operation, a VALIDATION error and a broken-off iteration', async () => {
    const { backend, log, ends } = traced();
    const players = backend.repository<Player>('players');
    await players.insertMany([
      { name: 'Ada', level: 1, guild: 'north' },
      { name: 'Brom', level: 2, guild: 'south' },
    ]);
    await expect(players.count({ level: 1 }, { signal: AbortSignal.abort() })).rejects.toMatchObject({
      code: 'ABORTED',
    });
    await expect(players.insert({ name: 'Nul\u0000', level: 2 ** 53 + 2, guild: 'x' } as never)).rejects.toMatchObject({
      code: 'VALIDATION',
    });
    for await (const _ of players.iterate({ orderBy: 'level' }, { batchSize: 1 })) break;
    expectWellNested(log);
    expect(ends().map((event) => [event.operation, event.ok, event.rows])).toEqual([
      ['insertMany', true, 2],
      ['count', false, undefined],
      ['insert', false, undefined],
      ['iterate', true, 1],
    ]);
    await backend.close();
  });

  it("reports the SQLite worker's claims, handling, completions, failures and retries", async () => {
    const { backend, log, ends } = traced();
    const jobs = backend.queue<{ n: number }>('jobs');
    const worker = jobs.work(
      async (job) => {
        if (job.payload.n === 2) throw new Error(`attempt ${job.attempts}`);
        return { doubled: job.payload.n * 2 };
      },
      { pollIntervalMs: 10, concurrency: 2 },
    );
    const done = await jobs.enqueue({ n: 1 });
    const failing = await jobs.enqueue({ n: 2 }, { maxAttempts: 2, backoff: { type: 'fixed', delayMs: 1 } });
    await until(async () => (await jobs.get(failing.id))?.state === 'dead');
    await worker.close();
    expectWellNested(log);
    const events = ends();
    const work = events.find((event) => event.operation === 'work');
    expect(events.at(-1)).toBe(work);
    // Two at a time: the order between the jobs is free, the order of one job's attempts is not.
    const handles = [done.id, failing.id].flatMap((id) =>
      events.filter((event) => event.operation === 'handle' && event.jobId === id),
    );
    expect(handles.map((event) => [event.attempt, event.ok, event.parentId === work?.id, event.worker])).toEqual([
      [1, true, true, true],
      [1, false, true, true],
      [2, false, true, true],
    ]);
    // SQLite settles and claims in one transaction: the settlements travel in the worker's
    // settleAndClaim batches (children of `work`), not as children of each handle.
    for (const handle of handles) {
      expect(events.filter((event) => event.parentId === handle.id && event.operation !== 'extendLease')).toEqual([]);
    }
    expect(await jobs.get(done.id)).toMatchObject({ state: 'completed', result: { doubled: 2 } });
    expect(await jobs.get(failing.id)).toMatchObject({ state: 'dead', attempts: 2 });
    const claims = events.filter((event) => event.operation === 'settleAndClaim');
    expect(claims.every((claim) => claim.worker === true && claim.parentId === work?.id)).toBe(true);
    expect(claims.reduce((sum, claim) => sum + (claim.rows ?? 0), 0)).toBe(3);
    expect(events.some((event) => ['complete', 'fail', 'dequeueMany'].includes(event.operation))).toBe(false);
    await backend.close();
  });

  it('suggests a compound index with value types, and none once it is declared', async () => {
    counter += 1;
    const filename = join(directory, `${counter}.db`);
    const collector = createCollector();
    const backend = instrument(new SqliteBackend({ filename }), collector.hooks);
    const players = backend.repository<Player>('players');
    await players.insertMany(
      Array.from({ length: 30 }, (_, n) => ({ name: `p${n}`, level: n % 7, guild: n % 2 ? 'a' : 'b' })),
    );
    for (let round = 0; round < 5; round++) {
      await players.find({ where: { guild: 'a', level: { $gte: round } }, orderBy: 'name', limit: 3 });
    }
    const [suggestion] = collector.report().indexSuggestions;
    expect(suggestion).toMatchObject({
      collection: 'players',
      fields: ['guild', 'name', 'level'],
      filterCount: 5,
      sortCount: 5,
      index: {
        fields: [
          { field: 'guild', type: 'string' },
          { field: 'name', type: 'string' },
          { field: 'level', type: 'number' },
        ],
      },
    });
    expect(collector.format()).toContain('players: {"fields":[{"field":"guild","type":"string"}');
    // A single-field suggestion is pasted as it is.
    await players.count({ level: 3 });
    const single = collector.report().indexSuggestions.find((entry) => entry.fields.length === 1);
    expect(single?.index).toEqual({ field: 'level', type: 'number' });
    if (single?.index === undefined || !('field' in single.index)) throw new Error('expected a single-field index');
    const indexed = backend.repository('players', { indexes: [single.index] });
    expect(await indexed.count({ level: 3 })).toBe(4);
    expect(collector.report().indexSuggestions.some((entry) => entry.fields.length === 1)).toBe(false);
    await backend.close();
  });
});

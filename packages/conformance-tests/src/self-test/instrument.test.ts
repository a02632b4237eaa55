import { MemoryBackend } from '@berth/adapter-memory';
import {
  createCollector,
  type Document,
  instrument,
  isBerthError,
  type OperationEvent,
  type OperationStart,
} from '@berth/core';
import { describe, expect, it } from 'vitest';

// instrument() and the collector against the real memory backend: core's own
// tests cover the wrapper with a stand-in, these prove it on an adapter.

interface Player extends Document {
  name: string;
  level: number;
  guild: string;
}

function setup(): { backend: MemoryBackend; events: OperationEvent[] } {
  const events: OperationEvent[] = [];
  const backend = instrument(new MemoryBackend(), { onOperation: (event) => events.push(event) });
  return { backend, events };
}

async function until(condition: () => boolean): Promise<void> {
  const deadline = Date.now() + 5_000;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error('timed out');
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
}

describe('instrument on the memory backend', () => {
  it('reports repository operations with their rows', async () => {
    const { backend, events } = setup();
    const players = backend.repository<Player>('players');
    await players.insertMany([
      { id: 'p1', name: 'Ada', level: 3, guild: 'north' },
      { id: 'p2', name: 'Brom', level: 7, guild: 'south' },
    ]);
    expect(await players.get('p1')).toMatchObject({ name: 'Ada' });
    expect(await players.get('nobody')).toBeNull();
    expect(await players.find({ where: { level: { $gte: 1 } }, orderBy: 'name' })).toHaveLength(2);
    expect(await players.update('p1', { $inc: { level: 1 } })).toMatchObject({ level: 4 });
    expect(await players.deleteMany({ guild: 'south' })).toBe(1);
    expect(events.map((event) => [event.operation, event.rows])).toEqual([
      ['insertMany', 2],
      ['get', 1],
      ['get', 0],
      ['find', 2],
      ['update', 1],
      ['deleteMany', 1],
    ]);
    for (const event of events) {
      expect(event).toMatchObject({ backend: 'memory', target: 'players', kind: 'repository', ok: true });
      expect(event.transaction).toBe(false);
      expect(event.durationMs).toBeGreaterThanOrEqual(0);
    }
    expect(events[3]).toMatchObject({ where: { level: { $gte: 1 } }, orderBy: 'name' });
    await backend.close();
  });

  it('reports a NOT_FOUND update with its error and still rejects with that error', async () => {
    const { backend, events } = setup();
    let thrown: unknown;
    try {
      await backend.repository<Player>('players').update('missing', { level: 1 });
    } catch (error) {
      thrown = error;
    }
    expect(isBerthError(thrown, 'NOT_FOUND')).toBe(true);
    expect(events).toHaveLength(1);
    expect(events[0]).toMatchObject({ operation: 'update', ok: false });
    expect(events[0]?.error).toBe(thrown);
  });

  it('reports a transaction and marks the operations inside it', async () => {
    const { backend, events } = setup();
    await backend.repository<Player>('players').insert({ id: 'p1', name: 'Ada', level: 1, guild: 'north' });
    events.length = 0;
    await backend.transaction(async (tx) => {
      await tx.repository<Player>('players').update('p1', { $inc: { level: 1 } });
      await tx.queue('mails').enqueue({ to: 'ada' });
    });
    expect(events.map((event) => [event.kind, event.target, event.operation, event.transaction])).toEqual([
      ['repository', 'players', 'update', true],
      ['queue', 'mails', 'enqueue', true],
      ['backend', '', 'transaction', true],
    ]);
    // What the transaction wrote is committed, as without the wrapper.
    expect(await backend.repository<Player>('players').get('p1')).toMatchObject({ level: 2 });
    expect((await backend.queue('mails').stats()).waiting).toBe(1);
  });

  it('reports queue operations, and lets the adapter run its own worker', async () => {
    const { backend, events } = setup();
    const mails = backend.queue<{ to: string }>('mails');
    const { id } = await mails.enqueue({ to: 'ada' });
    const lease = await mails.dequeue();
    expect(lease?.job.id).toBe(id);
    await mails.complete(lease as NonNullable<typeof lease>, { sent: true });
    expect(await mails.get(id)).toMatchObject({ state: 'completed', result: { sent: true } });
    expect(events.map((event) => [event.kind, event.target, event.operation, event.rows, event.ok])).toEqual([
      ['queue', 'mails', 'enqueue', 1, true],
      ['queue', 'mails', 'dequeue', 1, true],
      ['queue', 'mails', 'complete', 1, true],
      ['queue', 'mails', 'get', 1, true],
    ]);

    // work() is the adapter's worker (woken by its notifier, not polling), and its traffic is reported.
    events.length = 0;
    const handled: string[] = [];
    const worker = mails.work(
      (job) => {
        handled.push(job.payload.to);
      },
      { pollIntervalMs: 60_000 },
    );
    await mails.enqueue({ to: 'brom' });
    await until(() => handled.length === 1 && events.some((event) => event.operation === 'handle'));
    await worker.close();
    const work = events.find((event) => event.operation === 'work');
    const handle = events.find((event) => event.operation === 'handle');
    expect(work).toMatchObject({ kind: 'queue', target: 'mails', worker: true, ok: true });
    expect(handle).toMatchObject({ worker: true, ok: true, parentId: work?.id, attempt: 1 });
    // The memory queue settles and claims in one call: the worker's batches are children of `work`,
    // and the job's `handle` ends once the batch that carried its settlement has been applied.
    const batches = events.filter((event) => event.operation === 'settleAndClaim');
    expect(batches.length).toBeGreaterThan(0);
    expect(batches.every((event) => event.worker === true && event.parentId === work?.id)).toBe(true);
    expect(batches.reduce((sum, event) => sum + (event.rows ?? 0), 0)).toBe(1);
    expect(events.some((event) => event.operation === 'complete' || event.operation === 'dequeueMany')).toBe(false);
    expect(events.at(-1)).toBe(work);
  });

  it('reports an iteration once, with the documents yielded', async () => {
    const { backend, events } = setup();
    const players = backend.repository<Player>('players');
    await players.insertMany(
      Array.from({ length: 25 }, (_, index) => ({ name: `p${index}`, level: index, guild: 'north' })),
    );
    events.length = 0;
    let seen = 0;
    for await (const _ of players.iterate({ where: { level: { $lt: 20 } } }, { batchSize: 7 })) seen++;
    expect(seen).toBe(20);
    expect(events).toEqual([expect.objectContaining({ operation: 'iterate', ok: true, rows: 20 })]);
  });

  it('reports backend-level operations and keeps the backend members', async () => {
    const { backend, events } = setup();
    await backend.connect();
    expect((await backend.health()).ok).toBe(true);
    expect(backend).toBeInstanceOf(MemoryBackend);
    expect(backend.capabilities.queue.level).toBe('single-node');
    await backend.close();
    expect((await backend.health()).ok).toBe(false);
    expect(events.map((event) => [event.kind, event.operation])).toEqual([
      ['backend', 'connect'],
      ['backend', 'health'],
      ['backend', 'close'],
      ['backend', 'health'],
    ]);
  });
});

describe('the collector on the memory backend', () => {
  it('times operations and suggests the unindexed field, not the indexed one', async () => {
    const collector = createCollector();
    const backend = instrument(new MemoryBackend(), collector.hooks);
    const players = backend.repository<Player>('players', { indexes: [{ field: 'level', type: 'number' }] });
    await players.insertMany(
      Array.from({ length: 200 }, (_, index) => ({
        name: `p${index}`,
        level: index % 50,
        guild: index % 2 === 0 ? 'north' : 'south',
      })),
    );
    for (let round = 0; round < 40; round++) {
      await players.find({ where: { level: { $gte: round }, guild: 'north' } });
      await players.count({ level: round });
    }
    // Another handle on the same collection, declared without indexes, must not hide `level`'s index.
    await backend.repository<Player>('players').find({ where: { guild: 'south' }, orderBy: 'name' });

    const report = collector.report();
    // Equality first, then the range: the declared index on `level` alone does not lead with `guild`.
    expect(
      report.indexSuggestions.map((entry) => [entry.fields, entry.filterCount, entry.sortCount, entry.index]),
    ).toEqual([
      [
        ['guild', 'level'],
        40,
        0,
        {
          fields: [
            { field: 'guild', type: 'string' },
            { field: 'level', type: 'number' },
          ],
        },
      ],
      // `name` was never compared: its type comes from the documents the finds returned.
      [
        ['guild', 'name'],
        1,
        1,
        {
          fields: [
            { field: 'guild', type: 'string' },
            { field: 'name', type: 'string' },
          ],
        },
      ],
    ]);
    expect(report.indexSuggestions.some((entry) => entry.fields.length === 1 && entry.field === 'level')).toBe(false);
    expect(report.indexSuggestions[0]?.example).toBe('find where { level: { $gte: ? }, guild: ? }');

    const find = report.operations.find((entry) => entry.target === 'players' && entry.operation === 'find');
    expect(find).toMatchObject({ backend: 'memory', kind: 'repository', count: 41, errors: 0 });
    expect(find?.p50Ms).toBeGreaterThan(0);
    expect(find?.p50Ms).toBeLessThanOrEqual(find?.p95Ms ?? Number.NaN);
    expect(find?.p95Ms).toBeLessThanOrEqual(find?.p99Ms ?? Number.NaN);
    expect(find?.p99Ms).toBeLessThanOrEqual(find?.maxMs ?? Number.NaN);
    expect(find?.maxMs).toBeLessThan(5_000);
    expect(find?.totalMs).toBeGreaterThanOrEqual((find?.p50Ms ?? 0) * 20);
    expect(report.slowest.length).toBe(10);
    expect(report.slowest[0]?.durationMs).toBe(Math.max(...report.operations.map((entry) => entry.maxMs)));
    expect(collector.format()).toContain('Index suggestions');
    await backend.close();
  });
});

type Recorded =
  | { readonly phase: 'start'; readonly event: OperationStart }
  | { readonly phase: 'end'; readonly event: OperationEvent };

/** An instrumented memory backend that records every start and end event, in order. */
function traced(): { backend: MemoryBackend; log: Recorded[] } {
  const log: Recorded[] = [];
  const backend = instrument(new MemoryBackend(), {
    onStart: (event) => log.push({ phase: 'start', event }),
    onOperation: (event) => log.push({ phase: 'end', event }),
  });
  return { backend, log };
}

/**
 * Every start has exactly one end with the same id and fields, after it;
 * a child starts after its parent starts and ends before its parent ends.
 */
function expectWellNested(log: readonly Recorded[]): void {
  const starts = new Map<number, number>();
  const ends = new Map<number, number>();
  for (const [index, { phase, event }] of log.entries()) {
    const seen = phase === 'start' ? starts : ends;
    expect(seen.has(event.id), `a second ${phase} for ${event.operation} #${event.id}`).toBe(false);
    seen.set(event.id, index);
    if (phase === 'end') {
      const start = log[starts.get(event.id) ?? -1];
      expect(start, `the end of ${event.operation} #${event.id} came before its start`).toBeDefined();
      for (const field of [
        'backend',
        'target',
        'kind',
        'operation',
        'parentId',
        'transaction',
        'worker',
        'jobId',
      ] as const) {
        expect(event[field], `${field} of ${event.operation} #${event.id}`).toStrictEqual(start?.event[field]);
      }
    }
  }
  expect([...starts.keys()].sort(), 'every start has an end').toStrictEqual([...ends.keys()].sort());
  for (const { phase, event } of log) {
    if (phase !== 'start' || event.parentId === undefined) continue;
    const parentStart = starts.get(event.parentId);
    expect(parentStart, `the parent of ${event.operation} #${event.id}`).toBeDefined();
    expect(parentStart as number).toBeLessThan(starts.get(event.id) as number);
    expect(ends.get(event.id) as number).toBeLessThan(ends.get(event.parentId) as number);
  }
}

function ends(log: readonly Recorded[]): OperationEvent[] {
  return log.flatMap((entry) => (entry.phase === 'end' ? [entry.event] : []));
}

describe('spans on the memory backend', () => {
  it('nests the operations of a transaction under it, committed or rolled back', async () => {
    const { backend, log } = traced();
    await backend.transaction(async (tx) => {
      await tx.repository<Player>('players').insert({ id: 'p1', name: 'Ada', level: 1, guild: 'north' });
      await tx.repository<Player>('players').update('p1', { $inc: { level: 1 } });
      await tx.queue('mails').enqueue({ to: 'ada' });
    });
    const rollback = new Error('changed my mind');
    await expect(
      backend.transaction(async (tx) => {
        await tx.repository<Player>('players').delete('p1');
        throw rollback;
      }),
    ).rejects.toBe(rollback);
    expectWellNested(log);
    const [committed, rolledBack] = ends(log).filter((event) => event.operation === 'transaction');
    expect(committed).toMatchObject({ ok: true, kind: 'backend', transaction: true });
    expect(rolledBack).toMatchObject({ ok: false, error: rollback });
    expect(
      ends(log)
        .filter((event) => event.parentId === committed?.id)
        .map((event) => event.operation),
    ).toEqual(['insert', 'update', 'enqueue']);
    expect(ends(log).filter((event) => event.parentId === rolledBack?.id)).toEqual([
      expect.objectContaining({ operation: 'delete', ok: true, rows: 1, transaction: true }),
    ]);
    // Rolled back: the document is still there.
    expect(await backend.repository<Player>('players').get('p1')).toMatchObject({ level: 2 });
  });

  it('pairs start and end for an aborted operation, a VALIDATION error and a conflict inside a transaction', async () => {
    const { backend, log } = traced();
    const players = backend.repository<Player>('players');
    await players.insert({ id: 'p1', name: 'Ada', level: 1, guild: 'north' });
    await expect(players.find({ where: { level: 1 } }, { signal: AbortSignal.abort() })).rejects.toMatchObject({
      code: 'ABORTED',
    });
    await expect(players.find({ where: { level: { $bogus: 1 } } as never })).rejects.toMatchObject({
      code: 'VALIDATION',
    });
    await expect(players.insert({ id: 'p1', name: 'Ada', level: 1, guild: 'north' })).rejects.toMatchObject({
      code: 'ALREADY_EXISTS',
    });
    const iteration = async (): Promise<void> => {
      for await (const _ of players.iterate({ orderBy: { field: 'level', direction: 'sideways' as never } })) {
        // never reached
      }
    };
    await expect(iteration()).rejects.toMatchObject({ code: 'VALIDATION' });
    await expect(
      backend.transaction(async (tx) => {
        await tx.repository<Player>('players').update('nobody', { level: 2 });
      }),
    ).rejects.toMatchObject({ code: 'NOT_FOUND' });
    expectWellNested(log);
    expect(
      ends(log).map((event) => [event.operation, event.ok, (event.error as { code?: string } | undefined)?.code]),
    ).toEqual([
      ['insert', true, undefined],
      ['find', false, 'ABORTED'],
      ['find', false, 'VALIDATION'],
      ['insert', false, 'ALREADY_EXISTS'],
      ['iterate', false, 'VALIDATION'],
      ['update', false, 'NOT_FOUND'],
      ['transaction', false, 'NOT_FOUND'],
    ]);
  });

  it("reports a worker's claims, each job's handling with its settlement, failures and retries", async () => {
    const { backend, log } = traced();
    const jobs = backend.queue<{ n: number }>('jobs');
    const attempts: number[] = [];
    const worker = jobs.work(
      async (job) => {
        attempts.push(job.attempts);
        // Repository calls a handler makes are operations of their own.
        await backend.repository<Player>('players').count();
        if (job.payload.n === 2) throw new Error(`attempt ${job.attempts} failed`);
      },
      { pollIntervalMs: 20 },
    );
    await jobs.enqueue({ n: 1 });
    await jobs.enqueue({ n: 2 }, { maxAttempts: 2, backoff: { type: 'fixed', delayMs: 1 } });
    await until(() => ends(log).filter((event) => event.operation === 'handle').length === 3);
    await worker.close();
    expectWellNested(log);

    const events = ends(log);
    const work = events.find((event) => event.operation === 'work');
    expect(work).toMatchObject({ kind: 'queue', target: 'jobs', worker: true, ok: true });
    expect(events.at(-1)).toBe(work);
    const handles = events.filter((event) => event.operation === 'handle');
    expect(handles.map((event) => [event.attempt, event.ok, event.parentId === work?.id])).toEqual([
      [1, true, true],
      [1, false, true],
      [2, false, true],
    ]);
    expect(handles[1]?.error).toMatchObject({ message: 'attempt 1 failed' });
    // Settlements travel in the worker's settleAndClaim batches, not as children of each handle.
    for (const handle of handles) {
      expect(events.filter((event) => event.parentId === handle.id && event.operation !== 'extendLease')).toEqual([]);
    }
    // Each handle ends once its settlement has been applied: the first failure was retried, the second made the job dead.
    const failing = await jobs.get(handles[1]?.jobId as string);
    expect(failing).toMatchObject({ state: 'dead', attempts: 2 });
    expect((await jobs.get(handles[0]?.jobId as string))?.state).toBe('completed');
    const claims = events.filter((event) => event.operation === 'settleAndClaim');
    expect(claims.length).toBeGreaterThan(0);
    for (const claim of claims) expect(claim).toMatchObject({ worker: true, parentId: work?.id });
    expect(claims.reduce((sum, claim) => sum + (claim.rows ?? 0), 0)).toBe(3);
    // The handler's own repository call: reported, not a worker operation, no parent (core keeps no async context).
    const counts = events.filter((event) => event.operation === 'count');
    expect(counts).toHaveLength(3);
    for (const count of counts) expect('worker' in count || 'parentId' in count).toBe(false);
  });
});

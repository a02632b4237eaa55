import { MemoryBackend } from '@berth/adapter-memory';
import {
  createCollector,
  type Document,
  instrument,
  isBerthError,
  type OperationEvent,
  startWorker,
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

    // work() is the adapter's worker: it handles jobs, its traffic is not reported.
    events.length = 0;
    const handled: string[] = [];
    const worker = mails.work((job) => {
      handled.push(job.payload.to);
    });
    await mails.enqueue({ to: 'brom' });
    await until(() => handled.length === 1);
    await worker.close();
    expect(events.map((event) => event.operation)).toEqual(['enqueue']);

    // Observing a worker's traffic is opt-in: core's worker on the instrumented
    // queue, which has no notifier and so polls.
    events.length = 0;
    const observed = startWorker(
      mails,
      (job) => {
        handled.push(job.payload.to);
      },
      { pollIntervalMs: 10 },
    );
    await mails.enqueue({ to: 'cora' });
    await until(() => handled.length === 2 && events.some((event) => event.operation === 'complete'));
    await observed.close();
    expect(events.some((event) => event.operation === 'dequeueMany' && event.rows === 1)).toBe(true);
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
    expect(
      report.indexSuggestions.map((entry) => [entry.collection, entry.field, entry.filterCount, entry.sortCount]),
    ).toEqual([
      ['players', 'guild', 41, 0],
      ['players', 'name', 0, 1],
    ]);
    expect(report.indexSuggestions.some((entry) => entry.field === 'level')).toBe(false);
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

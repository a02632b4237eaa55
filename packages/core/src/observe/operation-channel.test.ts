import { subscribe, unsubscribe } from 'node:diagnostics_channel';
import { afterEach, describe, expect, it } from 'vitest';
import { createBackend } from '../backend/create-backend.js';
import { isBerthError } from '../errors.js';
import type { OperationEvent, OperationStart } from './instrument.js';
import { OPERATION_END_CHANNEL, OPERATION_START_CHANNEL, publishOperations } from './operation-channel.js';

const listening: [string, (message: unknown) => void][] = [];

/** Subscribes to both channels, keeping what this test's backend published. */
function listen(backend: string): { starts: OperationStart[]; ends: OperationEvent[] } {
  const starts: OperationStart[] = [];
  const ends: OperationEvent[] = [];
  const onStart = (message: unknown) => {
    if ((message as OperationStart).backend === backend) starts.push(message as OperationStart);
  };
  const onEnd = (message: unknown) => {
    if ((message as OperationEvent).backend === backend) ends.push(message as OperationEvent);
  };
  subscribe(OPERATION_START_CHANNEL, onStart);
  subscribe(OPERATION_END_CHANNEL, onEnd);
  listening.push([OPERATION_START_CHANNEL, onStart], [OPERATION_END_CHANNEL, onEnd]);
  return { starts, ends };
}

function stopListening(): void {
  for (const [name, listener] of listening.splice(0)) unsubscribe(name, listener);
}

afterEach(stopListening);

describe.each([
  ['memory', 'memory:'],
  ['sqlite', 'sqlite::memory:'],
])('the operation channels, on a %s backend from createBackend', (kind, url) => {
  it('publish every repository, transaction and queue operation, starts and ends with the same id', async () => {
    const { starts, ends } = listen(kind);
    const backend = await createBackend(url);
    try {
      const players = backend.repository<{ id: string; level: number }>('players');
      await players.insert({ id: 'a', level: 1 });
      await players.find({ where: { level: { $gte: 1 } } });
      const missing = await players.update('nobody', { $set: { level: 2 } }).catch((error: unknown) => error);
      expect(isBerthError(missing, 'NOT_FOUND')).toBe(true);
      await backend.transaction(async (tx) => {
        await tx.repository('players').get('a');
        await tx.queue('mails').enqueue('hello');
      });
      const mails = backend.queue<string>('mails');
      const lease = await mails.dequeue();
      if (lease === null) throw new Error('expected a job');
      await mails.complete(lease);
    } finally {
      await backend.close();
    }
    const names = ends.map((end) => `${end.target}.${end.operation}`);
    expect(names).toStrictEqual([
      '.connect',
      'players.insert',
      'players.find',
      'players.update',
      'players.get',
      'mails.enqueue',
      '.transaction',
      'mails.dequeue',
      'mails.complete',
      '.close',
    ]);
    expect(new Set(starts.map((start) => start.id))).toStrictEqual(new Set(ends.map((end) => end.id)));
    expect(starts).toHaveLength(ends.length);
    const find = ends[2];
    expect(find).toMatchObject({ kind: 'repository', ok: true, rows: 1, where: { level: { $gte: 1 } } });
    expect(ends[3]).toMatchObject({ operation: 'update', ok: false });
    const transaction = ends[6];
    expect(ends[4]).toMatchObject({ transaction: true, parentId: transaction?.id });
    expect(ends[5]).toMatchObject({ kind: 'queue', transaction: true, parentId: transaction?.id });
    expect(ends[8]).toMatchObject({ jobId: expect.any(String) });
  });

  it('publish nothing once unsubscribed', async () => {
    const { ends } = listen(kind);
    const backend = await createBackend(url);
    const players = backend.repository<{ id: string }>('players');
    await players.insert({ id: 'a' });
    const seen = ends.length;
    stopListening();
    await players.get('a');
    await players.count();
    await backend.close();
    expect(ends).toHaveLength(seen);
  });
});

describe('publishOperations', () => {
  it('returns a publishing backend as it is, so nothing is published twice', async () => {
    const backend = await createBackend('memory:');
    expect(publishOperations(backend)).toBe(backend);
    const { ends } = listen('memory');
    await backend.repository('players').count();
    await backend.close();
    expect(ends.map((end) => end.operation)).toStrictEqual(['count', 'close']);
  });

  it('gives ids unique across backends, so subscribers can match starts and ends of all of them', async () => {
    const { ends } = listen('memory');
    const first = await createBackend('memory:');
    const second = await createBackend('memory:');
    await first.repository('a').count();
    await second.repository('a').count();
    await first.close();
    await second.close();
    const ids = ends.map((end) => end.id);
    expect(new Set(ids).size).toBe(ids.length);
  });
});

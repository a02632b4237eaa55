import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { isBerthError } from '@berth/core';
import { afterAll, describe, expect, it } from 'vitest';
import { eventually, PrivateRedis } from './fixtures/redis-server.js';
import { RedisBackend } from './redis-backend.js';

const folders: string[] = [];
const servers: PrivateRedis[] = [];
afterAll(async () => {
  for (const server of servers) await server.kill();
  for (const folder of folders) rmSync(folder, { recursive: true, force: true });
});

async function startServer(appendOnly: boolean): Promise<PrivateRedis> {
  const folder = mkdtempSync(join(tmpdir(), 'berth-redis-aof-'));
  folders.push(folder);
  const server = await PrivateRedis.start(appendOnly ? { appendOnlyDir: folder } : {});
  servers.push(server);
  return server;
}

/** Runs `write` in a loop until it fails; returns what each acknowledged call returned, and the error that stopped it. */
async function writeUntilFailure<R>(write: (n: number) => Promise<R>): Promise<{ acknowledged: R[]; error: unknown }> {
  const acknowledged: R[] = [];
  for (let n = 0; ; n++) {
    try {
      acknowledged.push(await write(n));
    } catch (error) {
      return { acknowledged, error };
    }
  }
}

const waitUntil = async (check: () => boolean): Promise<void> => {
  while (!check()) await new Promise((resolve) => setTimeout(resolve, 5));
};

describe('RedisBackend and a server killed mid-run', () => {
  it('with appendfsync always, no acknowledged write or enqueued job is lost by SIGKILL', async () => {
    const server = await startServer(true);
    const backend = new RedisBackend({ url: server.url, keyPrefix: 'aof:' });
    const notes = backend.repository<{ id: string; n: number }>('notes', { indexes: [{ field: 'n', type: 'number' }] });
    const jobs = backend.queue<{ n: number }>('jobs');
    try {
      let written = 0;
      let enqueued = 0;
      const writer = writeUntilFailure(async (n) => {
        const note = await notes.insert({ n });
        written++;
        return note.id;
      });
      const enqueuer = writeUntilFailure(async (n) => {
        const { id } = await jobs.enqueue({ n });
        enqueued++;
        return id;
      });
      await waitUntil(() => written >= 300 && enqueued >= 300);
      await server.kill();
      const [notesRun, jobsRun] = await Promise.all([writer, enqueuer]);
      for (const { error } of [notesRun, jobsRun]) expect(isBerthError(error, 'CONNECTION'), String(error)).toBe(true);

      await server.start();
      const kept = await eventually(() => notes.getMany(notesRun.acknowledged));
      expect(kept.filter((note) => note === null)).toHaveLength(0);
      // The index came back with the documents: an indexed find sees every acknowledged write.
      expect((await notes.find({ where: { n: { $gte: 0 } } })).length).toBeGreaterThanOrEqual(
        notesRun.acknowledged.length,
      );
      for (const id of jobsRun.acknowledged) expect((await jobs.get(id))?.state).toBe('waiting');
      // A write in flight at the kill may have landed too, so at least as many, and no more than one more.
      const { waiting } = await jobs.stats();
      expect(waiting - jobsRun.acknowledged.length).toBeGreaterThanOrEqual(0);
      expect(waiting - jobsRun.acknowledged.length).toBeLessThanOrEqual(1);
    } finally {
      await backend.close();
    }
  }, 60_000);

  it('a restarted server: retryable CONNECTION errors meanwhile, then workers resume on their own', async () => {
    const server = await startServer(true);
    const backend = new RedisBackend({ url: server.url, keyPrefix: 'restart:' });
    const jobs = backend.queue<{ n: number }>('jobs');
    const done = new Set<number>();
    const errors: unknown[] = [];
    const worker = jobs.work(async (job) => void done.add(job.payload.n), {
      concurrency: 4,
      onError: (error) => errors.push(error),
    });
    try {
      for (let n = 0; n < 50; n++) await jobs.enqueue({ n });
      await eventually(async () => expect(done.size).toBe(50));
      await server.kill();
      const error = await jobs.enqueue({ n: -1 }).catch((failure: unknown) => failure);
      expect(isBerthError(error, 'CONNECTION'), String(error)).toBe(true);
      expect((error as { retryable: boolean }).retryable).toBe(true);
      await server.start();
      await eventually(() => jobs.enqueue({ n: 50 }));
      for (let n = 51; n < 100; n++) await jobs.enqueue({ n });
      await eventually(async () => expect(done.size).toBe(100), 20_000);
    } finally {
      await worker.close();
      await backend.close();
    }
  }, 60_000);
});

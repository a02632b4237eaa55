import { describe, expect, it } from 'vitest';
import { databaseFiles } from './fixtures/temp-files.js';
import { SqliteBackend } from './sqlite-backend.js';

const { newFile } = databaseFiles('counts');
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** The counter table and a count of the rows, per queue and state, with zero counts left out. */
function tallies(backend: SqliteBackend): { counters: Record<string, number>; rows: Record<string, number> } {
  const db = backend.native();
  const of = (sql: string) =>
    Object.fromEntries(
      (db.prepare(sql).all() as { queue: string; state: string; count: number }[]).map((row) => [
        `${row.queue}/${row.state}`,
        row.count,
      ]),
    );
  return {
    counters: of('SELECT queue, state, count FROM _berth_job_counts WHERE count <> 0 ORDER BY queue, state'),
    rows: of('SELECT queue, state, count(*) AS count FROM _berth_jobs GROUP BY queue, state ORDER BY queue, state'),
  };
}

describe('job counts kept by the SQLite adapter', () => {
  it('match the rows after every kind of state change, and the triggers are gone', async () => {
    await using backend = new SqliteBackend({ filename: newFile() });
    const queue = backend.queue<{ n: number }>('jobs');
    const agree = () => {
      const { counters, rows } = tallies(backend);
      expect(counters).toStrictEqual(rows);
    };
    await queue.enqueueMany(Array.from({ length: 12 }, (_, n) => ({ payload: { n }, maxAttempts: 2 })));
    // A deduplicated enqueue stores nothing, so it counts nothing.
    await queue.enqueue({ n: 100 }, { dedupeKey: 'once' });
    await queue.enqueue({ n: 101 }, { dedupeKey: 'once' });
    agree();
    const [a, b, c, d, e] = await queue.dequeueMany(5);
    if (a === undefined || b === undefined || c === undefined || d === undefined || e === undefined) {
      return expect.unreachable('five jobs');
    }
    agree();
    await queue.complete(a);
    expect(await queue.fail(b, new Error('again'))).toBe('waiting');
    expect(await queue.fail(c, new Error('no'), { retry: false })).toBe('dead');
    await queue.release(d);
    agree();
    // cancel on an active job and on a waiting one; a second cancel changes nothing.
    expect(await queue.cancel(e.job.id)).toBe(true);
    const [waiting] = (await queue.listJobs({ state: 'waiting', order: 'oldest', limit: 1 })).jobs;
    expect(await queue.cancel(waiting?.id as string)).toBe(true);
    expect(await queue.cancel(waiting?.id as string)).toBe(false);
    agree();
    expect(await queue.retry(e.job.id)).toBe(true);
    expect(await queue.retry(c.job.id)).toBe(true);
    agree();
    expect((await queue.cancelJobs({ limit: 3 })).changed).toBe(3);
    expect((await queue.retryJobs({ state: 'cancelled', limit: 2 })).changed).toBe(2);
    agree();
    // settleAndClaim: a completion and a claim in one transaction, a stale lease refused without a count.
    const [f] = await queue.dequeueMany(1);
    if (f === undefined || queue.settleAndClaim === undefined) return expect.unreachable('a job and settleAndClaim');
    const settled = await queue.settleAndClaim(
      [
        { lease: f, outcome: 'complete' },
        { lease: a, outcome: 'complete' },
      ],
      2,
    );
    expect(settled.outcomes.map((outcome) => 'state' in outcome)).toStrictEqual([true, false]);
    agree();
    // Expired leases settled by a read: back to waiting, or dead on the last attempt.
    await queue.dequeueMany(20, { leaseMs: 1 });
    await sleep(5);
    await queue.stats();
    agree();
    const purged = await queue.purge({ finishedBefore: new Date(Date.now() + 1_000), states: ['dead', 'completed'] });
    expect(purged).toBeGreaterThan(0);
    agree();
    await queue.enqueueMany(Array.from({ length: 4 }, (_, n) => ({ payload: { n } })));
    const leases = await queue.dequeueMany(4);
    for (const lease of leases) await queue.complete(lease);
    expect(await queue.prune({ retention: { completed: { maxCount: 1 } } })).toBe(3);
    agree();
    const triggers = backend.native().prepare(`SELECT name FROM sqlite_master WHERE type = 'trigger'`).all();
    expect(triggers).toStrictEqual([]);
  });

  it('a transaction that changes more queues and states than one statement carries counts them all', async () => {
    await using backend = new SqliteBackend({ filename: newFile() });
    const names = Array.from({ length: 12 }, (_, n) => `queue_${n}`);
    await backend.transaction(async (tx) => {
      for (const name of names) await tx.queue<{ n: number }>(name).enqueue({ n: 1 });
    });
    for (const name of names) expect((await backend.queue(name).stats()).waiting).toBe(1);
    const { counters, rows } = tallies(backend);
    expect(counters).toStrictEqual(rows);
  });

  it('a transaction that rolls back leaves the counts as they were', async () => {
    await using backend = new SqliteBackend({ filename: newFile() });
    const queue = backend.queue<{ n: number }>('jobs');
    await queue.enqueue({ n: 0 });
    await expect(
      backend.transaction(async (tx) => {
        await tx.queue<{ n: number }>('jobs').enqueueMany([{ payload: { n: 1 } }, { payload: { n: 2 } }]);
        throw new Error('roll back');
      }),
    ).rejects.toThrow('roll back');
    expect((await queue.stats()).waiting).toBe(1);
    const { counters, rows } = tallies(backend);
    expect(counters).toStrictEqual(rows);
  });
});

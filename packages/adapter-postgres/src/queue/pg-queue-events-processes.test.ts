// Global events across processes: a worker in a child process, a subscriber
// (and the enqueues) here. Each side sees the other's events.
import type { ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { startQueueProcess } from '@berth/conformance-tests/processes';
import type { JobEvent } from '@berth/core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { dropSchemas, POSTGRES_URL, requirePostgres, uniqueSchema } from '../fixtures/pg-test-database.js';
import { PostgresBackend } from '../pg-backend.js';
import { eventChannelOf } from './pg-queue-events.js';

const started = new Set<ChildProcess>();
const schemas: string[] = [];
beforeAll(requirePostgres);
afterAll(async () => {
  for (const child of started) if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  await dropSchemas(schemas);
});

const fixture = fileURLToPath(new URL('../fixtures/pg-queue-events-worker.ts', import.meta.url));
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

const JOBS = 40;
/** Every FAIL_EVERY-th job fails its first attempt with a 10 KB message (left out of the NOTIFY, read from the job). */
const FAIL_EVERY = 8;

describe('PostgreSQL global events across processes', () => {
  it("a subscriber here sees the started, progress, failed and completed events of a worker in another process, and it sees this one's enqueues", async () => {
    const schema = uniqueSchema('events_processes');
    schemas.push(schema);
    const backend = new PostgresBackend({ connectionString: POSTGRES_URL, schema });
    const queue = backend.queue<{ n: number; fail?: boolean }>('events');
    await queue.stats();
    const events: JobEvent[] = [];
    const unsubscribe = queue.subscribe((event) => events.push(event));
    const child = startQueueProcess(fixture, [POSTGRES_URL, schema], 'events-worker');
    started.add(child.process);
    let output = '';
    child.process.stdout?.on('data', (chunk: Buffer) => {
      output += chunk.toString();
    });
    try {
      // READY: both processes listen on the schema's events channel.
      await child.waitFor('READY', 90_000);
      const channel = eventChannelOf(schema);
      const { rows } = await backend
        .native()
        .query(`SELECT 1 FROM pg_stat_activity WHERE query = $1 AND state = 'idle'`, [`LISTEN ${channel}`]);
      expect(rows.length).toBeGreaterThanOrEqual(2);
      const ids = (
        await queue.enqueueMany(
          Array.from({ length: JOBS }, (_, n) => ({
            payload: n % FAIL_EVERY === 0 ? { n, fail: true } : { n },
            maxAttempts: 2,
            backoff: { type: 'fixed' as const, delayMs: 0 },
          })),
        )
      ).map((result) => result.id);
      child.process.stdin?.write('go\n');
      const deadline = Date.now() + 60_000;
      while (events.filter((event) => event.type === 'completed').length < JOBS && Date.now() < deadline) {
        await sleep(20);
      }
      // Anything sent twice would arrive by now.
      await sleep(300);
      ids.forEach((id, n) => {
        const story = events.filter((event) => event.jobId === id).map((event) => event.type);
        const once = ['started', 'progress'];
        expect(story, `job ${n}`).toStrictEqual(
          n % FAIL_EVERY === 0
            ? ['enqueued', ...once, 'failed', ...once, 'completed']
            : ['enqueued', ...once, 'completed'],
        );
      });
      for (const event of events) {
        if (event.type === 'progress') expect(event.progress).toStrictEqual({ n: ids.indexOf(event.jobId) });
        if (event.type === 'failed') {
          expect(event.error).toMatchObject({ attempt: 1, name: 'Error', message: `failed ${'z'.repeat(10_000)}` });
          expect(event.error.at).toBeInstanceOf(Date);
          expect(event.retryAt).toBeInstanceOf(Date);
        }
      }
    } finally {
      // Ends stdin: the worker closes its backend and must end by itself, listening or not.
      child.process.stdin?.end('stop\n');
      await Promise.race([child.exited, sleep(30_000)]);
    }
    expect(child.process.exitCode, 'the worker process did not end by itself after close()').toBe(0);
    const failures = Math.ceil(JOBS / FAIL_EVERY);
    // The child's own events locally, this process's enqueues through NOTIFY.
    const counts = JSON.parse(/EVENTS (.*)/.exec(output)?.[1] ?? '{}') as Record<string, number>;
    expect(counts).toStrictEqual({
      enqueued: JOBS,
      started: JOBS + failures,
      progress: JOBS + failures,
      failed: failures,
      completed: JOBS,
    });
    unsubscribe();
    await backend.close();
  }, 180_000);
});

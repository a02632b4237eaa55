import type { JobQueue, JobState, JobStats, Lease } from '@berth/core';
import { expect } from 'vitest';
import { jobOf } from './queue-assertions.js';

/** What the reference model knows of one job. */
interface ModelJob {
  readonly id: string;
  readonly priority: number;
  /** Enqueue order: the FIFO tie-breaker, kept through release and retry. */
  readonly seq: number;
  state: JobState;
  /** The due time the engine chose, read back after every change of schedule. */
  runAt: number;
  lease: Lease<number> | undefined;
}

/** A small seeded generator (mulberry32), so a failing run can be replayed from its seed. */
function generator(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4_294_967_296;
  };
}

/** The job dequeue must deliver next: highest priority, then earliest runAt, then enqueue order. */
function expectedNext(jobs: readonly ModelJob[]): ModelJob | undefined {
  let best: ModelJob | undefined;
  for (const job of jobs) {
    if (job.state !== 'waiting') continue;
    if (
      best === undefined ||
      job.priority > best.priority ||
      (job.priority === best.priority && (job.runAt < best.runAt || (job.runAt === best.runAt && job.seq < best.seq)))
    ) {
      best = job;
    }
  }
  return best;
}

function modelStats(jobs: readonly ModelJob[]): JobStats {
  const stats = { waiting: 0, active: 0, completed: 0, dead: 0, cancelled: 0 };
  for (const job of jobs) stats[job.state] += 1;
  return stats;
}

/**
 * Runs `steps` random operations (enqueue with a priority and a due time in
 * the past, dequeue, complete, fail, release, cancel, retry) against `queue`
 * and checks every delivery against the order the model predicts, and the
 * stats after every step. Nothing here waits on a clock: every job is due.
 */
export async function runQueueModel(queue: JobQueue<number>, seed: number, steps: number): Promise<void> {
  const random = generator(seed);
  const pick = <T>(items: readonly T[]): T | undefined => items[Math.floor(random() * items.length)];
  const jobs: ModelJob[] = [];
  const log: string[] = [];
  const where = () => `seed ${seed}, after: ${log.slice(-12).join('; ')}`;
  const resync = async (job: ModelJob): Promise<void> => {
    job.runAt = (await jobOf(queue, job.id)).runAt.getTime();
  };
  const base = Date.now();

  for (let step = 0; step < steps; step++) {
    const roll = random();
    const active = jobs.filter((job) => job.state === 'active');
    const finished = jobs.filter((job) => job.state === 'dead' || job.state === 'cancelled');
    const live = jobs.filter((job) => job.state === 'waiting' || job.state === 'active');
    if (roll < 0.3 || jobs.length < 3) {
      const priority = Math.floor(random() * 3) - 1;
      const pastRunAt = random() < 0.6 ? new Date(base - 1_000 * Math.floor(random() * 4)) : undefined;
      const seq = jobs.length;
      const { id } = await queue.enqueue(seq, {
        priority,
        maxAttempts: 1_000,
        backoff: { type: 'fixed', delayMs: 0 },
        ...(pastRunAt === undefined ? {} : { runAt: pastRunAt }),
      });
      const job: ModelJob = { id, priority, seq, state: 'waiting', runAt: 0, lease: undefined };
      jobs.push(job);
      await resync(job);
      log.push(`enqueue #${seq} p${priority} ${pastRunAt === undefined ? 'now' : `-${base - pastRunAt.getTime()}ms`}`);
    } else if (roll < 0.55) {
      const expected = expectedNext(jobs);
      const lease = await queue.dequeue();
      log.push(`dequeue -> #${lease?.job.payload ?? 'none'}`);
      expect(lease?.job.id ?? null, `dequeue delivered the wrong job (${where()})`).toBe(expected?.id ?? null);
      if (expected !== undefined && lease !== null) {
        expected.state = 'active';
        expected.lease = lease;
      }
    } else if (roll < 0.65 && active.length > 0) {
      const job = pick(active) as ModelJob;
      await queue.complete(job.lease as Lease<number>);
      job.state = 'completed';
      log.push(`complete #${job.seq}`);
    } else if (roll < 0.75 && active.length > 0) {
      const job = pick(active) as ModelJob;
      const final = random() < 0.4;
      const state = await queue.fail(job.lease as Lease<number>, new Error('model'), { retry: !final });
      log.push(`fail #${job.seq}${final ? ' (final)' : ''}`);
      expect(state, where()).toBe(final ? 'dead' : 'waiting');
      job.state = state;
      if (state === 'waiting') await resync(job);
    } else if (roll < 0.83 && active.length > 0) {
      const job = pick(active) as ModelJob;
      await queue.release(job.lease as Lease<number>);
      job.state = 'waiting';
      await resync(job);
      log.push(`release #${job.seq}`);
    } else if (roll < 0.92 && live.length > 0) {
      const job = pick(live) as ModelJob;
      expect(await queue.cancel(job.id), where()).toBe(true);
      job.state = 'cancelled';
      log.push(`cancel #${job.seq}`);
    } else if (finished.length > 0) {
      const job = pick(finished) as ModelJob;
      expect(await queue.retry(job.id), where()).toBe(true);
      job.state = 'waiting';
      await resync(job);
      log.push(`retry #${job.seq}`);
    } else {
      continue;
    }
    expect(await queue.stats(), `stats (${where()})`).toStrictEqual(modelStats(jobs));
  }
}

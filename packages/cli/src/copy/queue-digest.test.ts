import type { Job, ScheduleRecord } from '@berth/core';
import { describe, expect, it } from 'vitest';
import { seedQueue } from '../fixtures/adversarial.js';
import { openTestBackend } from '../fixtures/engines.js';
import { canonicalJob, canonicalSchedule, digestQueue, SetChecksum } from './queue-digest.js';

const job: Job = {
  id: 'j1',
  queue: 'mail',
  payload: { to: 'a', when: new Date(1) },
  state: 'dead',
  priority: 5,
  attempts: 2,
  maxAttempts: 2,
  runAt: new Date(10),
  dedupeKey: 'k',
  leaseMs: 30_000,
  errors: [
    { attempt: 1, message: 'first', name: 'TypeError', at: new Date(11) },
    { attempt: 2, message: 'second', at: new Date(12) },
  ],
  result: undefined,
  progress: { step: 1 },
  timeoutMs: 5_000,
  createdAt: new Date(1),
  updatedAt: new Date(12),
  finishedAt: new Date(12),
  leaseExpiresAt: undefined,
};

function checksumOf(texts: readonly string[]): string {
  const checksum = new SetChecksum();
  for (const text of texts) checksum.add(text);
  return checksum.hex;
}

/** The payload nested `levels` objects deep, with `leaf` at the bottom. */
function deep(levels: number, leaf: unknown): unknown {
  let value = leaf;
  for (let level = 0; level < levels; level += 1) value = { a: value };
  return value;
}

describe('the set checksum', () => {
  it('does not depend on the order, but on every item and how many times it is there', () => {
    const texts = ['a', 'b', 'c', 'd'];
    const checksum = checksumOf(texts);
    expect(checksum).toMatch(/^[0-9a-f]{64}$/);
    expect(checksumOf(['c', 'a', 'd', 'b'])).toBe(checksum);
    expect(checksumOf(['a', 'b', 'c'])).not.toBe(checksum);
    expect(checksumOf(['a', 'b', 'c', 'c'])).not.toBe(checksum);
    expect(checksumOf(['a', 'b', 'c', 'd', 'd'])).not.toBe(checksum);
    expect(checksumOf(['a', 'b', 'c', 'e'])).not.toBe(checksum);
    expect(checksumOf([])).toBe('0'.repeat(64));
  });

  it('counts what it was given and stays 64 digits past 2^256 (modular sum)', () => {
    const checksum = new SetChecksum();
    for (let index = 0; index < 1_000; index += 1) checksum.add(String(index));
    expect(checksum.count).toBe(1_000);
    expect(checksum.hex).toMatch(/^[0-9a-f]{64}$/);
  });
});

describe('the canonical text of a job', () => {
  const changed = (change: Partial<Job>) => canonicalJob({ ...job, ...change });

  it('changes with every field importJobs keeps', () => {
    const original = canonicalJob(job);
    const changes: Partial<Job>[] = [
      { id: 'j2' },
      { payload: { to: 'b', when: new Date(1) } },
      { payload: { to: 'a', when: new Date(2) } },
      { payload: { to: 'a' } },
      { state: 'waiting' },
      { priority: 4 },
      { attempts: 1 },
      { maxAttempts: 3 },
      { runAt: new Date(11) },
      { dedupeKey: undefined },
      { dedupeKey: 'K' },
      { dedupeKey: 'k ' },
      { leaseMs: 30_001 },
      { errors: job.errors.slice(0, 1) },
      { errors: [job.errors[0], { ...job.errors[1], message: 'secon' }] as Job['errors'] },
      { errors: [job.errors[0], { ...job.errors[1], at: new Date(13) }] as Job['errors'] },
      { errors: [{ ...job.errors[0], name: undefined }, job.errors[1]] as Job['errors'] },
      { errors: [job.errors[0], { ...job.errors[1], attempt: 3 }] as Job['errors'] },
      { errors: [...job.errors].reverse() },
      { result: null },
      { progress: undefined },
      { timeoutMs: undefined },
      { createdAt: new Date(0) },
      { updatedAt: new Date(13) },
      { finishedAt: undefined },
    ];
    const texts = changes.map(changed);
    for (const text of texts) expect(text).not.toBe(original);
    expect(new Set(texts).size).toBe(texts.length);
  });

  it('leaves out the queue name, the lease expiry, key order and fields Job does not define', () => {
    const original = canonicalJob(job);
    expect(changed({ queue: 'other', leaseExpiresAt: new Date(99) })).toBe(original);
    expect(canonicalJob({ ...job, extra: 1 } as Job)).toBe(original);
    const reordered = Object.fromEntries(Object.entries(job).reverse()) as unknown as Job;
    expect(canonicalJob(reordered)).toBe(original);
    const errorFieldsReordered = job.errors.map(({ at, name, message, attempt }) => ({ at, name, message, attempt }));
    expect(changed({ errors: errorFieldsReordered })).toBe(original);
  });

  it('tells adversarial payloads apart', () => {
    const payloads: unknown[] = [
      { n: 2 ** 53 + 2 },
      { n: 2 ** 53 + 4 },
      { n: '9007199254740993' },
      { n: '9007199254740992' },
      { n: -0 },
      { n: 0 },
      { n: 5e-324 },
      { n: 1e308 },
      { n: 1.0000000000000002e308 },
      { s: '😀' },
      { s: '😁' },
      { s: '\u{1F600}\u{1F600}' },
      { s: 'é' },
      { s: 'e\u0301' },
      { s: 'a' },
      { s: 'a ' },
      { s: 'A' },
      { s: 'a\u0000' },
      JSON.parse('{"__proto__":{"polluted":true}}'),
      JSON.parse('{"__proto__":{"polluted":false}}'),
      {},
      deep(63, 1),
      deep(63, 2),
      deep(62, 1),
    ];
    const texts = payloads.map((payload) => changed({ payload: payload as Job['payload'] }));
    expect(new Set(texts).size).toBe(texts.length);
    // An own `__proto__` key is hashed as data and never reaches the prototype.
    expect(texts[18]).toContain('"__proto__":{"polluted":true}');
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
  });
});

describe('the canonical text of a schedule', () => {
  const schedule: ScheduleRecord = {
    name: 'nightly',
    spec: { cron: '0 3 * * *', timezone: 'Europe/Paris' },
    payload: { report: 'daily' },
    jobOptions: { priority: 2 },
    missed: 'skip',
    overlap: 'skip',
    paused: false,
    nextRunAt: new Date(1_000),
    lastRunAt: new Date(500),
    lastJobId: 'j1',
    createdAt: new Date(1),
    updatedAt: new Date(2),
    version: 3,
  };

  it('ignores what the target sets itself (version, times, last run) but not the definition or next tick', () => {
    const original = canonicalSchedule(schedule);
    expect(
      canonicalSchedule({
        ...schedule,
        version: 1,
        createdAt: new Date(5),
        updatedAt: new Date(5),
        lastRunAt: undefined,
        lastJobId: undefined,
      }),
    ).toBe(original);
    const changes: Partial<ScheduleRecord>[] = [
      { name: 'nightly2' },
      { spec: { cron: '0 3 * * *' } },
      { spec: { everyMs: 1_000 } },
      { payload: { report: 'weekly' } },
      { jobOptions: {} },
      { missed: 'once' },
      { overlap: 'allow' },
      { paused: true },
      { nextRunAt: new Date(1_001) },
      { nextRunAt: undefined },
    ];
    for (const change of changes) expect(canonicalSchedule({ ...schedule, ...change })).not.toBe(original);
  });
});

describe('digestQueue', () => {
  it('reads every waiting and dead job whatever the page size, and nothing else', async () => {
    const backend = await openTestBackend('memory:');
    try {
      await seedQueue(backend, 'mail', 30);
      const queue = backend.queue('mail');
      const stats = await queue.stats();
      expect(stats.completed).toBe(1);
      expect(stats.cancelled).toBe(1);
      const digest = await digestQueue(queue, 1_000, undefined);
      expect(digest).toMatchObject({ waiting: stats.waiting, dead: 2, schedules: 3 });
      expect(digest.waiting).toBe(36);
      expect(await digestQueue(queue, 1, undefined)).toEqual(digest);
      expect(await digestQueue(queue, 7, undefined)).toEqual(digest);
      // The same jobs imported into another queue, listed in another order: the same checksums.
      const copy = backend.queue('copy');
      const listed = [];
      for (const state of ['dead', 'waiting'] as const) {
        listed.push(...(await queue.listJobs({ state, limit: 1_000 })).jobs);
      }
      await copy.importJobs(listed.reverse());
      for (const { name, spec, payload, jobOptions, missed, overlap, paused, nextRunAt } of (
        await queue.listSchedules()
      ).reverse()) {
        await copy.putSchedule({ name, spec, payload, jobOptions, missed, overlap, paused, nextRunAt });
      }
      expect(await digestQueue(copy, 1_000, undefined)).toEqual(digest);
      // One dead job's error message cut short: the same counts, another jobs checksum.
      const dead = (await queue.listJobs({ state: 'dead', limit: 1 })).jobs[0] as Job;
      await copy.purge({ states: ['dead'], finishedBefore: new Date('9999-12-31T23:59:59.999Z') });
      const others = (await queue.listJobs({ state: 'dead', limit: 1_000 })).jobs.filter(({ id }) => id !== dead.id);
      const cut = { ...dead, errors: dead.errors.map((error) => ({ ...error, message: error.message.slice(0, -1) })) };
      await copy.importJobs([...others, cut]);
      const tampered = await digestQueue(copy, 1_000, undefined);
      expect({ ...tampered, jobsChecksum: digest.jobsChecksum }).toEqual(digest);
      expect(tampered.jobsChecksum).not.toBe(digest.jobsChecksum);
    } finally {
      await backend.close();
    }
  });

  it('stops when its signal aborts', async () => {
    const backend = await openTestBackend('memory:');
    try {
      await backend.queue('mail').enqueue({ to: 'a' });
      const controller = new AbortController();
      controller.abort();
      await expect(digestQueue(backend.queue('mail'), 10, controller.signal)).rejects.toMatchObject({
        code: 'ABORTED',
      });
    } finally {
      await backend.close();
    }
  });
});

import { randomUUID } from 'node:crypto';
import { readdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { Job, ScheduleRecord } from '@berth/core';
import { Redis } from 'ioredis';
import pg from 'pg';
import { describe, expect, inject, it, vi } from 'vitest';
import { createTestBucket } from '../../../adapter-s3-document/src/fixtures/s3-endpoint.js';
import { redactUrl } from '../copy/checkpoint.js';
import type { QueueDigest } from '../copy/copy-types.js';
import { ADVERSARIAL_IDS, entriesOf, seedCollections, seedQueue } from '../fixtures/adversarial.js';
import { withBackend } from '../fixtures/engines.js';
import { runCli, startCli } from '../fixtures/run-cli.js';
import { useScratch } from '../fixtures/scratch.js';

const scratch = useScratch('berth-cli-copy-');

/** Seeds `url` with the adversarial `users` and `count` plain documents. */
function seed(url: string, count: number): Promise<void> {
  return withBackend(url, (backend) => seedCollections(backend, count));
}

/** Both backends hold exactly the same entries (documents and metadata) and declared indexes. */
async function expectSameData(sourceUrl: string, targetUrl: string): Promise<void> {
  await withBackend(sourceUrl, (source) =>
    withBackend(targetUrl, async (target) => {
      const collections = await source.collections();
      expect((await target.collections()).map(({ name, indexes }) => ({ name, indexes }))).toEqual(
        collections.map(({ name, indexes }) => ({ name, indexes })),
      );
      for (const { name } of collections) {
        expect(await entriesOf(target.repository(name))).toEqual(await entriesOf(source.repository(name)));
      }
      for (const id of ADVERSARIAL_IDS) {
        expect(await target.repository('users').getEntry(id)).toEqual(await source.repository('users').getEntry(id));
      }
    }),
  );
}

function sqliteUrl(name: string): string {
  return `sqlite:${join(scratch.directory, name)}`;
}

function fileUrl(name: string): string {
  return `file:${join(scratch.directory, name)}?debounceMs=0`;
}

describe('berth copy', () => {
  it('--help describes the command, its options and exit codes', async () => {
    const run = await runCli(['copy', '--help'], { cwd: scratch.directory });
    expect(run.code).toBe(0);
    expect(run.stdout).toContain('Usage: berth copy [options] <from-url> <to-url>');
    for (const option of ['--collections', '--queues', '--batch-size', '--checkpoint', '--dry-run', '--no-verify']) {
      expect(run.stdout).toContain(option);
    }
    expect(run.stdout).toContain('130 interrupted');
  });

  it('copies file: → Redis → file: keeping ids, versions, timestamps, values and indexes, and verifies', async () => {
    const source = fileUrl('round-trip-source.json');
    const redis = scratch.redisUrl();
    const back = fileUrl('round-trip-back.json');
    await seed(source, 1_200);
    const there = await runCli(['copy', source, redis, '--batch-size', '250'], { cwd: scratch.directory });
    expect(there.stderr).toContain('copied plain: 1200 documents');
    expect(there.code).toBe(0);
    expect(there.stdout).toMatch(/plain: 1200 documents copied, indexes group:number\+name:string; verified/);
    await expectSameData(source, redis);
    const back_ = await runCli(['copy', redis, back, '--json'], { cwd: scratch.directory });
    expect(back_.code).toBe(0);
    const report = JSON.parse(back_.stdout);
    expect(report.mismatches).toEqual([]);
    expect(report.collections.map((c: { name: string; copied: number }) => [c.name, c.copied])).toEqual([
      ['plain', 1_200],
      ['users', ADVERSARIAL_IDS.length],
    ]);
    await expectSameData(source, back);
  });

  /** A bucket on the tests' S3 gateway: its URLs, and the credentials the CLI's environment needs. */
  async function s3Bucket(): Promise<{ url(key: string): string; env: Record<string, string> }> {
    const s3 = inject('s3');
    vi.stubEnv('AWS_ACCESS_KEY_ID', s3.accessKeyId);
    vi.stubEnv('AWS_SECRET_ACCESS_KEY', s3.secretAccessKey);
    const bucket = await createTestBucket('cli-copy');
    return {
      url: (key) =>
        `s3://${bucket}/${key}?endpoint=${encodeURIComponent(s3.endpoint)}&region=us-east-1&forcePathStyle=true&debounceMs=0&flushOnExit=false`,
      env: { AWS_ACCESS_KEY_ID: s3.accessKeyId, AWS_SECRET_ACCESS_KEY: s3.secretAccessKey },
    };
  }

  it('copies S3 → Redis → S3 the same way', async () => {
    const { url: s3Url, env } = await s3Bucket();
    const source = s3Url('source.json');
    const redis = scratch.redisUrl();
    const back = s3Url('back.json');
    await seed(source, 300);
    const there = await runCli(['copy', source, redis], { cwd: scratch.directory, env });
    expect(there.stderr).not.toContain('berth:');
    expect(there.code).toBe(0);
    const back_ = await runCli(['copy', redis, back], { cwd: scratch.directory, env });
    expect(back_.code).toBe(0);
    await expectSameData(source, back);
    await expectSameData(source, redis);
  });

  it('copies S3 → PostgreSQL (killed with SIGKILL mid-copy, then resumed) → S3', async () => {
    const { url: s3Url, env } = await s3Bucket();
    const source = s3Url('to-postgres.json');
    const postgres = scratch.postgresUrl();
    const back = s3Url('from-postgres.json');
    await seed(source, 1_200);
    const args = [
      'copy',
      source,
      postgres,
      '--batch-size',
      '20',
      '--checkpoint',
      join(scratch.directory, 's3-pg.json'),
    ];
    const first = startCli(args, { cwd: scratch.directory, env });
    await waitForCopied(join(scratch.directory, 's3-pg.json'), 'plain', 100);
    first.child.kill('SIGKILL');
    expect((await first.done).signal).toBe('SIGKILL');
    const resumed = await runCli(args, { cwd: scratch.directory, env });
    expect(resumed.stderr).not.toContain('berth:');
    expect(resumed.code).toBe(0);
    await expectSameData(source, postgres);
    const onward = await runCli(['copy', postgres, back], { cwd: scratch.directory, env });
    expect(onward.code).toBe(0);
    await expectSameData(source, back);
  });

  it('copies SQLite → PostgreSQL → SQLite with the adversarial documents intact', async () => {
    const source = sqliteUrl('pg-source.db');
    const postgres = scratch.postgresUrl();
    const back = sqliteUrl('pg-back.db');
    await seed(source, 700);
    const there = await runCli(['copy', source, postgres], { cwd: scratch.directory });
    expect(there.stderr).not.toContain('berth:');
    expect(there.code).toBe(0);
    await expectSameData(source, postgres);
    const onward = await runCli(['copy', postgres, back], { cwd: scratch.directory });
    expect(onward.code).toBe(0);
    await expectSameData(source, back);
  });

  it('copies SQLite → Redis', async () => {
    const source = sqliteUrl('redis-source.db');
    const redis = scratch.redisUrl();
    await seed(source, 300);
    const run = await runCli(['copy', source, redis], { cwd: scratch.directory });
    expect(run.stderr).not.toContain('berth:');
    expect(run.code).toBe(0);
    await expectSameData(source, redis);
  });

  it('--dry-run reports counts, indexes and target state and writes nothing', async () => {
    const source = fileUrl('dry-source.json');
    const target = scratch.redisUrl();
    await seed(source, 40);
    const run = await runCli(['copy', source, target, '--dry-run'], { cwd: scratch.directory });
    expect(run.code).toBe(0);
    expect(run.stdout).toContain(
      `users: ${ADVERSARIAL_IDS.length} documents, indexes email:string unique; target empty`,
    );
    expect(run.stdout).toContain('plain: 40 documents, indexes group:number+name:string; target empty');
    expect(run.stdout).toContain('dry run: nothing was written');
    await withBackend(target, async (backend) => expect(await backend.collections()).toEqual([]));
    expect((await readdir(scratch.directory)).filter((name) => name.startsWith('berth-copy-'))).toEqual([]);
  });

  it('refuses a target collection that already holds documents, before writing anything', async () => {
    const source = fileUrl('occupied-source.json');
    const target = scratch.redisUrl();
    await seed(source, 10);
    await withBackend(target, (backend) => backend.repository('plain').insert({ id: 'mine', keep: true }));
    const run = await runCli(['copy', source, target], { cwd: scratch.directory });
    expect(run.code).toBe(1);
    expect(run.stderr).toContain('the target already holds data in collection plain (1 documents); nothing was copied');
    expect(run.stderr).toContain('empty them first');
    await withBackend(target, async (backend) => {
      expect((await backend.collections()).map(({ name }) => name)).toEqual(['plain']);
      expect(await entriesOf(backend.repository('plain'))).toHaveLength(1);
    });
  });

  it('--collections with an unknown name is a usage error naming the collections there are', async () => {
    const source = fileUrl('unknown-source.json');
    await seed(source, 1);
    const run = await runCli(['copy', source, scratch.redisUrl(), '--collections', 'users,nope'], {
      cwd: scratch.directory,
    });
    expect(run.code).toBe(2);
    expect(run.stderr).toContain('the source has no collection nope');
    expect(run.stderr).toContain('its collections: plain, users');
  });

  it("verification catches a target changed behind the copy's back (exit 4, both counts and checksums)", async () => {
    const source = fileUrl('tamper-source.json');
    const target = scratch.redisUrl();
    await seed(source, 20);
    expect((await runCli(['copy', source, target], { cwd: scratch.directory })).code).toBe(0);
    await withBackend(target, (backend) => backend.repository('users').update('A', { index: -1 }));
    // A checkpoint that says every collection was copied: the rerun only verifies.
    const checkpoint = join(scratch.directory, 'tamper-checkpoint.json');
    const done = { lastId: undefined, copied: 0, done: true };
    await writeFile(
      checkpoint,
      JSON.stringify({
        format: 'berth-copy-checkpoint',
        version: 1,
        source,
        target,
        collections: { plain: done, users: done },
        queues: {},
      }),
    );
    const run = await runCli(['copy', source, target, '--checkpoint', checkpoint], { cwd: scratch.directory });
    expect(run.code).toBe(4);
    expect(run.stderr).toMatch(
      new RegExp(
        `collection users: source ${ADVERSARIAL_IDS.length} documents sha256 [0-9a-f]{64}, target ${ADVERSARIAL_IDS.length} documents sha256 [0-9a-f]{64}`,
      ),
    );
    expect(run.stderr).not.toContain('collection plain');
  });

  it('stops on SIGINT after a checkpointed batch (exit 130) and resumes when run again', async () => {
    // PostgreSQL trusts local connections: the password is there to show it never reaches the checkpoint.
    const source = scratch.postgresUrl().replace('postgres@', 'postgres:s3cret-pw@');
    const target = sqliteUrl('interrupted-target.db');
    await seed(source, 1_200);
    const checkpoint = join(scratch.directory, 'interrupted.json');
    const args = ['copy', source, target, '--batch-size', '20', '--checkpoint', checkpoint];
    const first = startCli(args, { cwd: scratch.directory });
    await waitForCopied(checkpoint, 'plain', 200);
    first.child.kill('SIGINT');
    const stopped = await first.done;
    expect(stopped.stderr).toContain(`interrupted; progress is saved in ${checkpoint}`);
    expect(stopped.stderr).toContain('run the same command again to resume');
    expect(stopped.code).toBe(130);
    const saved = JSON.parse(await readFile(checkpoint, 'utf8'));
    expect(saved.collections.plain.done).toBe(false);
    expect(saved.collections.plain.copied).toBeLessThan(1_200);
    expect(JSON.stringify(saved)).not.toContain('s3cret-pw');
    expect(saved.source).toBe(source.replace(':s3cret-pw@', '@').replace('postgres@', ''));
    const resumed = await runCli(args, { cwd: scratch.directory });
    expect(resumed.code).toBe(0);
    expect(resumed.stdout).toMatch(/plain: \d+ documents copied \(resumed\)/);
    await expect(readFile(checkpoint)).rejects.toMatchObject({ code: 'ENOENT' });
    await expectSameData(source, target);
  });

  it('resumes after SIGKILL mid-copy (a batch imported but not checkpointed is imported again)', async () => {
    const source = scratch.postgresUrl();
    const target = scratch.redisUrl();
    await seed(source, 1_200);
    const args = ['copy', source, target, '--batch-size', '20'];
    const first = startCli(args, { cwd: scratch.directory });
    const checkpoint = await waitForDefaultCheckpoint();
    await waitForCopied(checkpoint, 'plain', 100);
    first.child.kill('SIGKILL');
    expect((await first.done).signal).toBe('SIGKILL');
    const resumed = await runCli(args, { cwd: scratch.directory });
    expect(resumed.stderr).not.toContain('berth:');
    expect(resumed.code).toBe(0);
    await expectSameData(source, target);
  });
});

describe('berth copy --queues', () => {
  it('copies waiting, delayed and dead jobs with their fields, and schedules (Redis → PostgreSQL)', async () => {
    const source = scratch.redisUrl();
    const target = scratch.postgresUrl();
    const ids = await withBackend(source, async (backend) => {
      const mail = backend.queue('mail');
      const waiting = await mail.enqueue(
        { to: 'a', when: new Date(1) },
        { priority: 5, dedupeKey: 'k1', maxAttempts: 4 },
      );
      const delayed = await mail.enqueue({ to: 'b😀', n: 2 ** 53 + 2 }, { delayMs: 3_600_000, leaseMs: 12_345 });
      const doomed = await mail.enqueue({ to: 'c' }, { maxAttempts: 1 });
      const lease = await mail.dequeue({ leaseMs: 60_000 });
      expect(lease?.job.id).toBe(waiting.id);
      await mail.release(lease as NonNullable<typeof lease>);
      const leases = await mail.dequeueMany(3, { leaseMs: 60_000 });
      const doomedLease = leases.find((candidate) => candidate.job.id === doomed.id);
      for (const other of leases) if (other !== doomedLease) await mail.release(other);
      expect(await mail.fail(doomedLease as NonNullable<typeof doomedLease>, new Error('mailbox full'))).toBe('dead');
      await mail.putSchedule({
        name: 'nightly',
        spec: { cron: '0 3 * * *', timezone: 'Europe/Paris' },
        payload: { to: 'digest' },
        jobOptions: { priority: 2 },
        missed: 'skip',
        overlap: 'skip',
        paused: false,
        nextRunAt: undefined,
      });
      return [waiting.id, delayed.id, doomed.id];
    });
    const run = await runCli(['copy', source, target, '--queues'], { cwd: scratch.directory });
    expect(run.stderr).not.toContain('berth:');
    expect(run.code).toBe(0);
    expect(run.stdout).toContain(
      'queue mail: 2 waiting and 1 dead jobs imported (0 already there), 1 schedules copied',
    );
    await withBackend(source, (from) =>
      withBackend(target, async (to) => {
        expect(await to.queues()).toEqual(['mail']);
        for (const id of ids) expect(await to.queue('mail').get(id)).toEqual(await from.queue('mail').get(id));
        const [schedule] = await to.queue('mail').listSchedules();
        const [original] = await from.queue('mail').listSchedules();
        const definition = ({
          name,
          spec,
          payload,
          jobOptions,
          missed,
          overlap,
          paused,
          nextRunAt,
        }: NonNullable<typeof schedule>) => ({
          name,
          spec,
          payload,
          jobOptions,
          missed,
          overlap,
          paused,
          nextRunAt,
        });
        expect(definition(schedule as NonNullable<typeof schedule>)).toEqual(
          definition(original as NonNullable<typeof original>),
        );
        expect((await to.queue('mail').stats()).waiting).toBe(2);
      }),
    );
  });
});

describe('berth copy --queues verification', () => {
  /** A copy report as `--json` prints it, for the queue checks. */
  interface QueueReport {
    readonly name: string;
    readonly verification?: { readonly source: QueueDigest; readonly target: QueueDigest };
  }

  /** Runs the copy again with a checkpoint saying it began queue `mail`: nothing new is imported, both sides are verified. */
  async function verifyAgain(source: string, target: string) {
    const checkpoint = join(scratch.directory, `verify-${randomUUID()}.json`);
    await writeFile(
      checkpoint,
      JSON.stringify({
        format: 'berth-copy-checkpoint',
        version: 1,
        source: redactUrl(source),
        target: redactUrl(target),
        collections: {},
        queues: { mail: true },
      }),
    );
    const run = await runCli(['copy', source, target, '--queues', '--json', '--checkpoint', checkpoint], {
      cwd: scratch.directory,
    });
    const report = JSON.parse(run.stdout) as { queues: QueueReport[]; mismatches: string[] };
    return { run, report, mail: report.queues.find((queue) => queue.name === 'mail') as QueueReport };
  }

  const QUEUE_MISMATCH = (waiting: number) =>
    new RegExp(
      `queue mail: source ${waiting} waiting, 2 dead, jobs checksum ([0-9a-f]{64}), 3 schedules, schedules checksum ([0-9a-f]{64}); ` +
        `target ${waiting} waiting, 2 dead, jobs checksum ([0-9a-f]{64}), 3 schedules, schedules checksum ([0-9a-f]{64})`,
    );

  it('verifies every job and schedule by checksum: SQLite → PostgreSQL → Redis → SQLite', async () => {
    const source = sqliteUrl('queue-checksum-source.db');
    const postgres = scratch.postgresUrl();
    const redis = scratch.redisUrl();
    const back = sqliteUrl('queue-checksum-back.db');
    await withBackend(source, (backend) => seedQueue(backend, 'mail', 1_200));
    const digests: QueueDigest[] = [];
    for (const [from, to] of [
      [source, postgres],
      [postgres, redis],
      [redis, back],
    ] as const) {
      const run = await runCli(['copy', from, to, '--queues', '--json', '--batch-size', '250'], {
        cwd: scratch.directory,
      });
      expect(run.stderr).not.toContain('berth:');
      expect(run.code).toBe(0);
      const report = JSON.parse(run.stdout) as { queues: QueueReport[]; mismatches: string[] };
      expect(report.mismatches).toEqual([]);
      const [mail] = report.queues;
      expect(mail?.verification?.target).toEqual(mail?.verification?.source);
      digests.push(mail?.verification?.target as QueueDigest);
    }
    expect(digests[0]).toMatchObject({ waiting: 1_206, dead: 2, schedules: 3 });
    expect(digests[0]?.jobsChecksum).toMatch(/^[0-9a-f]{64}$/);
    expect(digests[0]?.jobsChecksum).not.toBe('0'.repeat(64));
    expect(digests[0]?.schedulesChecksum).not.toBe('0'.repeat(64));
    // Every hop kept every job and schedule: the last target hashes like the first source.
    expect(digests[1]).toEqual(digests[0]);
    expect(digests[2]).toEqual(digests[0]);
    const printed = await runCli(['copy', redis, sqliteUrl('queue-checksum-text.db'), '--queues'], {
      cwd: scratch.directory,
    });
    expect(printed.code).toBe(0);
    expect(printed.stdout).toContain(
      `queue mail: 1206 waiting and 2 dead jobs imported (0 already there), 3 schedules copied (0 already there); ` +
        `verified (1206 waiting, 2 dead, 3 schedules, jobs checksum ${digests[0]?.jobsChecksum.slice(0, 16)}…)`,
    );
  });

  it("reports a dead job's error cut short in the target (PostgreSQL) as a mismatch (exit 4)", async () => {
    const source = sqliteUrl('queue-tamper-pg.db');
    const target = scratch.postgresUrl();
    const [deadId] = await withBackend(source, (backend) => seedQueue(backend, 'mail', 20));
    const copied = await runCli(['copy', source, target, '--queues', '--no-verify'], { cwd: scratch.directory });
    expect(copied.code).toBe(0);
    expect(copied.stdout).toContain('; not verified');
    // What an engine truncating text would do: the message loses its last character (an astral one).
    const client = new pg.Client({ connectionString: target.slice(0, target.indexOf('?')) });
    await client.connect();
    try {
      const schema = new URL(target).searchParams.get('schema') as string;
      const { rowCount } = await client.query(
        `UPDATE "${schema}"._berth_jobs_done
           SET errors = jsonb_set(errors, '{0,message}', to_jsonb(left(errors->0->>'message', -1)))
         WHERE id = $1`,
        [deadId],
      );
      expect(rowCount).toBe(1);
    } finally {
      await client.end();
    }
    await withBackend(target, async (backend) => {
      expect((await backend.queue('mail').get(deadId as string))?.errors[0]?.message).toBe('mailbox full ');
    });
    const { run, report, mail } = await verifyAgain(source, target);
    expect(run.code).toBe(4);
    const [, sourceJobs, sourceSchedules, targetJobs, targetSchedules] = run.stderr.match(QUEUE_MISMATCH(26)) ?? [];
    expect(sourceJobs).toBeDefined();
    expect(targetJobs).not.toBe(sourceJobs);
    expect(targetSchedules).toBe(sourceSchedules);
    expect(report.mismatches).toHaveLength(1);
    expect(mail.verification?.target).toEqual({ ...mail.verification?.source, jobsChecksum: targetJobs });
  });

  it("reports a schedule or a waiting job's payload changed in the target (Redis) as a mismatch (exit 4)", async () => {
    const source = sqliteUrl('queue-tamper-redis.db');
    const target = scratch.redisUrl();
    await withBackend(source, (backend) => seedQueue(backend, 'mail', 20));
    expect((await runCli(['copy', source, target, '--queues'], { cwd: scratch.directory })).code).toBe(0);
    const nightly = await withBackend(target, (backend) => backend.queue('mail').getSchedule('nightly'));
    const { name, spec, payload, jobOptions, missed, overlap, paused, nextRunAt } = nightly as ScheduleRecord;
    const definition = { name, spec, payload, jobOptions, missed, overlap, paused, nextRunAt };
    await withBackend(target, (backend) =>
      backend.queue('mail').putSchedule({ ...definition, payload: { report: 'weekly' } }),
    );
    const changedSchedule = await verifyAgain(source, target);
    expect(changedSchedule.run.code).toBe(4);
    const [, jobs, schedules, targetJobs, targetSchedules] = changedSchedule.run.stderr.match(QUEUE_MISMATCH(26)) ?? [];
    expect(targetJobs).toBe(jobs);
    expect(targetSchedules).not.toBe(schedules);
    // Put back as it was: the version (now 3) and times differ from the source's, which verification ignores.
    await withBackend(target, (backend) => backend.queue('mail').putSchedule(definition));
    const restored = await verifyAgain(source, target);
    expect(restored.run.stderr).not.toContain('berth:');
    expect(restored.run.code).toBe(0);
    // A waiting job's stored payload gains a trailing space, behind Berth's back.
    const job = await withBackend(target, async (backend) => {
      const { jobs: page } = await backend.queue('mail').listJobs({ state: 'waiting', limit: 1_000 });
      return page.find((candidate) => (candidate.payload as { n?: number }).n === 7) as Job;
    });
    const prefix = decodeURIComponent(new URL(target).searchParams.get('keyPrefix') as string);
    const redis = new Redis(target.slice(0, target.indexOf('?')));
    try {
      expect(await redis.hset(`${prefix}{q:mail}:j:${job.id}`, 'pl', '{"n":7,"s":"job 7 "}')).toBe(0);
    } finally {
      redis.disconnect();
    }
    const changedJob = await verifyAgain(source, target);
    expect(changedJob.run.code).toBe(4);
    const [, sourceJobs, sourceSchedules, changedJobs, changedSchedules] =
      changedJob.run.stderr.match(QUEUE_MISMATCH(26)) ?? [];
    expect(sourceJobs).toBe(jobs);
    expect(changedJobs).not.toBe(sourceJobs);
    expect(changedSchedules).toBe(sourceSchedules);
  });
});

/** Polls the checkpoint until `collection` has at least `copied` documents imported. */
async function waitForCopied(path: string, collection: string, copied: number): Promise<void> {
  const deadline = Date.now() + 30_000;
  while (Date.now() < deadline) {
    const text = await readFile(path, 'utf8').catch(() => undefined);
    const progress = text === undefined ? undefined : JSON.parse(text).collections?.[collection];
    if (progress !== undefined && progress.copied >= copied) return;
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
  throw new Error(`the checkpoint ${path} never showed ${copied} documents of ${collection}`);
}

/** Waits for the default checkpoint (berth-copy-<hash>.json) to appear in the working directory. */
async function waitForDefaultCheckpoint(): Promise<string> {
  const deadline = Date.now() + 30_000;
  while (Date.now() < deadline) {
    const name = (await readdir(scratch.directory)).find((file) => /^berth-copy-[0-9a-f]{12}\.json$/.test(file));
    if (name !== undefined) return join(scratch.directory, name);
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
  throw new Error('no default checkpoint appeared');
}

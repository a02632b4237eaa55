import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Backend } from '@berth/core';
import { afterAll, beforeAll, describe, expect, inject, it, vi } from 'vitest';
import { createTestBucket } from '../../../adapter-s3-document/src/fixtures/s3-endpoint.js';
import { ADVERSARIAL_IDS, entriesOf, seedCollections } from '../fixtures/adversarial.js';
import { dropRedisPrefixes, openTestBackend, redisTestUrl } from '../fixtures/engines.js';
import { runCli, startCli } from '../fixtures/run-cli.js';

let workDirectory: string;
const redisUrls: string[] = [];

function freshRedisUrl(): string {
  const url = redisTestUrl();
  redisUrls.push(url);
  return url;
}

beforeAll(async () => {
  workDirectory = await mkdtemp(join(tmpdir(), 'berth-cli-copy-'));
});

afterAll(async () => {
  await dropRedisPrefixes(redisUrls);
  await rm(workDirectory, { recursive: true, force: true });
});

async function withBackend<R>(url: string, work: (backend: Backend) => Promise<R>): Promise<R> {
  const backend = await openTestBackend(url);
  try {
    return await work(backend);
  } finally {
    await backend.close();
  }
}

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

function fileUrl(name: string): string {
  return `file:${join(workDirectory, name)}?debounceMs=0`;
}

describe('berth copy', () => {
  it('--help describes the command, its options and exit codes', async () => {
    const run = await runCli(['copy', '--help'], { cwd: workDirectory });
    expect(run.code).toBe(0);
    expect(run.stdout).toContain('Usage: berth copy [options] <from-url> <to-url>');
    for (const option of ['--collections', '--queues', '--batch-size', '--checkpoint', '--dry-run', '--no-verify']) {
      expect(run.stdout).toContain(option);
    }
    expect(run.stdout).toContain('130 interrupted');
  });

  it('copies file: → Redis → file: keeping ids, versions, timestamps, values and indexes, and verifies', async () => {
    const source = fileUrl('round-trip-source.json');
    const redis = freshRedisUrl();
    const back = fileUrl('round-trip-back.json');
    await seed(source, 1_200);
    const there = await runCli(['copy', source, redis, '--batch-size', '250'], { cwd: workDirectory });
    expect(there.stderr).toContain('copied plain: 1200 documents');
    expect(there.code).toBe(0);
    expect(there.stdout).toMatch(/plain: 1200 documents copied, indexes group:number\+name:string; verified/);
    await expectSameData(source, redis);
    const back_ = await runCli(['copy', redis, back, '--json'], { cwd: workDirectory });
    expect(back_.code).toBe(0);
    const report = JSON.parse(back_.stdout);
    expect(report.mismatches).toEqual([]);
    expect(report.collections.map((c: { name: string; copied: number }) => [c.name, c.copied])).toEqual([
      ['plain', 1_200],
      ['users', ADVERSARIAL_IDS.length],
    ]);
    await expectSameData(source, back);
  });

  it('copies S3 → Redis → S3 the same way', async () => {
    const s3 = inject('s3');
    vi.stubEnv('AWS_ACCESS_KEY_ID', s3.accessKeyId);
    vi.stubEnv('AWS_SECRET_ACCESS_KEY', s3.secretAccessKey);
    const bucket = await createTestBucket('cli-copy');
    const s3Url = (key: string) =>
      `s3://${bucket}/${key}?endpoint=${encodeURIComponent(s3.endpoint)}&region=us-east-1&forcePathStyle=true&debounceMs=0&flushOnExit=false`;
    const source = s3Url('source.json');
    const redis = freshRedisUrl();
    const back = s3Url('back.json');
    await seed(source, 300);
    const env = { AWS_ACCESS_KEY_ID: s3.accessKeyId, AWS_SECRET_ACCESS_KEY: s3.secretAccessKey };
    const there = await runCli(['copy', source, redis], { cwd: workDirectory, env });
    expect(there.stderr).not.toContain('berth:');
    expect(there.code).toBe(0);
    const back_ = await runCli(['copy', redis, back], { cwd: workDirectory, env });
    expect(back_.code).toBe(0);
    await expectSameData(source, back);
    await expectSameData(source, redis);
  });
});

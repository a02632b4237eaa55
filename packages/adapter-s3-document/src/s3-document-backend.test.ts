import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { gunzipSync } from 'node:zlib';
import { GetObjectCommand, PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { createBackend, type Document, isBerthError } from '@berth/core';
import { afterAll, afterEach, beforeAll, describe, expect, inject, it, vi } from 'vitest';
import { startGatewayProcess, stopProcess } from './fixtures/ceph-gateway.js';
import { freePort } from './fixtures/free-port.js';
import { createTestBucket, rawClient } from './fixtures/s3-endpoint.js';
import * as adapter from './index.js';
import { S3DocumentBackend, type S3DocumentBackendConfig } from './s3-document-backend.js';

const s3 = inject('s3');
const credentials = { accessKeyId: s3.accessKeyId, secretAccessKey: s3.secretAccessKey };
const raw = rawClient();
let bucket = '';
let keyCounter = 0;
beforeAll(async () => {
  bucket = await createTestBucket('backend');
});
afterAll(() => raw.destroy());
afterEach(() => {
  vi.unstubAllEnvs();
});

interface Player extends Document {
  name: string;
  gold?: number;
}

function freshKey(): string {
  keyCounter += 1;
  return `backend/${process.pid}-${keyCounter}.json`;
}

function open(key: string, config: Partial<S3DocumentBackendConfig> = {}): S3DocumentBackend {
  return new S3DocumentBackend({ bucket, key, endpoint: s3.endpoint, credentials, ...config });
}

async function stored(key: string): Promise<Record<string, Record<string, unknown>>> {
  const object = await raw.send(new GetObjectCommand({ Bucket: bucket, Key: key }));
  return JSON.parse((await object.Body?.transformToString()) ?? 'null');
}

describe('S3DocumentBackend', () => {
  it("compression: 'gzip' stores the document gzipped with Content-Encoding: gzip; a backend without the option loads it", async () => {
    const key = freshKey();
    const writer = open(key, { compression: 'gzip', debounceMs: 0 });
    await writer.repository<Player>('players').insert({ id: 'p1', name: 'Ada'.repeat(1_000) });
    await writer.close();
    const object = await raw.send(new GetObjectCommand({ Bucket: bucket, Key: key }));
    expect(object.ContentEncoding).toBe('gzip');
    const body = (await object.Body?.transformToByteArray()) as Uint8Array;
    expect(body.length).toBeLessThan(3_000 / 10);
    expect(JSON.parse(gunzipSync(body).toString()).players.p1.name).toBe('Ada'.repeat(1_000));
    const reader = open(key);
    expect((await reader.repository<Player>('players').get('p1'))?.name).toBe('Ada'.repeat(1_000));
    await reader.close();
  });

  it("createBackend('s3://…') builds it, with endpoint, region and debounce from the URL and credentials from the AWS chain", async () => {
    vi.stubEnv('AWS_ACCESS_KEY_ID', s3.accessKeyId);
    vi.stubEnv('AWS_SECRET_ACCESS_KEY', s3.secretAccessKey);
    const key = freshKey();
    const url = `s3://${bucket}/${key}?endpoint=${encodeURIComponent(s3.endpoint)}&region=us-east-1&debounceMs=0&flushOnExit=false`;
    const backend = await createBackend(url, { adapters: [adapter] });
    expect(backend.kind).toBe('document');
    await backend.repository<Player>('players').insert({ id: 'p1', name: 'Ada' });
    await backend.close();
    expect((await stored(key)).players?.p1).toEqual({ id: 'p1', name: 'Ada' });
    const again = await createBackend(url, { adapters: [adapter] });
    expect(await again.repository<Player>('players').get('p1')).toEqual({ id: 'p1', name: 'Ada' });
    await again.close();
  });

  it('accepts ?migrate=true|false like every URL (an object has no schema to migrate)', async () => {
    for (const url of ['s3://bucket-name/k.json?migrate=false', 's3://bucket-name/k.json?migrate=true']) {
      const backend = adapter.createBackendFromUrl(url);
      expect(await backend.migrate()).toStrictEqual({ applied: [] });
      await backend.close();
    }
  });

  it('refuses s3: URLs without a bucket or key, with credentials, or with bad options, with VALIDATION', () => {
    for (const url of [
      's3://',
      's3://bucket-name',
      's3://bucket-name/',
      's3://user:secret@bucket-name/k.json',
      's3://bucket-name/k.json?debounceMs=-1',
      's3://bucket-name/k.json?forcePathStyle=yes',
      's3://bucket-name/k.json?conflicts=last-wins',
      's3://bucket-name/k.json?compression=zstd',
      's3://bucket-name/k.json?migrate=later',
      's3://Bad_Bucket/k.json',
    ]) {
      let error: unknown;
      try {
        adapter.createBackendFromUrl(url);
      } catch (caught) {
        error = caught;
      }
      expect(isBerthError(error, 'VALIDATION'), url).toBe(true);
    }
  });

  it('loads a document of the seed shape ({ "players": { "player1": {…} } }) as it is, keeping other keys', async () => {
    const key = freshKey();
    const seed = { players: { player1: { id: 'player1', name: 'Ada', gold: 3 } }, version: 3 };
    await raw.send(new PutObjectCommand({ Bucket: bucket, Key: key, Body: JSON.stringify(seed) }));
    const backend = open(key, { debounceMs: 0 });
    expect(await backend.repository<Player>('players').get('player1')).toEqual(seed.players.player1);
    await backend.repository<Player>('players').update('player1', { $inc: { gold: 1 } });
    await backend.close();
    const saved = await stored(key);
    expect(saved.players?.player1).toEqual({ id: 'player1', name: 'Ada', gold: 4 });
    expect(saved.version).toBe(3);
  });

  it('two instances writing different entities concurrently both persist', async () => {
    const key = freshKey();
    const a = open(key, { debounceMs: 1 });
    const b = open(key, { debounceMs: 1 });
    await Promise.all([a.connect(), b.connect()]);
    await Promise.all(
      Array.from({ length: 20 }, (_, index) =>
        (index % 2 === 0 ? a : b).repository<Player>('players').insert({ id: `p${index}`, name: `n${index}` }),
      ),
    );
    await Promise.all([a.flush(), b.flush()]);
    // Each saved into what the other saved: a second flush settles the last merge.
    await Promise.all([a.close(), b.close()]);
    expect(Object.keys((await stored(key)).players ?? {}).sort()).toEqual(
      Array.from({ length: 20 }, (_, index) => `p${index}`).sort(),
    );
  });

  it('the same entity on both sides: one CONFLICT through the hook, and no acknowledged write of the other side lost', async () => {
    const key = freshKey();
    const setup = open(key, { debounceMs: 0 });
    await setup.repository<Player>('players').insert({ id: 'p1', name: 'start' });
    await setup.close();
    const heardA: unknown[] = [];
    const heardB: unknown[] = [];
    const a = open(key, { debounceMs: 60_000, onSaveError: (error) => heardA.push(error) });
    const b = open(key, { debounceMs: 60_000, onSaveError: (error) => heardB.push(error) });
    await Promise.all([a.connect(), b.connect()]);
    await a.repository<Player>('players').update('p1', { $set: { name: 'from a' } });
    await a.repository<Player>('players').insert({ id: 'a2', name: 'only a' });
    await b.repository<Player>('players').update('p1', { $set: { name: 'from b' } });
    await b.repository<Player>('players').insert({ id: 'b2', name: 'only b' });
    await a.flush();
    await b.flush();
    expect(heardA).toEqual([]);
    expect(heardB).toHaveLength(1);
    expect(isBerthError(heardB[0], 'CONFLICT')).toBe(true);
    expect((heardB[0] as Error).message).toContain('p1');
    await Promise.all([a.close(), b.close()]);
    const players = (await stored(key)).players ?? {};
    expect(players.p1).toEqual({ id: 'p1', name: 'from a' });
    expect(players.a2).toEqual({ id: 'a2', name: 'only a' });
    expect(players.b2).toEqual({ id: 'b2', name: 'only b' });
  });

  it('10,000 writes inside one debounce window are saved by one PUT', async () => {
    const key = freshKey();
    const client = new S3Client({
      endpoint: s3.endpoint,
      region: 'us-east-1',
      forcePathStyle: true,
      credentials,
      requestChecksumCalculation: 'WHEN_REQUIRED',
    });
    let puts = 0;
    client.middlewareStack.add(
      (next, context) => async (args) => {
        if (context.commandName === 'PutObjectCommand') puts += 1;
        return next(args);
      },
      { step: 'initialize', name: 'countPuts' },
    );
    const backend = open(key, { client, debounceMs: 500, maxWaitMs: 60_000 });
    const players = backend.repository<Player>('players');
    for (let index = 0; index < 10_000; index++) await players.insert({ id: `p${index}`, name: 'x' });
    expect(puts).toBe(0);
    await vi.waitFor(() => expect(puts).toBe(1), { timeout: 10_000, interval: 50 });
    await new Promise((resolve) => setTimeout(resolve, 1_000));
    expect(puts).toBe(1);
    expect(Object.keys((await stored(key)).players ?? {})).toHaveLength(10_000);
    await backend.close();
    expect(puts).toBe(1); // nothing left to save
    client.destroy();
  });

  it('a process SIGKILLed right after flush() resolved loses nothing it flushed', async () => {
    const key = freshKey();
    const writer = fileURLToPath(new URL('./fixtures/s3-writer.ts', import.meta.url));
    const child = spawn(
      process.execPath,
      ['--import', 'tsx', '--conditions=@berth/source', writer, s3.endpoint, bucket, key, '200'],
      {
        stdio: ['ignore', 'pipe', 'inherit'],
        env: { ...process.env, AWS_ACCESS_KEY_ID: s3.accessKeyId, AWS_SECRET_ACCESS_KEY: s3.secretAccessKey },
      },
    );
    child.stdout.on('data', (chunk: Buffer) => {
      if (chunk.toString().includes('FLUSHED')) child.kill('SIGKILL');
    });
    await new Promise((resolve) => child.once('exit', resolve));
    expect(child.signalCode).toBe('SIGKILL');
    const restarted = open(key);
    const items = restarted.repository<{ id: string; n: number }>('items');
    for (let n = 0; n < 200; n++) expect(await items.get(`w-${n}`), `w-${n}`).not.toBeNull();
    await restarted.close();
  }, 60_000);

  it('the gateway stopped during a save: the save is retried, the data stays readable in memory, and it is saved once the gateway is back', async () => {
    const directory = s3.cephDirectory;
    if (directory === undefined) {
      throw new Error(
        'this test stops a gateway process of its own: it needs the local Ceph gateway (unset S3_ENDPOINT)',
      );
    }
    const port = await freePort();
    let pid = await startGatewayProcess(directory, port);
    const key = freshKey();
    const heard: { error: unknown; willRetry: boolean }[] = [];
    const backend = open(key, {
      endpoint: `http://127.0.0.1:${port}`,
      debounceMs: 0,
      onSaveError: (error, { willRetry }) => heard.push({ error, willRetry }),
    });
    try {
      const players = backend.repository<Player>('players');
      await players.insert({ id: 'p1', name: 'before' });
      await backend.flush();
      await stopProcess(pid);
      await players.insert({ id: 'p2', name: 'while down' });
      await vi.waitFor(() => expect(heard.length).toBeGreaterThanOrEqual(1), { timeout: 15_000, interval: 50 });
      expect(heard[0]).toMatchObject({ error: { code: 'CONNECTION', retryable: true }, willRetry: true });
      expect((await backend.health()).ok).toBe(false);
      expect(await players.get('p2')).toEqual({ id: 'p2', name: 'while down' });
      pid = await startGatewayProcess(directory, port);
      await vi.waitFor(async () => expect((await backend.health()).ok).toBe(true), { timeout: 20_000, interval: 100 });
      expect((await stored(key)).players?.p2).toEqual({ id: 'p2', name: 'while down' });
      await backend.close();
    } finally {
      await stopProcess(pid);
    }
    // Each stop waits for the gateway to shut down cleanly (about 5 s, more on a busy machine).
  }, 120_000);
});

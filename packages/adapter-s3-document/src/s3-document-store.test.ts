import { once } from 'node:events';
import { createServer, type Socket } from 'node:net';
import { gzipSync } from 'node:zlib';
import { GetObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { isBerthError } from '@berth/core';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { freePort } from './fixtures/free-port.js';
import { createTestBucket, rawClient } from './fixtures/s3-endpoint.js';
import { S3DocumentStore, type S3DocumentStoreConfig } from './s3-document-store.js';

const s3 = inject('s3');
const connection = {
  endpoint: s3.endpoint,
  credentials: { accessKeyId: s3.accessKeyId, secretAccessKey: s3.secretAccessKey },
};
const bytes = (text: string): Uint8Array => new TextEncoder().encode(text);
const text = (data: Uint8Array | undefined): string => new TextDecoder().decode(data);

let bucket = '';
const raw = rawClient();
beforeAll(async () => {
  bucket = await createTestBucket('store');
});
afterAll(() => raw.destroy());

async function errorOf(promise: Promise<unknown>): Promise<unknown> {
  return promise.then(
    () => {
      throw new Error('expected a rejection');
    },
    (error: unknown) => error,
  );
}

describe('S3DocumentStore', () => {
  it('refuses a bucket, key or endpoint S3 would not take, with VALIDATION naming the option', () => {
    const cases: [Partial<S3DocumentStoreConfig>, string][] = [
      [{ bucket: 'Upper', key: 'k' }, 'bucket'],
      [{ bucket: 'ab', key: 'k' }, 'bucket'],
      [{ bucket: 'a..b', key: 'k' }, 'bucket'],
      [{ bucket: 'ok-bucket/../x', key: 'k' }, 'bucket'],
      [{ bucket: 'ok-bucket', key: '' }, 'key'],
      [{ bucket: 'ok-bucket', key: 'a\u0000b' }, 'key'],
      [{ bucket: 'ok-bucket', key: 'k'.repeat(1025) }, 'key'],
      [{ bucket: 'ok-bucket', key: 'k', endpoint: 'not a url' }, 'endpoint'],
      [{ bucket: 'ok-bucket', key: 'k', region: '' }, 'region'],
      [{ bucket: 'ok-bucket', key: 'k', requestTimeoutMs: 0 }, 'requestTimeoutMs'],
    ];
    for (const [config, path] of cases) {
      let error: unknown;
      try {
        new S3DocumentStore(config as S3DocumentStoreConfig);
      } catch (caught) {
        error = caught;
      }
      expect(isBerthError(error, 'VALIDATION'), JSON.stringify(config)).toBe(true);
      expect((error as { path: string }).path).toBe(path);
    }
  });

  it('stores keys shaped like paths, queries and escapes under exactly that key, touching no other', async () => {
    const keys = [
      '../escape.json',
      'a?versionId=1&x=2',
      'dir/%2F/encoded',
      'spaces and ünïcode.json',
      '#fragment',
      'a//b',
    ];
    for (const [index, key] of keys.entries()) {
      const store = new S3DocumentStore({ bucket, key, ...connection });
      await store.write(bytes(`doc ${index}`), { ifNoneMatch: '*' });
      await store.close();
    }
    for (const [index, key] of keys.entries()) {
      const object = await raw.send(new GetObjectCommand({ Bucket: bucket, Key: key }));
      expect(await object.Body?.transformToString()).toBe(`doc ${index}`);
    }
    const neighbour = new S3DocumentStore({ bucket, key: 'escape.json', ...connection });
    expect(await neighbour.read()).toBeNull();
    await neighbour.close();
  });

  it('reads the ETag S3 gives (quoted) and accepts it back for If-Match, which Ceph only matches unquoted', async () => {
    const store = new S3DocumentStore({ bucket, key: 'etag.json', ...connection });
    const { etag } = await store.write(bytes('one'), { ifNoneMatch: '*' });
    expect(etag).toMatch(/^".+"$/);
    expect((await store.read())?.etag).toBe(etag);
    const second = await store.write(bytes('two'), { ifMatch: etag });
    expect(text((await store.read())?.data)).toBe('two');
    expect(isBerthError(await errorOf(store.write(bytes('three'), { ifMatch: etag })), 'CONFLICT')).toBe(true);
    expect((await store.read())?.etag).toBe(second.etag);
    await store.close();
  });

  it('a missing bucket is a CONNECTION error that retrying will not fix', async () => {
    const store = new S3DocumentStore({ bucket: 'berth-no-such-bucket-here', key: 'k.json', ...connection });
    const error = await errorOf(store.write(bytes('x'), { ifNoneMatch: '*' }));
    expect(isBerthError(error, 'CONNECTION')).toBe(true);
    expect((error as { retryable: boolean }).retryable).toBe(false);
    expect((error as Error).message).toContain('NoSuchBucket');
    await store.close();
  });

  it('an endpoint nobody answers on is a retryable CONNECTION error, for reads and writes', async () => {
    const port = await freePort();
    const client = new S3Client({
      endpoint: `http://127.0.0.1:${port}`,
      region: 'us-east-1',
      forcePathStyle: true,
      credentials: connection.credentials,
      maxAttempts: 1,
    });
    const store = new S3DocumentStore({ bucket, key: 'k.json', client });
    for (const error of [await errorOf(store.read()), await errorOf(store.write(bytes('x')))]) {
      expect(isBerthError(error, 'CONNECTION')).toBe(true);
      expect((error as { retryable: boolean }).retryable).toBe(true);
    }
    await store.close();
    // A client passed in belongs to the caller: close() leaves it usable.
    expect(isBerthError(await errorOf(store.read()), 'CONNECTION')).toBe(true);
    client.destroy();
  });

  it('an endpoint that accepts the connection and never answers is a retryable TIMEOUT after requestTimeoutMs', async () => {
    const sockets = new Set<Socket>();
    const silent = createServer((socket) => sockets.add(socket)).listen(0, '127.0.0.1');
    await once(silent, 'listening');
    const { port } = silent.address() as { port: number };
    const store = new S3DocumentStore({
      bucket,
      key: 'k.json',
      ...connection,
      endpoint: `http://127.0.0.1:${port}`,
      requestTimeoutMs: 200,
    });
    try {
      const started = Date.now();
      const error = await errorOf(store.write(bytes('x')));
      expect(isBerthError(error, 'TIMEOUT')).toBe(true);
      expect((error as { retryable: boolean }).retryable).toBe(true);
      // The SDK's own attempts (3) each gave up after 200 ms, far sooner than a hung request.
      expect(Date.now() - started).toBeLessThan(10_000);
    } finally {
      await store.close();
      for (const socket of sockets) socket.destroy();
      silent.close();
    }
  });

  it("a write marked contentEncoding 'gzip' is stored with Content-Encoding: gzip; reads give the stored bytes as they are", async () => {
    const gzipped = new Uint8Array(gzipSync(bytes('{"players":{}}')));
    const store = new S3DocumentStore({ bucket, key: 'gzip.json', ...connection });
    const { etag } = await store.write(gzipped, { ifNoneMatch: '*', contentEncoding: 'gzip' });
    const object = await raw.send(new GetObjectCommand({ Bucket: bucket, Key: 'gzip.json' }));
    expect(object.ContentEncoding).toBe('gzip');
    expect(object.ContentType).toBe('application/json');
    // Not decoded on the way back: decompressing is the document backend's (it knows gzip by its first bytes).
    expect(await store.read()).toEqual({ data: gzipped, etag });
    await store.close();
  });
});

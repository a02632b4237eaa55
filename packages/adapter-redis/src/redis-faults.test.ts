import { freePort } from '@berth/conformance-tests/processes';
import { isBerthError } from '@berth/core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { eventually, PrivateRedis, rawClient, rejection } from './fixtures/redis-server.js';
import { RedisBackend } from './redis-backend.js';
import { RedisCache } from './redis-cache.js';

function expectRetryableConnection(error: unknown): void {
  expect(isBerthError(error, 'CONNECTION'), String(error)).toBe(true);
  expect((error as { retryable: boolean }).retryable).toBe(true);
  if (!(error as Error).message.includes('out of memory')) {
    expect((error as Error).message).toContain('redis-server --daemonize yes');
  }
}

describe('RedisCache faults', () => {
  let server: PrivateRedis;

  beforeAll(async () => {
    server = await PrivateRedis.start();
  });

  afterAll(async () => {
    await server.kill();
  });

  it('a server restarted mid-use gives retryable CONNECTION errors, then the cache works again', async () => {
    const cache = new RedisCache({ url: server.url, keyPrefix: 'restart:' });
    try {
      await cache.set('k', 1);
      expect(await cache.get('k')).toBe(1);
      await server.kill();
      expectRetryableConnection(await rejection(cache.get('k')));
      expectRetryableConnection(await rejection(cache.set('k', 2)));
      expectRetryableConnection(await rejection(cache.deleteByPrefix('')));
      await server.start();
      // No persistence: the server came back empty, and the cache goes on with it.
      await eventually(() => cache.set('k', 3));
      expect(await cache.get('k')).toBe(3);
      expect((await cache.stats()).size).toBe(1);
    } finally {
      await cache.close();
    }
  }, 30_000);

  it('no server at the address: a retryable CONNECTION error naming the refusal and how to start Redis', async () => {
    const cache = new RedisCache({ url: `redis://127.0.0.1:${await freePort()}` });
    try {
      const error = await rejection(cache.get('k'));
      expectRetryableConnection(error);
      expect((error as Error).message).toContain('ECONNREFUSED');
    } finally {
      await cache.close();
    }
  });

  it('a command past commandTimeoutMs is a TIMEOUT error', async () => {
    const cache = new RedisCache({ url: server.url, keyPrefix: 'timeout:', commandTimeoutMs: 100 });
    const admin = rawClient(server.url);
    try {
      await cache.set('k', 1);
      await admin.connect();
      await admin.call('CLIENT', 'PAUSE', '1000', 'ALL');
      const error = await rejection(cache.get('k'));
      expect(isBerthError(error, 'TIMEOUT'), String(error)).toBe(true);
    } finally {
      await admin.call('CLIENT', 'UNPAUSE');
      admin.disconnect();
      await cache.close();
    }
  });
});

describe('RedisBackend faults', () => {
  let server: PrivateRedis;

  beforeAll(async () => {
    server = await PrivateRedis.start();
  });

  afterAll(async () => {
    await server.kill();
  });

  it('a server restarted mid-use gives retryable CONNECTION errors, then writes work again (the script is sent anew)', async () => {
    const backend = new RedisBackend({ url: server.url, keyPrefix: 'restart:' });
    try {
      const users = backend.repository('users', { indexes: [{ field: 'email', type: 'string', unique: true }] });
      await users.insert({ id: 'ada', email: 'ada@example.com' });
      await server.kill();
      expectRetryableConnection(await rejection(users.get('ada')));
      expectRetryableConnection(await rejection(users.insert({ id: 'bob', email: 'bob@example.com' })));
      expectRetryableConnection(await rejection(backend.transaction(async (tx) => tx.repository('users').find())));
      expect((await backend.health()).ok).toBe(false);
      await server.start();
      // No persistence: the server came back empty and without the commit script (NOSCRIPT, then EVAL).
      await eventually(() => users.insert({ id: 'carol', email: 'carol@example.com' }));
      expect(await users.find()).toStrictEqual([{ id: 'carol', email: 'carol@example.com' }]);
      expect((await backend.health()).ok).toBe(true);
    } finally {
      await backend.close();
    }
  }, 30_000);

  it('a command past commandTimeoutMs is a TIMEOUT error', async () => {
    const backend = new RedisBackend({ url: server.url, keyPrefix: 'timeout:', commandTimeoutMs: 100 });
    const admin = rawClient(server.url);
    try {
      await backend.repository('c').insert({ id: 'a' });
      await admin.connect();
      await admin.call('CLIENT', 'PAUSE', '1000', 'ALL');
      const error = await rejection(backend.repository('c').get('a'));
      expect(isBerthError(error, 'TIMEOUT'), String(error)).toBe(true);
    } finally {
      await admin.call('CLIENT', 'UNPAUSE');
      admin.disconnect();
      await backend.close();
    }
  });
});

describe('RedisBackend on a server out of memory (maxmemory, noeviction)', () => {
  let server: PrivateRedis;

  beforeAll(async () => {
    server = await PrivateRedis.start({ args: ['--maxmemory', '4mb', '--maxmemory-policy', 'noeviction'] });
  });

  afterAll(async () => {
    await server.kill();
  });

  it('writes and enqueues fail with a retryable CONNECTION error that says why, write nothing, and work again once memory is freed', async () => {
    const backend = new RedisBackend({ url: server.url, keyPrefix: 'oom:' });
    const notes = backend.repository<{ id: string; text: string }>('notes');
    const jobs = backend.queue<{ text: string }>('jobs');
    const text = 'x'.repeat(50_000);
    try {
      let stored = 0;
      let refusal: unknown;
      for (; stored < 1_000; stored++) {
        refusal = await notes.insert({ id: `n${stored}`, text }).then(
          () => undefined,
          (error: unknown) => error,
        );
        if (refusal !== undefined) break;
      }
      expectRetryableConnection(refusal);
      expect((refusal as Error).message).toContain('out of memory');
      expectRetryableConnection(await rejection(jobs.enqueue({ text })));
      // The refused writes left nothing: the document that failed is not there, and the queue is empty.
      expect(await notes.get(`n${stored}`)).toBeNull();
      expect(await notes.count()).toBe(stored);
      expect((await jobs.stats()).waiting).toBe(0);

      expect(await notes.deleteMany({})).toBe(stored);
      await notes.insert({ id: 'after', text: 'small' });
      await jobs.enqueue({ text: 'small' });
      expect((await jobs.stats()).waiting).toBe(1);
    } finally {
      await backend.close();
    }
  }, 30_000);
});

import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { createBackend, createBackendsFromEnv, isBerthError } from '@berth/core';
import { afterAll, describe, expect, it } from 'vitest';

const directory = mkdtempSync(join(tmpdir(), 'berth-url-'));
afterAll(() => rmSync(directory, { recursive: true, force: true }));

async function errorOf(work: Promise<unknown>): Promise<unknown> {
  try {
    await work;
  } catch (error) {
    return error;
  }
  throw new Error('expected a rejection');
}

describe('createBackend', () => {
  it('gives a connected memory backend for memory:', async () => {
    const backend = await createBackend('memory:');
    expect(backend.kind).toBe('memory');
    await backend.repository('players').insert({ id: 'p1', name: 'Ada' });
    expect(await backend.repository('players').count()).toBe(1);
    await backend.close();
  });

  it('persists file: backends at a path relative to the working directory', async () => {
    const path = relative(process.cwd(), join(directory, 'state.json'));
    const first = await createBackend(`file:./${path}?debounceMs=0`);
    expect(first.kind).toBe('document');
    await first.repository('players').insert({ id: 'p1', born: new Date(5) });
    await first.close();
    expect(JSON.parse(readFileSync(join(directory, 'state.json'), 'utf8')).players.p1).toEqual({
      id: 'p1',
      born: { $date: '1970-01-01T00:00:00.005Z' },
    });
    const second = await createBackend(`file:${join(directory, 'state.json')}`);
    expect(await second.repository('players').get('p1')).toEqual({ id: 'p1', born: new Date(5) });
    await second.close();
  });

  it('names the package to install for an adapter that is not installed', async () => {
    const error = await errorOf(createBackend('postgres://127.0.0.1:5432/test'));
    expect(isBerthError(error, 'CONNECTION')).toBe(true);
    expect((error as Error).message).toContain('npm install @berth/adapter-postgres');
  });

  it('rejects unknown schemes and strings without a scheme', async () => {
    expect(isBerthError(await errorOf(createBackend('mongodb://x')), 'VALIDATION')).toBe(true);
    expect(isBerthError(await errorOf(createBackend('./data.json')), 'VALIDATION')).toBe(true);
  });
});

describe('createBackendsFromEnv', () => {
  it('shares one backend when only BERTH_URL is set', async () => {
    const backends = await createBackendsFromEnv({ env: { BERTH_URL: 'memory:' } });
    expect(backends.queueBackend).toBe(backends.backend);
    await backends.close();
  });

  it('takes queues from BERTH_QUEUE_URL when it differs', async () => {
    const path = join(directory, 'mixed.json');
    const backends = await createBackendsFromEnv({ env: { BERTH_URL: `file:${path}`, BERTH_QUEUE_URL: 'memory:' } });
    expect(backends.backend.kind).toBe('document');
    expect(backends.queueBackend.kind).toBe('memory');
    const { id } = await backends.queueBackend.queue<{ n: number }>('jobs').enqueue({ n: 1 });
    expect(id).toMatch(/-7/);
    await backends.close();
  });
});

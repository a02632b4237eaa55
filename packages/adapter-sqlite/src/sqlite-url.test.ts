import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { createBackend } from '@berth/core';
import { afterAll, describe, expect, it } from 'vitest';

const directory = mkdtempSync(join(tmpdir(), 'berth-sqlite-url-'));
afterAll(() => rmSync(directory, { recursive: true, force: true }));

describe('createBackend("sqlite:…")', () => {
  it('opens a file relative to the working directory, creating its folder, and keeps data across backends', async () => {
    const path = relative(process.cwd(), join(directory, 'nested', 'app.db'));
    const first = await createBackend(`sqlite:./${path}`);
    expect(first.kind).toBe('sqlite');
    await first.repository('players').insert({ id: 'p1', born: new Date(7) });
    await first.close();
    const second = await createBackend(`sqlite:${join(directory, 'nested', 'app.db')}?busyTimeoutMs=100`);
    expect(await second.repository('players').get('p1')).toEqual({ id: 'p1', born: new Date(7) });
    await second.close();
  });
});

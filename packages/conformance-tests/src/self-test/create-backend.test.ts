import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import * as memory from '@berth/adapter-memory';
import {
  type Backend,
  type BackendAdapter,
  createBackend,
  createBackendsFromEnv,
  isBerthError,
  registerAdapter,
} from '@berth/core';
import { build } from 'esbuild';
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

  it('resolves before connecting with { connect: false }, and closes a backend whose connect fails', async () => {
    const events: string[] = [];
    const watched = (failing: boolean): BackendAdapter => ({
      schemes: ['watched'],
      createBackendFromUrl: async () => {
        const backend = await memory.createBackendFromUrl('memory:');
        return Object.assign(Object.create(backend) as Backend, {
          connect: async () => {
            events.push('connect');
            if (failing) throw new Error('engine down');
          },
          close: async () => {
            events.push('close');
            await backend.close();
          },
        });
      },
    });
    const lazy = await createBackend('watched:', { adapters: [watched(false)], connect: false });
    expect(events).toEqual([]);
    await lazy.close();
    expect(events).toEqual(['close']);
    events.length = 0;
    await expect(createBackend('watched:', { adapters: [watched(true)] })).rejects.toThrow('engine down');
    expect(events).toEqual(['connect', 'close']);
    expect(
      isBerthError(await errorOf(createBackend('memory:', { connect: 'no' as unknown as boolean })), 'VALIDATION'),
    ).toBe(true);
  });

  it('uses an adapter module passed in options.adapters, for its schemes only', async () => {
    let calls = 0;
    const counting: BackendAdapter = {
      schemes: memory.schemes,
      createBackendFromUrl: (url) => {
        calls += 1;
        return memory.createBackendFromUrl(url);
      },
    };
    const backend = await createBackend('memory:', { adapters: [counting] });
    expect(calls).toBe(1);
    expect(await backend.health()).toMatchObject({ ok: true });
    await backend.close();
    const namespace = await createBackend('memory:', { adapters: [memory] });
    expect(namespace.kind).toBe('memory');
    await namespace.close();
    const fromEnv = await createBackendsFromEnv({ env: { BERTH_QUEUE_URL: 'memory:' }, adapters: [counting] });
    expect(calls).toBe(2);
    await fromEnv.close();
    const other = await errorOf(createBackend('mariadb://db/app', { adapters: [counting] }));
    expect(isBerthError(other, 'VALIDATION')).toBe(true);
    expect(calls).toBe(2);
  });

  it('refuses adapters that are not adapter modules with VALIDATION', async () => {
    for (const adapters of [
      [{}],
      [{ createBackendFromUrl: () => null }],
      [{ schemes: ['Bad:'], createBackendFromUrl: () => null }],
      5,
    ]) {
      const error = await errorOf(createBackend('memory:', { adapters } as never));
      expect(isBerthError(error, 'VALIDATION'), JSON.stringify(adapters)).toBe(true);
    }
  });

  it('lets a package register a third-party scheme, refuses a second adapter for it, and unregisters', async () => {
    const opened: string[] = [];
    const mariadb: BackendAdapter = {
      schemes: ['mariadb'],
      createBackendFromUrl: (url): Backend => {
        opened.push(url);
        return new memory.MemoryBackend();
      },
    };
    const unregister = registerAdapter(mariadb);
    try {
      expect(
        isBerthError(await errorOf(Promise.resolve().then(() => registerAdapter({ ...mariadb }))), 'VALIDATION'),
      ).toBe(true);
      const backend = await createBackend('MariaDB://db.internal:3306/app');
      await backend.repository('players').insert({ id: 'p1' });
      expect(await backend.repository('players').count()).toBe(1);
      await backend.close();
      expect(opened).toStrictEqual(['MariaDB://db.internal:3306/app']);
      const backends = await createBackendsFromEnv({ env: { BERTH_URL: 'memory:', BERTH_QUEUE_URL: 'mariadb://q' } });
      expect(opened).toStrictEqual(['MariaDB://db.internal:3306/app', 'mariadb://q']);
      await backends.close();
    } finally {
      unregister();
    }
    const after = await errorOf(createBackend('mariadb://db.internal/app'));
    expect(isBerthError(after, 'VALIDATION')).toBe(true);
    expect((after as Error).message).toContain('registerAdapter');
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

const root = resolve(dirname(fileURLToPath(import.meta.url)), '../../../..');

describe('createBackend in an esbuild bundle', () => {
  const app = `
import { createBackend } from '@berth/core';
import * as sqlite from '@berth/adapter-sqlite';
const [mode, file] = process.argv.slice(2);
// "not-installed": a scheme whose package is nowhere this app can see (every scheme's package is in the
// workspace, but the app lives outside it and the bundle keeps only what it imports).
const url = mode === 'not-installed' ? 's3://bucket/state.json' : 'sqlite:' + file;
try {
  const backend = await createBackend(url, mode === 'explicit' ? { adapters: [sqlite] } : undefined);
  await backend.repository('players').insert({ id: 'p1', name: 'Ada' });
  console.log(JSON.stringify(await backend.repository('players').get('p1')));
  await backend.close();
} catch (error) {
  console.log(JSON.stringify({ code: error.code, message: error.message }));
}
`;

  async function bundle(): Promise<string> {
    const folder = mkdtempSync(join(tmpdir(), 'berth-bundle-'));
    writeFileSync(join(folder, 'app.mjs'), app);
    const betterSqlite = createRequire(join(root, 'packages/adapter-sqlite/package.json')).resolve('better-sqlite3');
    await build({
      entryPoints: [join(folder, 'app.mjs')],
      outfile: join(folder, 'dist/app.mjs'),
      bundle: true,
      platform: 'node',
      format: 'esm',
      conditions: ['@berth/source'],
      logLevel: 'silent',
      plugins: [
        {
          name: 'workspace',
          setup(workspace) {
            // The app lives outside the workspace: point it at the packages' sources.
            workspace.onResolve({ filter: /^@berth\/core$/ }, () => ({
              path: join(root, 'packages/core/src/index.ts'),
            }));
            workspace.onResolve({ filter: /^@berth\/adapter-sqlite$/ }, () => ({
              path: join(root, 'packages/adapter-sqlite/src/index.ts'),
            }));
            // A native addon cannot be bundled; it stays installed where it is.
            workspace.onResolve({ filter: /^better-sqlite3$/ }, () => ({ path: betterSqlite, external: true }));
          },
        },
      ],
    });
    return folder;
  }

  async function run(folder: string, mode: string): Promise<unknown> {
    const { stdout } = await promisify(execFile)(
      process.execPath,
      [join(folder, 'dist/app.mjs'), mode, join(folder, 'app.db')],
      // Without the NODE_PATH pnpm's bin shims give this process: through it, require() would find the
      // workspace's hoisted packages (node_modules/.pnpm/node_modules), which an application does not see.
      { cwd: folder, env: { ...process.env, NODE_PATH: '' } },
    );
    return JSON.parse(stdout.trim().split('\n').at(-1) ?? 'null');
  }

  it('runs with adapters: [sqlite] where the lookup by package name fails, and says why it failed', async () => {
    const folder = await bundle();
    try {
      expect(await run(folder, 'explicit')).toStrictEqual({ id: 'p1', name: 'Ada' });
      const failure = (await run(folder, 'by-name')) as { code: string; message: string };
      expect(failure.code).toBe('CONNECTION');
      expect(failure.message).toContain('bundle may have dropped it');
    } finally {
      rmSync(folder, { recursive: true, force: true });
    }
  }, 60_000);

  it('names the package to install for an adapter that is not installed, and how a bundle passes it', async () => {
    const folder = await bundle();
    try {
      const failure = (await run(folder, 'not-installed')) as { code: string; message: string };
      expect(failure.code).toBe('CONNECTION');
      expect(failure.message).toContain('npm install @berth/adapter-s3-document');
      expect(failure.message).toContain('bundle may have dropped it');
      expect(failure.message).toContain("adapters: [await import('@berth/adapter-s3-document')]");
    } finally {
      rmSync(folder, { recursive: true, force: true });
    }
  }, 60_000);
});

import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, expect, it } from 'vitest';
import { JsonDirBackend } from './jsondir-backend.js';

const directory = mkdtempSync(join(tmpdir(), 'berth-jsondir-processes-'));
afterAll(() => rmSync(directory, { recursive: true, force: true }));
const script = join(import.meta.dirname, 'fixtures/increment-counter.ts');

// In one process backends on one directory take turns in memory; across processes only the
// lock file (proper-lockfile) keeps transactions from losing each other's updates.
it('three processes incrementing one counter in transactions lose no update', async () => {
  const run = () =>
    promisify(execFile)(process.execPath, ['--import', 'tsx', '--conditions=@berth/source', script, directory, '15']);
  await Promise.all([run(), run(), run()]);
  const backend = new JsonDirBackend({ directory });
  expect(await backend.repository('counters').get('c')).toStrictEqual({ id: 'c', n: 45 });
  await backend.close();
}, 60_000);

import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createBackend, isBerthError, registerAdapter } from '@berth/core';
import { afterAll, expect, it } from 'vitest';
import * as jsondir from './index.js';

const directory = mkdtempSync(join(tmpdir(), 'berth-jsondir-url-'));
afterAll(() => rmSync(directory, { recursive: true, force: true }));

it('createBackend opens jsondir: URLs once the module is registered, and only then', async () => {
  await expect(createBackend(`jsondir://${directory}`)).rejects.toSatisfy((error) => isBerthError(error));
  const unregister = registerAdapter(jsondir);
  try {
    const backend = await createBackend(`jsondir://${directory}`);
    await backend.repository('players').insert({ id: 'ada', level: 1 });
    await backend.close();
    // The same directory through the adapters option, without registering.
    unregister();
    const again = await createBackend(`jsondir://${directory}`, { adapters: [jsondir] });
    expect(await again.repository('players').get('ada')).toStrictEqual({ id: 'ada', level: 1 });
    expect(again.kind).toBe('jsondir');
    await again.close();
  } finally {
    unregister();
  }
});

it('refuses a jsondir URL without a directory', () => {
  expect(() => jsondir.createBackendFromUrl('jsondir:')).toThrow(/names a directory/);
});

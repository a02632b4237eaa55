import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { queueConformance, repositoryConformance } from '@berth/conformance-tests';
import { afterAll } from 'vitest';
import { SqliteBackend } from './sqlite-backend.js';

// Every test gets a database file of its own: real files, WAL and all.
const directory = mkdtempSync(join(tmpdir(), 'berth-sqlite-'));
afterAll(() => rmSync(directory, { recursive: true, force: true }));
let counter = 0;
const createBackend = (): SqliteBackend => {
  counter += 1;
  return new SqliteBackend({ filename: join(directory, `${counter}.db`) });
};
const { capabilities } = createBackend();

repositoryConformance({ name: 'sqlite', createBackend, capabilities });
queueConformance({ name: 'sqlite', createBackend, capabilities });

import { type CleanupInfo, repositoryConformance } from '@berth/conformance-tests';
import pg from 'pg';
import { afterAll, beforeAll } from 'vitest';
import { dropSchemas, POSTGRES_URL, requirePostgres, uniqueSchema } from './fixtures/pg-test-database.js';
import { PostgresBackend } from './pg-backend.js';

// Every test gets a schema of its own on the real server, dropped after it.
const schemas = new WeakMap<object, string>();
const created: string[] = [];
beforeAll(requirePostgres);
afterAll(() => dropSchemas(created));

const createBackend = (): PostgresBackend => {
  const schema = uniqueSchema('conf');
  created.push(schema);
  const backend = new PostgresBackend({ connectionString: POSTGRES_URL, schema });
  schemas.set(backend, schema);
  return backend;
};
const { capabilities } = new PostgresBackend({ connectionString: POSTGRES_URL });

/** A second backend on the test's schema: its own pool, as another process would have. */
const openSameStorage = (first: object): PostgresBackend => {
  const backend = new PostgresBackend({ connectionString: POSTGRES_URL, schema: schemas.get(first) });
  schemas.set(backend, schemas.get(first) as string);
  return backend;
};

/**
 * Checks through a connection of its own (the test may have closed its
 * backend) that the schema holds no table the suite did not name, then
 * drops the schema.
 */
async function cleanup({ backend, collections }: CleanupInfo<object>): Promise<void> {
  const schema = schemas.get(backend) as string;
  const client = new pg.Client({ connectionString: POSTGRES_URL });
  await client.connect();
  try {
    const { rows } = await client.query<{ name: string }>(
      `SELECT table_name AS name FROM information_schema.tables WHERE table_schema = $1 AND table_name NOT LIKE '\\_berth\\_%'`,
      [schema],
    );
    const left = rows.map((row) => row.name).filter((name) => !collections.includes(name));
    if (left.length > 0) throw new Error(`the test left behind: ${left.join(', ')}`);
  } finally {
    await client.end();
  }
  await dropSchemas([schema]);
}

repositoryConformance({ name: 'postgres', createBackend, capabilities, cleanup, openSameStorage });

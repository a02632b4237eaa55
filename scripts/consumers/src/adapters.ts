// Every adapter's backend made from its config, and the modules passed to
// createBackend; the driver types (pg, ioredis, better-sqlite3, the AWS SDK)
// come through the adapters' declarations.
import { DocumentBackend, FileDocumentStore, MemoryBackend } from '@berth/adapter-memory';
import * as postgres from '@berth/adapter-postgres';
import { PostgresBackend } from '@berth/adapter-postgres';
import * as redis from '@berth/adapter-redis';
import { RedisBackend, RedisCache } from '@berth/adapter-redis';
import * as s3 from '@berth/adapter-s3-document';
import { S3DocumentBackend } from '@berth/adapter-s3-document';
import * as sqlite from '@berth/adapter-sqlite';
import { SqliteBackend } from '@berth/adapter-sqlite';
import { type Backend, createBackend, type RepositoryBackend } from '@berth/core';

export async function useAdapters(): Promise<readonly RepositoryBackend[]> {
  const backends: Backend[] = [
    new MemoryBackend(),
    new SqliteBackend({ filename: './app.db', busyTimeoutMs: 5_000 }),
    new PostgresBackend({ connectionString: 'postgres://127.0.0.1/app', schema: 'app', maxConnections: 5 }),
    new RedisBackend({ url: 'redis://127.0.0.1:6379', keyPrefix: 'app:' }),
  ];
  const documents: RepositoryBackend[] = [
    new DocumentBackend({ store: new FileDocumentStore('./state.json', { lockTimeoutMs: 1_000 }) }),
    new S3DocumentBackend({ bucket: 'bucket', key: 'state.json', region: 'eu-west-1', flushOnExit: false }),
  ];
  const pool = (backends[2] as PostgresBackend).native();
  await pool.query('SELECT 1');
  const client = (backends[3] as RedisBackend).native();
  await client.ping();
  (backends[1] as SqliteBackend).native().pragma('journal_mode');
  const cache = new RedisCache({ url: 'redis://127.0.0.1:6379' });
  await cache.close();
  const fromUrl = await createBackend('sqlite:./app.db', { adapters: [sqlite, postgres, redis, s3] });
  return [...backends, ...documents, fromUrl];
}

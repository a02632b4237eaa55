/**
 * Berth's PostgreSQL job queue as the side-by-side benchmark drives it: the
 * backend's defaults (its own pool of 10), through the port only; with
 * `prefetch` 0 (the worker's default) or the given number of jobs leased
 * ahead (short leases, released on close: the port's safe prefetch).
 */
import { PostgresBackend } from '@berth/adapter-postgres';
import { BerthJobQueuePeer } from '../peers/berth-job-queue-peer.js';
import type { PeerLibrary, Task } from '../peers/peer-queue.js';
import { postgresUrl } from './pg-database.js';

export function berthPgPeer(prefetch: number): PeerLibrary {
  return {
    name: prefetch === 0 ? 'berth' : `berth, prefetch ${prefetch}`,
    config: `PostgresBackend defaults; work({ concurrency${prefetch === 0 ? '' : `, prefetch: ${prefetch}`} })`,
    batch: 'enqueueMany',
    async open(schema) {
      const backend = new PostgresBackend({ connectionString: postgresUrl(), schema });
      try {
        const queue = backend.queue<Task>('bench');
        await backend.connect();
        const { rows } = await backend
          .native()
          .query<{ sync: string }>("SELECT current_setting('synchronous_commit') AS sync");
        const durability = `synchronous_commit=${rows[0]?.sync ?? 'unknown'}`;
        return new BerthJobQueuePeer(queue, { prefetch, durability: () => durability, close: () => backend.close() });
      } catch (error) {
        await backend.close();
        throw error;
      }
    },
  };
}

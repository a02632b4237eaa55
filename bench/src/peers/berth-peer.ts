/**
 * Berth's SQLite job queue as the side-by-side benchmark drives it: the
 * adapter's defaults (WAL, synchronous = NORMAL) and the shared worker's
 * defaults (no prefetch; an idle worker is woken in-process by enqueues).
 */
import { SqliteBackend } from '@berth/adapter-sqlite';
import { BerthJobQueuePeer } from './berth-job-queue-peer.js';
import { durabilityOf, type PeerLibrary, type Task } from './peer-queue.js';

/** The queue every Berth job of the benchmark is in. */
export const BERTH_QUEUE = 'bench';

export const berthPeer: PeerLibrary = {
  name: 'berth sqlite',
  config: 'adapter defaults; worker defaults (prefetch 0, woken in-process on enqueue)',
  batch: 'enqueueMany',
  async open(file) {
    const backend = new SqliteBackend({ filename: file });
    await backend.connect();
    return new BerthJobQueuePeer(backend.queue<Task>(BERTH_QUEUE), {
      prefetch: 0,
      durability: () => durabilityOf(backend.native()),
      close: () => backend.close(),
    });
  },
};

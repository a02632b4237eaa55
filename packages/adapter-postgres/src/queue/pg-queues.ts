import {
  type Capabilities,
  type DocumentValue,
  type JobQueue,
  type QueueOptions,
  type TransactionalQueue,
  UnsupportedError,
} from '@berth/core';
import type { PgBackendContext, PgTransactionContext } from '../pg-context.js';

/** What PostgreSQL's job queue offers. */
export const QUEUE_CAPABILITIES: Capabilities['queue'] = {
  level: 'none',
  transactionalEnqueue: false,
  durable: true,
  notifications: false,
};

/** The job queues of one backend, and what they share (the listening connection). */
export class PgQueues {
  constructor(readonly context: PgBackendContext) {}

  queue<T = DocumentValue>(name: string, _options?: QueueOptions): JobQueue<T> {
    throw new UnsupportedError(`the PostgreSQL job queue is not built yet (queue ${JSON.stringify(name)})`);
  }

  /** A queue of an open transaction: its enqueues join the transaction. */
  transactional<T = DocumentValue>(name: string, _transaction: PgTransactionContext): TransactionalQueue<T> {
    throw new UnsupportedError(`the PostgreSQL job queue is not built yet (queue ${JSON.stringify(name)})`);
  }

  /** Writes what workers queued in this turn (batched acknowledgements). */
  async flush(): Promise<void> {}

  /** Stops listening and timers; the backend ends the pool afterwards. */
  async close(): Promise<void> {}
}

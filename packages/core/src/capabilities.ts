/**
 * What an adapter supports. The conformance suite runs the tests of what is
 * declared and checks that what is declared unsupported throws `UNSUPPORTED`.
 */
export interface Capabilities {
  readonly repository: RepositoryCapabilities;
  readonly queue: QueueCapabilities;
}

export interface RepositoryCapabilities {
  /**
   * `none`: `transaction()` throws UNSUPPORTED. `single-collection`: a
   * transaction may touch one collection. `multi-collection`: any number.
   */
  readonly transactions: 'none' | 'single-collection' | 'multi-collection';
  /** Unique indexes are enforced. When false, declaring one throws UNSUPPORTED. */
  readonly uniqueIndexes: boolean;
  /** Data survives `close()` and a new backend on the same location. */
  readonly durable: boolean;
}

export interface QueueCapabilities {
  /**
   * `none`: `queue()` throws UNSUPPORTED. `single-node`: correct for workers
   * sharing one machine (one process, or one database file). `distributed`:
   * correct for workers on many machines.
   */
  readonly level: 'none' | 'single-node' | 'distributed';
  /** A job enqueued through a transaction commits or rolls back with it. */
  readonly transactionalEnqueue: boolean;
  /** Jobs survive a restart of the process (and of the server). */
  readonly durable: boolean;
  /**
   * Idle workers are woken when a job becomes available (in-process events,
   * LISTEN/NOTIFY, pub/sub) rather than only by polling.
   */
  readonly notifications: boolean;
}

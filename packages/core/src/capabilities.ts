/**
 * What an adapter supports. The conformance suite runs the tests of what is
 * declared and checks that what is declared unsupported throws `UNSUPPORTED`.
 */
export interface Capabilities {
  readonly repository: RepositoryCapabilities;
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

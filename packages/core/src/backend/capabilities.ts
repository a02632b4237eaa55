import { ValidationError } from '../errors.js';
import { MAX_DOCUMENT_BYTES } from '../values/values.js';

/**
 * What an adapter supports. The conformance suite runs the tests of what is
 * declared and checks that what is declared unsupported throws `UNSUPPORTED`.
 *
 * ### Examples
 * ```ts
 * import type { Backend, Capabilities } from '@berth/core';
 *
 * function describe(backend: Backend): string {
 *   const { repository, queue }: Capabilities = backend.capabilities;
 *   return `${backend.kind}: transactions ${repository.transactions}, queue ${queue.level}`;
 * }
 * ```
 */
export interface Capabilities {
  readonly repository: RepositoryCapabilities;
  readonly queue: QueueCapabilities;
}

/**
 * What an adapter's repositories support: transactions, unique indexes,
 * durability, concurrent backends and the largest document.
 *
 * ### Examples
 * ```ts
 * import type { RepositoryBackend } from '@berth/core';
 *
 * function canTransfer(backend: RepositoryBackend): boolean {
 *   return backend.capabilities.repository.transactions === 'multi-collection';
 * }
 * ```
 */
export interface RepositoryCapabilities {
  /**
   * `none`: `transaction()` throws UNSUPPORTED. `single-collection`: a
   * transaction may touch one collection. `multi-collection`: any number.
   */
  readonly transactions: 'none' | 'single-collection' | 'multi-collection';
  /** Unique indexes are enforced. When false, declaring one throws UNSUPPORTED. */
  readonly uniqueIndexes: boolean;
  /**
   * Declared indexes serve queries: equality on an indexed field reads the
   * index, and `explain` reports `strategy: 'index'`. Default `true`. An
   * adapter that accepts (and validates) index declarations but reads the
   * whole collection for every query declares `false`; its `explain` then
   * reports `scan`, and the suite checks that instead.
   */
  readonly indexedQueries?: boolean | undefined;
  /** Data survives `close()` and a new backend on the same location. */
  readonly durable: boolean;
  /**
   * For a durable adapter: two backends open on the same storage at once
   * (two processes on one database) each see what the other commits. `false`
   * (the document-backed backend, which holds its document in memory): one
   * backend holds the storage's state at a time; a second writer's saves are
   * merged in entity by entity or refused (`CONFLICT`), never overwritten,
   * and it sees the other's writes only when it saves. Default `true`.
   */
  readonly concurrentBackends?: boolean | undefined;
  /**
   * Largest document, as bytes of UTF-8 JSON text in Berth's encoding; a
   * larger one is a VALIDATION error. At most (and by default)
   * `MAX_DOCUMENT_BYTES`, 16 MiB.
   */
  readonly maxDocumentBytes?: number | undefined;
}

/**
 * What an adapter's job queues support: the workers it is correct for,
 * transactional enqueue, durability, notifications, event scope and the
 * largest payload.
 *
 * ### Examples
 * ```ts
 * import type { QueueBackend } from '@berth/core';
 *
 * function checkForCluster(backend: QueueBackend): void {
 *   if (backend.capabilities.queue.level !== 'distributed') {
 *     throw new Error(`${backend.kind} queues are not safe for workers on several machines`);
 *   }
 * }
 * ```
 */
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
  /**
   * Largest job payload or result, measured like documents; a larger one is
   * a VALIDATION error. At most (and by default) `MAX_DOCUMENT_BYTES`, 16 MiB.
   */
  readonly maxPayloadBytes?: number | undefined;
  /**
   * Which job events `subscribe` and `events` deliver: `process` (default),
   * the changes made through this backend; `global`, the changes made
   * through every backend on the same storage, each once, in commit order
   * (LISTEN/NOTIFY, pub/sub, an event log). See "Event scope" in
   * docs/semantics.md.
   */
  readonly events?: 'process' | 'global' | undefined;
}

/**
 * The document size limit an adapter declares, checked: an integer from 1 to
 * `MAX_DOCUMENT_BYTES` (the default when `declared` is undefined).
 *
 * ### Examples
 * ```ts
 * import { checkMaxBytes } from '@berth/core/adapter';
 *
 * checkMaxBytes(undefined); // 16 MiB, the default
 * checkMaxBytes(400 * 1024, 'maxPayloadBytes'); // 409600
 * ```
 */
export function checkMaxBytes(declared: unknown, name = 'maxDocumentBytes'): number {
  if (declared === undefined) return MAX_DOCUMENT_BYTES;
  if (
    typeof declared !== 'number' ||
    !Number.isSafeInteger(declared) ||
    declared < 1 ||
    declared > MAX_DOCUMENT_BYTES
  ) {
    throw new ValidationError(
      `${name} must be an integer from 1 to ${MAX_DOCUMENT_BYTES} (16 MiB), got ${String(declared)}`,
      name,
    );
  }
  return declared;
}

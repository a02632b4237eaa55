import type { QueueBackend } from '@berth/core';
import {
  type ConformanceGroup,
  type ConformanceOptions,
  type QueueConformanceContext,
  registerGroup,
} from './harness.js';
import { queueAbortGroup } from './queue-groups/abort-group.js';
import { queueAdminGroup } from './queue-groups/admin-group.js';
import { queueDedupeGroup } from './queue-groups/dedupe-group.js';
import { queueEnqueueGroup } from './queue-groups/enqueue-group.js';
import { queueLeaseGroup } from './queue-groups/lease-group.js';
import { queueOrderGroup } from './queue-groups/order-group.js';
import { queuePayloadLimitsGroup } from './queue-groups/payload-limits-group.js';
import { queueRetryGroup } from './queue-groups/retry-group.js';
import { queueTransactionGroup } from './queue-groups/transaction-group.js';
import { queueUnsupportedGroup } from './queue-groups/unsupported-group.js';
import { queueWorkerGroup } from './queue-groups/worker-group.js';

/** Every job queue group, in the order they are registered. */
export const queueGroups: readonly ConformanceGroup<QueueBackend, QueueConformanceContext>[] = [
  queueEnqueueGroup,
  queuePayloadLimitsGroup,
  queueOrderGroup,
  queueLeaseGroup,
  queueRetryGroup,
  queueDedupeGroup,
  queueAdminGroup,
  queueWorkerGroup,
  queueTransactionGroup,
  queueAbortGroup,
  queueUnsupportedGroup,
];

/**
 * Registers the whole job queue suite in the calling vitest file.
 *
 * ### Examples
 * ```ts
 * // my-adapter.conformance.test.ts
 * import { MemoryBackend } from '@berth/adapter-memory';
 * import { queueConformance } from '@berth/conformance-tests';
 *
 * queueConformance({
 *   name: 'memory',
 *   createBackend: () => new MemoryBackend(),
 *   capabilities: {
 *     repository: { transactions: 'multi-collection', uniqueIndexes: true, durable: false },
 *     queue: { level: 'single-node', transactionalEnqueue: true, durable: false, notifications: true },
 *   },
 * });
 * ```
 */
export function queueConformance(options: ConformanceOptions<QueueBackend>): void {
  for (const group of queueGroups) registerGroup(group, options);
}

import type { QueueBackend } from '@berth/core';
import {
  type ConformanceGroup,
  type ConformanceOptions,
  type QueueConformanceContext,
  registerGroup,
} from './harness.js';
import { queueAbortGroup } from './queue-groups/abort-group.js';
import { queueAdminGroup } from './queue-groups/admin-group.js';
import { queueBulkAdminGroup } from './queue-groups/bulk-admin-group.js';
import { queueDedupeGroup } from './queue-groups/dedupe-group.js';
import { queueEnqueueGroup } from './queue-groups/enqueue-group.js';
import { queueEventsGroup } from './queue-groups/events-group.js';
import { queueGlobalEventsGroup } from './queue-groups/global-events-group.js';
import { queueImportGroup } from './queue-groups/import-jobs-group.js';
import { queueLeaseGroup } from './queue-groups/lease-group.js';
import { queueListingGroup } from './queue-groups/listing-group.js';
import { queueOrderGroup } from './queue-groups/order-group.js';
import { queuePayloadLimitsGroup } from './queue-groups/payload-limits-group.js';
import { queueProgressGroup } from './queue-groups/progress-group.js';
import { queueListGroup } from './queue-groups/queues-group.js';
import { queueRetentionGroup } from './queue-groups/retention-group.js';
import { queueRetryGroup } from './queue-groups/retry-group.js';
import { queueScheduleGroup } from './queue-groups/schedule-group.js';
import { queueSettleAndClaimGroup } from './queue-groups/settle-and-claim-group.js';
import { queueTimeoutGroup } from './queue-groups/timeout-group.js';
import { queueTransactionGroup } from './queue-groups/transaction-group.js';
import { queueUnsupportedGroup } from './queue-groups/unsupported-group.js';
import { queueWorkerGroup } from './queue-groups/worker-group.js';

/**
 * Every job queue group, in the order they are registered.
 *
 * ### Examples
 * ```ts
 * import type { QueueBackend } from '@berth/core';
 * import { type ConformanceOptions, queueGroups, queueTimeoutGroup, registerGroup } from '@berth/conformance-tests';
 *
 * declare const options: ConformanceOptions<QueueBackend>;
 * // Every group but the timeouts, for a quick local run.
 * for (const group of queueGroups) if (group !== queueTimeoutGroup) registerGroup(group, options);
 * ```
 */
export const queueGroups: readonly ConformanceGroup<QueueBackend, QueueConformanceContext>[] = [
  queueEnqueueGroup,
  queuePayloadLimitsGroup,
  queueOrderGroup,
  queueLeaseGroup,
  queueRetryGroup,
  queueDedupeGroup,
  queueAdminGroup,
  queueListingGroup,
  queueBulkAdminGroup,
  queueRetentionGroup,
  queueProgressGroup,
  queueEventsGroup,
  queueGlobalEventsGroup,
  queueScheduleGroup,
  queueWorkerGroup,
  queueTimeoutGroup,
  queueSettleAndClaimGroup,
  queueTransactionGroup,
  queueListGroup,
  queueImportGroup,
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
  const settles = queuesSettleAndClaim(options);
  for (const group of queueGroups) {
    // `settleAndClaim` is optional and no capability declares it: the group
    // is left out, as a group for an unclaimed capability is, when the
    // adapter's queues do not have the method.
    if (group === queueSettleAndClaimGroup && !settles) continue;
    registerGroup(group, options);
  }
}

/**
 * Whether the adapter's queues have `settleAndClaim`, read from a queue of a
 * backend that is created (not connected) for the purpose. A `createBackend`
 * that returns a promise cannot be probed while tests are registered: the
 * group is then registered and fails where the method is missing.
 */
function queuesSettleAndClaim(options: ConformanceOptions<QueueBackend>): boolean {
  if (options.capabilities.queue.level === 'none') return false;
  const backend = options.createBackend();
  if (backend instanceof Promise) return true;
  try {
    return typeof backend.queue('settle_probe').settleAndClaim === 'function';
  } catch {
    return true;
  } finally {
    backend.close().catch(() => undefined);
  }
}

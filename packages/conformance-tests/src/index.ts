export { cacheBasicsGroup } from './cache-groups/basics-group.js';
export { cacheConformance, cacheGroups } from './cache-groups/cache-suite.js';
export { type EngineRead, type EngineSpy, type HeldRead, spyOnEngine } from './cache-groups/engine-spy.js';
export { cacheEvictionGroup } from './cache-groups/eviction-group.js';
export { cachePrefixGroup } from './cache-groups/prefix-group.js';
export { cacheStatsGroup } from './cache-groups/stats-group.js';
export { cacheTtlGroup } from './cache-groups/ttl-group.js';
export { type WithCacheConformanceContext, withCacheGroup } from './cache-groups/with-cache-group.js';
export {
  type CacheBounds,
  type CacheCapabilities,
  type CacheConformanceContext,
  type CacheConformanceOptions,
  type CacheFixture,
  type CacheRepositoryOptions,
  type CreateCacheConfig,
  cacheRunOptions,
  defineCacheGroup,
  defineCacheGroupWith,
  type WrapBackendWithCache,
} from './cache-harness.js';
export * from './document-store-suite.js';
export { abortGroup } from './groups/abort-group.js';
export { aggregateGroup } from './groups/aggregate-group.js';
export { argumentsGroup } from './groups/arguments-group.js';
export { collectionsGroup } from './groups/collections-group.js';
export { conditionalUpdateGroup } from './groups/conditional-update-group.js';
export { crudGroup } from './groups/crud-group.js';
export { differentialGroup } from './groups/differential-group.js';
export { filterGroup } from './groups/filter-group.js';
export { importEntriesGroup } from './groups/import-entries-group.js';
export { isolationGroup } from './groups/isolation-group.js';
export { lifecycleGroup } from './groups/lifecycle-group.js';
export { metadataGroup } from './groups/metadata-group.js';
export { migrateGroup } from './groups/migrate-group.js';
export { modelGroup } from './groups/model-group.js';
export { operatorUpsertGroup } from './groups/operator-upsert-group.js';
export { pagingGroup } from './groups/paging-group.js';
export { sharedStorageGroup } from './groups/shared-storage-group.js';
export { sortGroup } from './groups/sort-group.js';
export { transactionGroup } from './groups/transaction-group.js';
export { transactionRetryGroup } from './groups/transaction-retry-group.js';
export { uniqueGroup } from './groups/unique-group.js';
export { updateGroup } from './groups/update-group.js';
export { validationGroup } from './groups/validation-group.js';
export { valuesGroup } from './groups/values-group.js';
export {
  type BaseContext,
  type CaseResult,
  type CleanupInfo,
  type ConformanceCase,
  type ConformanceContext,
  type ConformanceGroup,
  type ConformanceOptions,
  type ConnectableBackend,
  defineGroup,
  defineQueueGroup,
  type QueueConformanceContext,
  registerGroup,
  runGroup,
} from './harness.js';
export { queueAbortGroup } from './queue-groups/abort-group.js';
export { queueAdminGroup } from './queue-groups/admin-group.js';
export { queueBulkAdminGroup } from './queue-groups/bulk-admin-group.js';
export { queueDedupeGroup } from './queue-groups/dedupe-group.js';
export { queueEnqueueGroup } from './queue-groups/enqueue-group.js';
export { queueEventsGroup } from './queue-groups/events-group.js';
export { queueGlobalEventsGroup } from './queue-groups/global-events-group.js';
export { queueImportGroup } from './queue-groups/import-jobs-group.js';
export { queueLeaseGroup } from './queue-groups/lease-group.js';
export { queueListingGroup } from './queue-groups/listing-group.js';
export { queueOrderGroup } from './queue-groups/order-group.js';
export { queuePayloadLimitsGroup } from './queue-groups/payload-limits-group.js';
export { queueProgressGroup } from './queue-groups/progress-group.js';
export { queueListGroup } from './queue-groups/queues-group.js';
export { queueRetentionGroup } from './queue-groups/retention-group.js';
export { queueRetryGroup } from './queue-groups/retry-group.js';
export { queueScheduleGroup } from './queue-groups/schedule-group.js';
export { queueSettleAndClaimGroup } from './queue-groups/settle-and-claim-group.js';
export { queueTimeoutGroup } from './queue-groups/timeout-group.js';
export { queueTransactionGroup } from './queue-groups/transaction-group.js';
export { queueUnsupportedGroup } from './queue-groups/unsupported-group.js';
export { queueWorkerGroup } from './queue-groups/worker-group.js';
export { queueConformance, queueGroups } from './queue-suite.js';
export { repositoryConformance, repositoryGroups } from './repository-suite.js';

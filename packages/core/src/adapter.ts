// `@berth/core/adapter`: what an implementation of a port needs and an
// application does not. Adapters import the ports, types and errors from
// `@berth/core` and these helpers from here; nothing is exported from both.
// The core README ("What a third party may rely on") states the rule.

export { checkMaxBytes } from './backend/capabilities.js';
export { ADAPTER_PACKAGES, urlScheme } from './backend/create-backend.js';
export {
  checkMigrateOption,
  migrateUrlParameter,
  newerSchemaError,
  pendingMigrationsError,
} from './backend/migrate-option.js';
export { takeUrlOption } from './backend/url-option.js';
export { checkCacheKey, checkCacheTtl } from './cache/cache-arguments.js';
export { checkDocumentWriteOptions } from './documents/document-write-options.js';
export { startOperation, throwIfAborted } from './operation/abort.js';
export * from './operation/arguments.js';
export { NETWORK_ERROR_CODES } from './operation/network-errors.js';
export {
  isRetryableConflict,
  MAX_TRANSACTION_RETRIES,
  normalizeRetries,
  type RetryPolicy,
  retryDelay,
  runTransaction,
  withRetries,
} from './operation/retry.js';
export { Turns } from './operation/turns.js';
export * from './query/apply-update.js';
export * from './query/cursor.js';
export * from './query/filter.js';
export { findOneQuery } from './query/find-one.js';
export { FIELD_OPERATORS } from './query/query.js';
export * from './query/query-plan.js';
export * from './query/sort.js';
export * from './queue/event-hub.js';
export { HandOffNotifier } from './queue/hand-off-notifier.js';
export { IdleWorkers } from './queue/idle-workers.js';
export * from './queue/import-jobs.js';
export { FINISHED_JOB_STATES } from './queue/job.js';
export * from './queue/job-admin-options.js';
export * from './queue/job-options.js';
export * from './queue/job-storage.js';
export { isPermanentFailure } from './queue/job-worker.js';
export * from './queue/schedule-options.js';
export * from './queue/settlement-options.js';
export * from './repository/document-writes.js';
export * from './repository/import-entries.js';
export * from './repository/iterate.js';
export * from './repository/repository-options.js';
export { type PreparedUpdate, planUpdate, prepareUpdate, type UpdatePlan } from './repository/update-options.js';
export * from './values/compare.js';
export * from './values/document-json.js';
export * from './values/names.js';
export { validateWithSchema } from './values/standard-schema.js';
export * from './values/values.js';

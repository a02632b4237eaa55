// The application's API: the ports and their types, the errors, the factory,
// caching and observability. What only an implementation of a port needs (the
// reference evaluator, query preparation, argument and document checks) is in
// `@berth/core/adapter` (./adapter.ts); the README says what each entry holds.

export { type BackendAdapter, registerAdapter } from './backend/adapter-registry.js';
export type * from './backend/backend.js';
export type { Capabilities, QueueCapabilities, RepositoryCapabilities } from './backend/capabilities.js';
export {
  type BackendModule,
  type Backends,
  type BackendsFromEnvOptions,
  type CreateBackendOptions,
  createBackend,
  createBackendsFromEnv,
} from './backend/create-backend.js';
export type * from './cache/cache.js';
export * from './cache/with-cache.js';
export type * from './documents/document-store.js';
export * from './errors.js';
export * from './observe/collector.js';
export * from './observe/instrument.js';
export * from './observe/operation-channel.js';
export type { SignalOptions } from './operation/abort.js';
export * from './operation/logger.js';
export type { TransactionRetries } from './operation/retry.js';
export type { FindOneQuery } from './query/find-one.js';
export type {
  AnyFieldOperators,
  AnyFilter,
  AnyOrderBy,
  AnyQuery,
  AnySortKey,
  CountByGroup,
  FieldCondition,
  FieldOperators,
  Filter,
  MetadataCondition,
  MetadataOperators,
  OrderBy,
  Page,
  Query,
  QueryPlan,
  SortDirection,
  SortKey,
  SortPath,
  TypedFilter,
  TypedOrderBy,
  TypedQuery,
  TypedSortKey,
} from './query/query.js';
export type * from './query/typed-paths.js';
export type * from './query/update.js';
export type { BackoffPolicy, Job, JobError, JobState, JobStats, Lease, LeaseRef } from './queue/job.js';
export type * from './queue/job-admin.js';
export {
  JOB_EVENT_TYPES,
  JOB_STATE_AFTER_EVENT,
  type JobEvent,
  type JobEventListener,
  type JobEventType,
  type QueueEvent,
  type QueueEventsOptions,
  type SubscribeOptions,
} from './queue/job-events.js';
export type * from './queue/job-queue.js';
export { type IdleWorker, type JobNotifier, startWorker } from './queue/job-worker.js';
export type * from './queue/schedule.js';
export type * from './repository/repository.js';
export type * from './values/document.js';
export { generateId } from './values/ids.js';
export type { StandardSchemaV1, StandardSchemaV1Issue, StandardSchemaV1Result } from './values/standard-schema.js';

import { abortGroup } from './groups/abort-group.js';
import { aggregateGroup } from './groups/aggregate-group.js';
import { argumentsGroup } from './groups/arguments-group.js';
import { collectionsGroup } from './groups/collections-group.js';
import { conditionalUpdateGroup } from './groups/conditional-update-group.js';
import { crudGroup } from './groups/crud-group.js';
import { differentialGroup } from './groups/differential-group.js';
import { filterGroup } from './groups/filter-group.js';
import { importEntriesGroup } from './groups/import-entries-group.js';
import { indexGroup } from './groups/index-group.js';
import { isolationGroup } from './groups/isolation-group.js';
import { lifecycleGroup } from './groups/lifecycle-group.js';
import { metadataGroup } from './groups/metadata-group.js';
import { migrateGroup } from './groups/migrate-group.js';
import { modelGroup } from './groups/model-group.js';
import { operatorUpsertGroup } from './groups/operator-upsert-group.js';
import { pagingGroup } from './groups/paging-group.js';
import { sharedStorageGroup } from './groups/shared-storage-group.js';
import { sortGroup } from './groups/sort-group.js';
import { transactionGroup } from './groups/transaction-group.js';
import { transactionRetryGroup } from './groups/transaction-retry-group.js';
import { uniqueGroup } from './groups/unique-group.js';
import { updateGroup } from './groups/update-group.js';
import { validationGroup } from './groups/validation-group.js';
import { valuesGroup } from './groups/values-group.js';
import { type ConformanceGroup, type ConformanceOptions, registerGroup } from './harness.js';

/**
 * Every repository group, in the order they are registered.
 *
 * ### Examples
 * ```ts
 * import { type ConformanceOptions, modelGroup, registerGroup, repositoryGroups } from '@berth/conformance-tests';
 *
 * declare const options: ConformanceOptions;
 * // Everything but the slow model test, for a quick local run.
 * for (const group of repositoryGroups) if (group !== modelGroup) registerGroup(group, options);
 * ```
 */
export const repositoryGroups: readonly ConformanceGroup[] = [
  valuesGroup,
  crudGroup,
  updateGroup,
  conditionalUpdateGroup,
  operatorUpsertGroup,
  filterGroup,
  sortGroup,
  pagingGroup,
  metadataGroup,
  aggregateGroup,
  uniqueGroup,
  indexGroup,
  validationGroup,
  argumentsGroup,
  transactionGroup,
  transactionRetryGroup,
  isolationGroup,
  sharedStorageGroup,
  collectionsGroup,
  importEntriesGroup,
  migrateGroup,
  abortGroup,
  lifecycleGroup,
  modelGroup,
  differentialGroup,
];

/**
 * Registers the whole repository suite in the calling vitest file.
 *
 * ### Examples
 * ```ts
 * // my-adapter.conformance.test.ts
 * import { MemoryBackend } from '@berth/adapter-memory';
 * import { repositoryConformance } from '@berth/conformance-tests';
 *
 * repositoryConformance({
 *   name: 'memory',
 *   createBackend: () => new MemoryBackend(),
 *   capabilities: {
 *     repository: { transactions: 'multi-collection', uniqueIndexes: true, durable: false },
 *     queue: { level: 'single-node', transactionalEnqueue: true, durable: false, notifications: true },
 *   },
 * });
 * ```
 */
export function repositoryConformance(options: ConformanceOptions): void {
  for (const group of repositoryGroups) registerGroup(group, options);
}

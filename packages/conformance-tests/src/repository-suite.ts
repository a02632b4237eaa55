import { abortGroup } from './groups/abort-group.js';
import { aggregateGroup } from './groups/aggregate-group.js';
import { argumentsGroup } from './groups/arguments-group.js';
import { crudGroup } from './groups/crud-group.js';
import { differentialGroup } from './groups/differential-group.js';
import { filterGroup } from './groups/filter-group.js';
import { lifecycleGroup } from './groups/lifecycle-group.js';
import { metadataGroup } from './groups/metadata-group.js';
import { modelGroup } from './groups/model-group.js';
import { pagingGroup } from './groups/paging-group.js';
import { sharedStorageGroup } from './groups/shared-storage-group.js';
import { sortGroup } from './groups/sort-group.js';
import { transactionGroup } from './groups/transaction-group.js';
import { uniqueGroup } from './groups/unique-group.js';
import { updateGroup } from './groups/update-group.js';
import { validationGroup } from './groups/validation-group.js';
import { valuesGroup } from './groups/values-group.js';
import { type ConformanceGroup, type ConformanceOptions, registerGroup } from './harness.js';

/** Every repository group, in the order they are registered. */
export const repositoryGroups: readonly ConformanceGroup[] = [
  valuesGroup,
  crudGroup,
  updateGroup,
  filterGroup,
  sortGroup,
  pagingGroup,
  metadataGroup,
  aggregateGroup,
  uniqueGroup,
  validationGroup,
  argumentsGroup,
  transactionGroup,
  sharedStorageGroup,
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

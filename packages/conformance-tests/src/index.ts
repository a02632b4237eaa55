export { abortGroup } from './groups/abort-group.js';
export { aggregateGroup } from './groups/aggregate-group.js';
export { crudGroup } from './groups/crud-group.js';
export { filterGroup } from './groups/filter-group.js';
export { modelGroup } from './groups/model-group.js';
export { pagingGroup } from './groups/paging-group.js';
export { sortGroup } from './groups/sort-group.js';
export { transactionGroup } from './groups/transaction-group.js';
export { uniqueGroup } from './groups/unique-group.js';
export { updateGroup } from './groups/update-group.js';
export { validationGroup } from './groups/validation-group.js';
export { valuesGroup } from './groups/values-group.js';
export {
  type CaseResult,
  type ConformanceCase,
  type ConformanceContext,
  type ConformanceGroup,
  type ConformanceOptions,
  defineGroup,
  registerGroup,
  runGroup,
} from './harness.js';
export { repositoryConformance, repositoryGroups } from './repository-suite.js';

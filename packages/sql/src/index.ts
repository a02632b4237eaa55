export { type SqlCompiler, sqlCompiler } from './sql-compiler.js';
export { countGroups } from './sql-count-groups.js';
export type { Expression, SortParameter, SqlDialect } from './sql-dialect.js';
export { compileFilter, joinConditions } from './sql-filter.js';
export { compileAfter, compileOrderBy } from './sql-order.js';
export { checkedPath } from './sql-paths.js';

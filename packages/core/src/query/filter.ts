import { ValidationError } from '../errors.js';
import { compareValues, scalarsEqual, typeRank } from '../values/compare.js';
import type { DocumentMeta, DocumentScalar } from '../values/document.js';
import { type FieldPath, getQueryValue, METADATA_PATHS, parseFieldPath, parseQueryPath } from '../values/names.js';
import { checkString, isPlainObject, isScalar } from '../values/values.js';
import type { Filter } from './query.js';

/**
 * Most values a `$in` or `$nin` list may hold.
 *
 * ### Examples
 * ```ts
 * import { MAX_IN_LIST } from '@berth/core/adapter';
 *
 * // A SQL adapter binds one parameter per listed value: at most this many.
 * const maxParameters = MAX_IN_LIST;
 * ```
 */
export const MAX_IN_LIST = 1000;

/**
 * Deepest nesting of filters: the filter passed in is level 1, and each filter
 * inside `$and`, `$or` or `$not` is one level deeper. Bounds the recursion of
 * every evaluator and the expression depth of compiled queries.
 *
 * ### Examples
 * ```ts
 * import { MAX_FILTER_DEPTH } from '@berth/core/adapter';
 *
 * console.log(`filters nest at most ${MAX_FILTER_DEPTH} levels deep`);
 * ```
 */
export const MAX_FILTER_DEPTH = 32;

/**
 * A comparison on one field of the normalized filter tree.
 *
 * ### Examples
 * ```ts
 * import type { FieldNode } from '@berth/core/adapter';
 *
 * function describe(node: FieldNode): string {
 *   return `${node.path.join('.')} ${node.kind}`;
 * }
 * ```
 */
export type FieldNode =
  | { readonly kind: 'eq' | 'ne' | 'contains'; readonly path: FieldPath; readonly value: DocumentScalar }
  | { readonly kind: 'gt' | 'gte' | 'lt' | 'lte'; readonly path: FieldPath; readonly value: number | string | Date }
  | { readonly kind: 'in' | 'nin'; readonly path: FieldPath; readonly values: readonly DocumentScalar[] }
  | { readonly kind: 'exists'; readonly path: FieldPath; readonly value: boolean }
  | { readonly kind: 'startsWith'; readonly path: FieldPath; readonly value: string };

/**
 * A validated filter as a tree. Adapters compile this, never the raw filter
 * object, so every operand and path they see has passed validation.
 *
 * ### Examples
 * ```ts
 * import { type FilterNode, parseFilter } from '@berth/core/adapter';
 *
 * // Counts the comparisons of a filter, walking the tree as a compiler would.
 * function comparisons(node: FilterNode): number {
 *   if (node.kind === 'and' || node.kind === 'or') return node.nodes.reduce((sum, n) => sum + comparisons(n), 0);
 *   if (node.kind === 'not') return comparisons(node.node);
 *   return 1;
 * }
 * comparisons(parseFilter({ a: 1, $or: [{ b: 2 }, { c: { $gt: 3 } }] })); // 3
 * ```
 */
export type FilterNode =
  | { readonly kind: 'and' | 'or'; readonly nodes: readonly FilterNode[] }
  | { readonly kind: 'not'; readonly node: FilterNode }
  | FieldNode;

const MATCH_ALL: FilterNode = { kind: 'and', nodes: [] };

function operandError(path: string, operator: string, expected: string, value: unknown): ValidationError {
  let shown: string;
  try {
    shown = value instanceof Date ? value.toISOString() : (JSON.stringify(value) ?? String(value));
  } catch {
    shown = String(value);
  }
  return new ValidationError(`${operator} on "${path}" takes ${expected}, got ${shown}`, path);
}

function checkScalarOperand(path: string, operator: string, value: unknown): DocumentScalar {
  if (!isScalar(value)) {
    throw operandError(path, operator, 'a scalar (null, boolean, finite number, string or valid Date)', value);
  }
  if (typeof value === 'string') checkString(value, path);
  return value;
}

function parseFieldOperators(path: string, segments: FieldPath, operators: Record<string, unknown>): FilterNode {
  const nodes: FilterNode[] = [];
  for (const [operator, operand] of Object.entries(operators)) {
    if (operand === undefined) continue;
    switch (operator) {
      case '$eq':
      case '$ne':
      case '$contains':
        nodes.push({
          kind: operator === '$eq' ? 'eq' : operator === '$ne' ? 'ne' : 'contains',
          path: segments,
          value: checkScalarOperand(path, operator, operand),
        });
        break;
      case '$gt':
      case '$gte':
      case '$lt':
      case '$lte': {
        const rank = typeRank(operand);
        if ((rank !== 2 && rank !== 3 && rank !== 4) || !isScalar(operand)) {
          throw operandError(path, operator, 'a number, string or Date', operand);
        }
        if (typeof operand === 'string') checkString(operand, path);
        nodes.push({ kind: operator.slice(1) as 'gt', path: segments, value: operand as number | string | Date });
        break;
      }
      case '$in':
      case '$nin': {
        if (!Array.isArray(operand)) throw operandError(path, operator, 'an array of scalars', operand);
        if (operand.length > MAX_IN_LIST) {
          throw new ValidationError(`${operator} on "${path}" lists more than ${MAX_IN_LIST} values`, path);
        }
        const values = operand.map((value: unknown) => checkScalarOperand(path, operator, value));
        nodes.push({ kind: operator === '$in' ? 'in' : 'nin', path: segments, values });
        break;
      }
      case '$exists':
        if (typeof operand !== 'boolean') throw operandError(path, operator, 'true or false', operand);
        nodes.push({ kind: 'exists', path: segments, value: operand });
        break;
      case '$startsWith':
        if (typeof operand !== 'string') throw operandError(path, operator, 'a string', operand);
        checkString(operand, path);
        nodes.push({ kind: 'startsWith', path: segments, value: operand });
        break;
      default:
        throw new ValidationError(
          `unknown operator ${JSON.stringify(operator)} on "${path}"; use one of $eq $ne $gt $gte $lt $lte $in $nin $exists $startsWith $contains`,
          path,
        );
    }
  }
  if (nodes.length === 0) {
    throw new ValidationError(`condition on "${path}" has no operator`, path);
  }
  return nodes.length === 1 ? (nodes[0] as FilterNode) : { kind: 'and', nodes };
}

function parseCondition(path: string, condition: unknown): FilterNode {
  const segments = parseFieldPath(path);
  if (isScalar(condition)) {
    return { kind: 'eq', path: segments, value: checkScalarOperand(path, '$eq', condition) };
  }
  if (isPlainObject(condition)) {
    const keys = Object.keys(condition);
    if (keys.length > 0 && keys.every((key) => key.startsWith('$'))) {
      return parseFieldOperators(path, segments, condition);
    }
    if (keys.length === 0) throw new ValidationError(`condition on "${path}" has no operator`, path);
  }
  throw operandError(
    path,
    'a condition',
    'a scalar or an object of operators (use dotted paths for nested fields, $contains for arrays)',
    condition,
  );
}

/** Operators a metadata path (`$createdAt`, `$updatedAt`) takes; `$startsWith` and `$contains` can never match a Date. */
const METADATA_OPERATORS = new Set(['$eq', '$ne', '$gt', '$gte', '$lt', '$lte', '$in', '$nin', '$exists']);

function checkDateOperand(path: string, operator: string, value: unknown): void {
  if (!(value instanceof Date) || Number.isNaN(value.getTime())) {
    throw operandError(path, operator, 'a valid Date (metadata is always a Date)', value);
  }
}

/**
 * A condition on `$createdAt` or `$updatedAt`: a Date (equality) or
 * operators whose operands are Dates. Metadata is always present and always a
 * Date, so any other operand could only ever match nothing (or everything):
 * it is refused rather than silently answered.
 */
function parseMetadataCondition(path: string, condition: unknown): FilterNode {
  const segments = parseQueryPath(path);
  if (condition instanceof Date) {
    checkDateOperand(path, '$eq', condition);
    return { kind: 'eq', path: segments, value: condition };
  }
  if (isPlainObject(condition) && Object.keys(condition).length > 0) {
    for (const [operator, operand] of Object.entries(condition)) {
      if (operand === undefined) continue;
      if (!METADATA_OPERATORS.has(operator)) {
        throw new ValidationError(
          `${JSON.stringify(operator)} does not apply to ${path}; use $eq $ne $gt $gte $lt $lte $in $nin (with Dates) or $exists`,
          path,
        );
      }
      if (operator === '$exists') continue;
      if (operator === '$in' || operator === '$nin') {
        if (!Array.isArray(operand)) throw operandError(path, operator, 'an array of Dates', operand);
        for (const value of operand.slice(0, MAX_IN_LIST)) checkDateOperand(path, operator, value);
      } else checkDateOperand(path, operator, operand);
    }
    return parseFieldOperators(path, segments, condition);
  }
  throw operandError(path, 'a condition', 'a Date or an object of operators with Date operands', condition);
}

function parseFilters(operator: string, filters: unknown, depth: number): FilterNode[] {
  if (!Array.isArray(filters)) {
    throw new ValidationError(`${operator} takes an array of filters`, '');
  }
  return filters.map((filter: unknown) => (filter === undefined ? MATCH_ALL : parseNested(filter, depth)));
}

/**
 * Validates a filter and returns its normalized tree. Unknown operators,
 * invalid paths, invalid operands and filters nested deeper than
 * {@link MAX_FILTER_DEPTH} are `ValidationError`s.
 *
 * ### Examples
 * ```ts
 * import { parseFilter } from '@berth/core/adapter';
 *
 * const node = parseFilter({ 'stats.level': { $gte: 10 } });
 * // { kind: 'gte', path: ['stats', 'level'], value: 10 }
 * ```
 */
export function parseFilter(filter: Filter | unknown): FilterNode {
  return filter === undefined ? MATCH_ALL : parseNested(filter, 1);
}

function parseNested(filter: unknown, depth: number): FilterNode {
  if (!isPlainObject(filter)) {
    throw new ValidationError('a filter must be a plain object', '');
  }
  // Checked before going one level down, so no input can exhaust the stack.
  if (depth > MAX_FILTER_DEPTH) {
    throw new ValidationError(`filters nest deeper than ${MAX_FILTER_DEPTH} levels of $and, $or and $not`, '');
  }
  const nodes: FilterNode[] = [];
  for (const [key, condition] of Object.entries(filter)) {
    if (condition === undefined) continue;
    if (key === '$and') nodes.push({ kind: 'and', nodes: parseFilters(key, condition, depth + 1) });
    else if (key === '$or') nodes.push({ kind: 'or', nodes: parseFilters(key, condition, depth + 1) });
    else if (key === '$not') nodes.push({ kind: 'not', node: parseNested(condition, depth + 1) });
    else if (key === METADATA_PATHS[0] || key === METADATA_PATHS[1]) nodes.push(parseMetadataCondition(key, condition));
    else if (key.startsWith('$')) {
      throw new ValidationError(
        `unknown filter operator ${JSON.stringify(key)}; use $and, $or, $not, $createdAt, $updatedAt or a field path`,
        '',
      );
    } else nodes.push(parseCondition(key, condition));
  }
  return nodes.length === 1 ? (nodes[0] as FilterNode) : { kind: 'and', nodes };
}

function equalsOperand(value: unknown, operand: DocumentScalar): boolean {
  if (operand === null) return value === null || value === undefined;
  return scalarsEqual(value, operand);
}

/**
 * Evaluates a normalized filter against a document: the reference semantics.
 * `meta` is the document's metadata, which `$createdAt` and `$updatedAt`
 * read; a filter on them evaluated without it is a `ValidationError`.
 *
 * ### Examples
 * ```ts
 * import { matchesNode, parseFilter } from '@berth/core/adapter';
 *
 * const adults = parseFilter({ age: { $gte: 18 } });
 * matchesNode({ id: 'u1', age: 30 }, adults); // true
 * matchesNode({ id: 'u2' }, adults); // false: a missing field is never greater
 * ```
 */
export function matchesNode(document: unknown, node: FilterNode, meta?: DocumentMeta): boolean {
  switch (node.kind) {
    case 'and':
      return node.nodes.every((child) => matchesNode(document, child, meta));
    case 'or':
      return node.nodes.some((child) => matchesNode(document, child, meta));
    case 'not':
      return !matchesNode(document, node.node, meta);
    default:
      break;
  }
  const value = getQueryValue(document, node.path, meta);
  switch (node.kind) {
    case 'eq':
      return equalsOperand(value, node.value);
    case 'ne':
      return !equalsOperand(value, node.value);
    case 'gt':
    case 'gte':
    case 'lt':
    case 'lte': {
      if (typeRank(value) !== typeRank(node.value)) return false;
      const order = compareValues(value, node.value);
      if (node.kind === 'gt') return order > 0;
      if (node.kind === 'gte') return order >= 0;
      if (node.kind === 'lt') return order < 0;
      return order <= 0;
    }
    case 'in':
      return node.values.some((operand) => equalsOperand(value, operand));
    case 'nin':
      return !node.values.some((operand) => equalsOperand(value, operand));
    case 'exists':
      return (value !== undefined) === node.value;
    case 'startsWith':
      return typeof value === 'string' && value.startsWith(node.value);
    case 'contains':
      return Array.isArray(value) && value.some((element) => scalarsEqual(element, node.value));
  }
}

/**
 * Whether `document` matches `filter`, by the reference semantics every
 * adapter reproduces.
 *
 * ### Examples
 * ```ts
 * import { matchesFilter } from '@berth/core/adapter';
 *
 * matchesFilter({ id: 'a', level: 3 }, { level: { $gt: 2 } }); // true
 * matchesFilter({ id: 'a' }, { level: { $ne: 2 } }); // true: $ne matches missing
 * const meta = { version: 1, createdAt: new Date('2026-01-01'), updatedAt: new Date('2026-03-01') };
 * matchesFilter({ id: 'a' }, { $updatedAt: { $gte: new Date('2026-02-01') } }, meta); // true
 * ```
 */
export function matchesFilter(document: unknown, filter: Filter | undefined, meta?: DocumentMeta): boolean {
  return matchesNode(document, parseFilter(filter), meta);
}

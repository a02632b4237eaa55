import { ValidationError } from '../errors.js';
import { type FieldPath, parseFieldPath } from '../values/names.js';
import { checkString, cloneValue, copyValue, isPlainObject } from '../values/values.js';

/**
 * One step of a validated update.
 *
 * ### Examples
 * ```ts
 * import { parseUpdate, type UpdateStep } from '@berth/core/adapter';
 *
 * const steps: UpdateStep[] = parseUpdate({ $inc: { 'stats.level': 1 }, $unset: ['draft'] });
 * const kinds = steps.map((step) => `${step.kind} ${step.field}`); // ['inc stats.level', 'unset draft']
 * ```
 */
export type UpdateStep =
  | { readonly kind: 'set'; readonly field: string; readonly path: FieldPath; readonly value: unknown }
  | { readonly kind: 'unset'; readonly field: string; readonly path: FieldPath }
  | { readonly kind: 'inc'; readonly field: string; readonly path: FieldPath; readonly amount: number };

function checkTopLevelKey(key: string): FieldPath {
  if (key.startsWith('$')) throw new ValidationError(`key "${key}" starts with "$", which is reserved`, key);
  if (key === '__proto__') throw new ValidationError(`key "${key}" is not allowed`, key);
  checkString(key, key, 'key');
  return [key];
}

function isPrefix(shorter: FieldPath, longer: FieldPath): boolean {
  return shorter.length <= longer.length && shorter.every((segment, index) => longer[index] === segment);
}

function checkNoOverlap(steps: readonly UpdateStep[]): void {
  for (let i = 0; i < steps.length; i++) {
    for (let j = i + 1; j < steps.length; j++) {
      const a = steps[i] as UpdateStep;
      const b = steps[j] as UpdateStep;
      if (isPrefix(a.path, b.path) || isPrefix(b.path, a.path)) {
        throw new ValidationError(`update touches "${a.field}" and "${b.field}" at once`, b.field);
      }
    }
  }
}

/**
 * Validates a patch or an object of update operators and returns its steps.
 * Values are validated and copied. `id` may only be "set" to `currentId`.
 *
 * ### Examples
 * ```ts
 * import { applyUpdate, parseUpdate } from '@berth/core/adapter';
 *
 * const steps = parseUpdate({ name: 'Ada', 'stats.level': 2 }, 'u1');
 * const updated = applyUpdate({ id: 'u1', name: 'A', stats: { level: 1 } }, steps);
 * ```
 */
export function parseUpdate(update: unknown, currentId?: string): UpdateStep[] {
  if (!isPlainObject(update)) throw new ValidationError('an update must be a plain object', '');
  const keys = Object.keys(update);
  const operatorKeys = keys.filter((key) => key.startsWith('$'));
  const steps: UpdateStep[] = [];
  if (operatorKeys.length > 0) {
    if (operatorKeys.length !== keys.length) {
      throw new ValidationError('an update cannot mix operators ($set, $unset, $inc) with plain fields', '');
    }
    for (const key of keys) {
      const operand = update[key];
      if (operand === undefined) continue;
      if (key === '$set' || key === '$inc') {
        if (!isPlainObject(operand)) throw new ValidationError(`${key} takes an object of paths`, '');
        for (const [field, value] of Object.entries(operand)) {
          if (value === undefined) continue;
          const path = parseFieldPath(field);
          if (key === '$set') {
            steps.push({ kind: 'set', field, path, value: copyValue(value, field) });
          } else {
            if (typeof value !== 'number' || !Number.isFinite(value)) {
              throw new ValidationError(`$inc on "${field}" takes a finite number`, field);
            }
            steps.push({ kind: 'inc', field, path, amount: value });
          }
        }
      } else if (key === '$unset') {
        if (!Array.isArray(operand)) throw new ValidationError('$unset takes an array of paths', '');
        for (const field of operand) steps.push({ kind: 'unset', field: String(field), path: parseFieldPath(field) });
      } else {
        throw new ValidationError(`unknown update operator ${JSON.stringify(key)}; use $set, $unset or $inc`, '');
      }
    }
  } else {
    for (const key of keys) {
      const value = update[key];
      if (value === undefined) continue;
      const path = key.includes('.') ? parseFieldPath(key) : checkTopLevelKey(key);
      steps.push({ kind: 'set', field: key, path, value: copyValue(value, key) });
    }
  }
  for (const step of steps) {
    if (step.path[0] !== 'id') continue;
    if (step.kind === 'set' && step.path.length === 1 && step.value === currentId) continue;
    throw new ValidationError('an update cannot change or remove "id"', 'id');
  }
  checkNoOverlap(steps);
  return steps;
}

function parentOf(root: Record<string, unknown>, step: UpdateStep, create: boolean): Record<string, unknown> | null {
  let current = root;
  for (let index = 0; index < step.path.length - 1; index++) {
    const segment = step.path[index] as string;
    const next = Object.hasOwn(current, segment) ? current[segment] : undefined;
    if (next === undefined) {
      if (!create) return null;
      const created: Record<string, unknown> = {};
      current[segment] = created;
      current = created;
    } else if (isPlainObject(next)) {
      current = next;
    } else {
      if (!create) return null;
      const at = step.path.slice(0, index + 1).join('.');
      throw new ValidationError(`cannot update "${step.field}": "${at}" is not an object`, step.field);
    }
  }
  return current;
}

/**
 * Applies validated update steps to a copy of `document` and returns the copy.
 *
 * ### Examples
 * ```ts
 * import { applyUpdate, parseUpdate } from '@berth/core/adapter';
 *
 * const next = applyUpdate({ id: 'p1', stats: { level: 1 } }, parseUpdate({ $inc: { 'stats.level': 1 } }, 'p1'));
 * // { id: 'p1', stats: { level: 2 } }
 * ```
 */
export function applyUpdate<T>(document: T, steps: readonly UpdateStep[]): T {
  const result = cloneValue(document) as Record<string, unknown>;
  for (const step of steps) {
    const last = step.path[step.path.length - 1] as string;
    if (step.kind === 'unset') {
      const parent = parentOf(result, step, false);
      if (parent !== null) delete parent[last];
      continue;
    }
    const parent = parentOf(result, step, true) as Record<string, unknown>;
    if (step.kind === 'set') {
      parent[last] = cloneValue(step.value);
      continue;
    }
    const current = Object.hasOwn(parent, last) ? parent[last] : undefined;
    if (current !== undefined && typeof current !== 'number') {
      throw new ValidationError(`$inc on "${step.field}": the stored value is not a number`, step.field);
    }
    const sum = (current ?? 0) + step.amount;
    if (!Number.isFinite(sum)) throw new ValidationError(`$inc on "${step.field}" overflows`, step.field);
    parent[last] = sum === 0 ? 0 : sum;
  }
  return result as T;
}

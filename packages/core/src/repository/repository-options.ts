import { UnsupportedError, ValidationError } from '../errors.js';
import { type FieldPath, isMetadataPath, parseFieldPath, parseQueryPath } from '../values/names.js';
import { isPlainObject } from '../values/values.js';
import type { IndexDefinition, IndexFieldType, RepositoryOptions } from './repository.js';

/**
 * One validated field of an index.
 *
 * ### Examples
 * ```ts
 * import { type IndexFieldSpec, normalizeIndexes } from '@berth/core/adapter';
 *
 * const [index] = normalizeIndexes('orders', { indexes: [{ fields: [{ field: 'a', type: 'string' }, { field: 'b', type: 'number' }] }] }, true);
 * const fields: readonly IndexFieldSpec[] = index?.fields ?? [];
 * ```
 */
export interface IndexFieldSpec {
  readonly field: string;
  readonly path: FieldPath;
  readonly type: IndexFieldType;
}

/**
 * A validated index definition. `field`, `path` and `type` are the first
 * field's for a compound index, whose `field` is its fields joined by `+`
 * (what an `ALREADY_EXISTS` error names).
 *
 * ### Examples
 * ```ts
 * import { type IndexSpec, normalizeIndexes } from '@berth/core/adapter';
 *
 * const specs: IndexSpec[] = normalizeIndexes('users', { indexes: [{ field: 'email', type: 'string', unique: true }] }, true);
 * const ddl = specs.map((spec) => `CREATE ${spec.unique ? 'UNIQUE ' : ''}INDEX ${spec.name} ON users (${spec.key})`);
 * ```
 */
export interface IndexSpec {
  readonly name: string;
  readonly field: string;
  readonly path: FieldPath;
  readonly type: IndexFieldType;
  readonly unique: boolean;
  /** Every indexed field, in index order (one for a single-field index). */
  readonly fields: readonly IndexFieldSpec[];
  /** Whether it was declared with `fields` (a compound index). */
  readonly compound: boolean;
  /**
   * Identifies the index within its collection: the field of a single-field
   * index, `(<name>)` of a compound one (parentheses cannot occur in a field path).
   */
  readonly key: string;
}

const INDEX_TYPES = new Set(['string', 'number', 'date', 'boolean']);
const INDEX_NAME = /^[A-Za-z][A-Za-z0-9_]{0,62}$/;
/**
 * Most fields one compound index may hold.
 *
 * ### Examples
 * ```ts
 * import { MAX_INDEX_FIELDS } from '@berth/core/adapter';
 *
 * console.log(`a compound index holds 2 to ${MAX_INDEX_FIELDS} fields`);
 * ```
 */
export const MAX_INDEX_FIELDS = 8;

function indexField(definition: unknown, where: string): IndexFieldSpec {
  if (!isPlainObject(definition)) throw new ValidationError(`${where}: an index field is { field, type }`, 'indexes');
  const path =
    typeof definition.field === 'string' && definition.field.startsWith('$')
      ? parseQueryPath(definition.field)
      : parseFieldPath(definition.field);
  if (!INDEX_TYPES.has(definition.type as string)) {
    throw new ValidationError(
      `index on "${String(definition.field)}" has type ${JSON.stringify(definition.type)}; use string, number, date or boolean`,
      'indexes',
    );
  }
  return { field: definition.field as string, path, type: definition.type as IndexFieldType };
}

function compoundFields(definition: Record<string, unknown>): IndexFieldSpec[] {
  const fields = definition.fields;
  if (!Array.isArray(fields) || fields.length < 2 || fields.length > MAX_INDEX_FIELDS) {
    throw new ValidationError(
      `a compound index takes 2 to ${MAX_INDEX_FIELDS} fields (one field: use { field, type })`,
      'indexes',
    );
  }
  const specs = fields.map((field: unknown) => indexField(field, 'compound index'));
  const seen = new Set<string>();
  for (const spec of specs) {
    if (seen.has(spec.field)) {
      throw new ValidationError(`compound index lists "${spec.field}" twice`, 'indexes');
    }
    seen.add(spec.field);
  }
  return specs;
}

/**
 * Validates repository options (the schema's shape, and the indexes). Index names are derived from
 * the collection and fields (or a compound index's validated `name`), so they are safe identifiers too.
 *
 * ### Examples
 * ```ts
 * import { normalizeIndexes } from '@berth/core/adapter';
 *
 * // An adapter without unique indexes passes `false`: a unique index is then UNSUPPORTED.
 * const indexes = normalizeIndexes('players', { indexes: [{ field: 'stats.level', type: 'number' }] }, false);
 * ```
 */
export function normalizeIndexes(
  collection: string,
  options: RepositoryOptions<never> | undefined,
  supportsUnique: boolean,
): IndexSpec[] {
  if (options === undefined) return [];
  if (!isPlainObject(options)) throw new ValidationError('repository options must be a plain object', '');
  // Checked here, where every adapter reads its options, so a bad schema fails at once, not at the first write.
  const schema: unknown = options.schema;
  if (
    schema !== undefined &&
    typeof (schema as { '~standard'?: { validate?: unknown } })?.['~standard']?.validate !== 'function'
  ) {
    throw new ValidationError('schema must be a Standard Schema (an object with ~standard.validate)', 'schema');
  }
  const indexes = options.indexes ?? [];
  if (!Array.isArray(indexes)) throw new ValidationError('indexes must be an array', 'indexes');
  const seen = new Set<string>();
  const seenFields = new Set<string>();
  return indexes.map((definition: IndexDefinition) => {
    if (!isPlainObject(definition)) {
      throw new ValidationError('an index is { field, type, unique? } or { fields, unique?, name? }', 'indexes');
    }
    const compound = 'fields' in definition;
    if (compound && 'field' in definition) {
      throw new ValidationError('an index takes either field (one field) or fields (a compound index)', 'indexes');
    }
    const fields = compound ? compoundFields(definition) : [indexField(definition, 'index')];
    const first = fields[0] as IndexFieldSpec;
    // `$createdAt` / `$updatedAt` may be indexed alone (type date, never unique) to serve metadata filters and sorts.
    if (fields.some((field) => isMetadataPath(field.path))) {
      if (compound) {
        throw new ValidationError(
          'a compound index cannot hold $createdAt or $updatedAt: index each of them on its own',
          'indexes',
        );
      }
      if (first.type !== 'date' || definition.unique === true) {
        throw new ValidationError(
          `an index on ${first.field} has type "date" and is not unique (two writes may share a millisecond)`,
          'indexes',
        );
      }
    }
    const joined = fields.map((spec) => spec.field).join('+');
    const name = compound ? (definition as { name?: unknown }).name : undefined;
    if (name !== undefined && (typeof name !== 'string' || !INDEX_NAME.test(name))) {
      throw new ValidationError(
        `index name ${JSON.stringify(name)} is not allowed: use a letter followed by letters, digits or "_" (at most 63 characters)`,
        'indexes',
      );
    }
    const key = compound ? `(${name ?? joined})` : first.field;
    if (seen.has(key) || seenFields.has(joined)) {
      throw new ValidationError(`index on "${joined}" is declared twice`, 'indexes');
    }
    seen.add(key);
    seenFields.add(joined);
    const unique = definition.unique === true;
    if (unique && !supportsUnique) {
      throw new UnsupportedError(`this adapter cannot enforce unique indexes (on ${collection}.${joined})`, {
        collection,
      });
    }
    const derived =
      name ?? fields.map((spec) => spec.path.join('_').replaceAll('-', '_').replaceAll('$', '')).join('__');
    return {
      name: `${collection}_${derived}_${unique ? 'uidx' : 'idx'}`,
      field: joined,
      path: first.path,
      type: first.type,
      unique,
      fields,
      compound,
      key,
    };
  });
}

/**
 * The declaration an {@link IndexSpec} was normalized from, as
 * `backend.collections()` reports it: `{ field, type }` or
 * `{ fields: [{ field, type }, …] }` with `name` when one was given, and
 * `unique: true` only when unique.
 *
 * ### Examples
 * ```ts
 * import { indexDefinitionOf, normalizeIndexes } from '@berth/core/adapter';
 *
 * const specs = normalizeIndexes('users', { indexes: [{ field: 'email', type: 'string', unique: true }] }, true);
 * console.log(specs.map(indexDefinitionOf)); // [{ field: 'email', type: 'string', unique: true }]
 * ```
 */
export function indexDefinitionOf(spec: IndexSpec): IndexDefinition {
  const unique = spec.unique ? { unique: true } : {};
  if (!spec.compound) return { field: spec.field, type: spec.type, ...unique };
  // An unnamed compound index is keyed by its joined fields; a name cannot hold the `+` that joins them.
  const name = spec.key === `(${spec.field})` ? {} : { name: spec.key.slice(1, -1) };
  return { fields: spec.fields.map(({ field, type }) => ({ field, type })), ...unique, ...name };
}

import { UnsupportedError, ValidationError } from './errors.js';
import { type FieldPath, parseFieldPath } from './names.js';
import type { IndexType, RepositoryOptions, SingleFieldIndexOn } from './repository.js';
import { isPlainObject } from './values.js';

/** A validated index definition. */
export interface IndexSpec {
  readonly name: string;
  readonly field: string;
  readonly path: FieldPath;
  readonly type: IndexType;
  readonly unique: boolean;
}

const INDEX_TYPES = new Set(['string', 'number', 'date', 'boolean']);

/**
 * Validates repository options (the schema's shape, and the indexes). Index names are derived from
 * the collection and field, so they are safe identifiers too.
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
  // Compound definitions (`fields`) are not told apart yet: this reads every definition as single-field.
  return (indexes as readonly SingleFieldIndexOn[]).map((definition) => {
    if (!isPlainObject(definition)) throw new ValidationError('an index is { field, type, unique? }', 'indexes');
    const path = parseFieldPath(definition.field);
    if (!INDEX_TYPES.has(definition.type)) {
      throw new ValidationError(
        `index on "${definition.field}" has type ${JSON.stringify(definition.type)}; use string, number, date or boolean`,
        'indexes',
      );
    }
    if (seen.has(definition.field)) {
      throw new ValidationError(`index on "${definition.field}" is declared twice`, 'indexes');
    }
    seen.add(definition.field);
    const unique = definition.unique === true;
    if (unique && !supportsUnique) {
      throw new UnsupportedError(`this adapter cannot enforce unique indexes (on ${collection}.${definition.field})`, {
        collection,
      });
    }
    return {
      name: `${collection}_${path.join('_').replaceAll('-', '_')}_${unique ? 'uidx' : 'idx'}`,
      field: definition.field,
      path,
      type: definition.type,
      unique,
    };
  });
}

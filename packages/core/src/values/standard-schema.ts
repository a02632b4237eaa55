import { ValidationError } from '../errors.js';

/**
 * The subset of the Standard Schema v1 interface (standardschema.dev) Berth
 * needs, written out so core has no dependency. zod, valibot and arktype
 * schemas satisfy it.
 *
 * ### Examples
 * ```ts
 * import type { RepositoryBackend, StandardSchemaV1 } from '@berth/core';
 *
 * interface User { id: string; email: string }
 *
 * // A hand-written validator; a zod, valibot or arktype schema fits here as it is.
 * const userSchema: StandardSchemaV1<unknown, User> = {
 *   '~standard': {
 *     version: 1,
 *     vendor: 'example',
 *     validate: (value) => {
 *       const email = (value as { email?: unknown }).email;
 *       return typeof email === 'string' && email.includes('@')
 *         ? { value: value as User }
 *         : { issues: [{ message: 'not an email', path: ['email'] }] };
 *     },
 *   },
 * };
 *
 * function users(backend: RepositoryBackend) {
 *   return backend.repository<User>('users', { schema: userSchema });
 * }
 * ```
 */
export interface StandardSchemaV1<Input = unknown, Output = Input> {
  readonly '~standard': {
    readonly version: 1;
    readonly vendor: string;
    readonly validate: (value: unknown) => StandardSchemaV1Result<Output> | Promise<StandardSchemaV1Result<Output>>;
    readonly types?: { readonly input: Input; readonly output: Output } | undefined;
  };
}

/**
 * What a Standard Schema validator returns: the (possibly transformed) value,
 * or the issues found.
 *
 * ### Examples
 * ```ts
 * import type { StandardSchemaV1Result } from '@berth/core';
 *
 * function positive(value: unknown): StandardSchemaV1Result<number> {
 *   return typeof value === 'number' && value > 0 ? { value } : { issues: [{ message: 'must be a positive number' }] };
 * }
 * ```
 */
export type StandardSchemaV1Result<Output> =
  | { readonly value: Output; readonly issues?: undefined }
  | { readonly issues: readonly StandardSchemaV1Issue[] };

/**
 * One problem a Standard Schema validator found, and where (`path`).
 *
 * ### Examples
 * ```ts
 * import type { StandardSchemaV1Issue } from '@berth/core';
 *
 * const issue: StandardSchemaV1Issue = { message: 'required', path: ['address', { key: 'city' }] };
 * ```
 */
export interface StandardSchemaV1Issue {
  readonly message: string;
  readonly path?: readonly (PropertyKey | { readonly key: PropertyKey })[] | undefined;
}

/**
 * Runs a Standard Schema validator on a document and returns its output, or
 * throws a `ValidationError` with the first issue's path.
 *
 * ### Examples
 * ```ts
 * import type { StandardSchemaV1 } from '@berth/core';
 * import { validateWithSchema } from '@berth/core/adapter';
 *
 * async function checked<T>(schema: StandardSchemaV1<unknown, T>, document: unknown): Promise<T> {
 *   return validateWithSchema(schema, document, 'users'); // VALIDATION with the first issue's path
 * }
 * ```
 */
export async function validateWithSchema<T>(
  schema: StandardSchemaV1<unknown, T>,
  document: unknown,
  collection: string,
): Promise<T> {
  const result = await schema['~standard'].validate(document);
  if (result.issues === undefined) return result.value;
  const issue = result.issues[0];
  const path = (issue?.path ?? [])
    .map((segment) => String(typeof segment === 'object' && segment !== null ? segment.key : segment))
    .join('.');
  const count = result.issues.length;
  throw new ValidationError(
    `document rejected by the ${collection} schema: ${path ? `${path}: ` : ''}${issue?.message ?? 'invalid'}${count > 1 ? ` (and ${count - 1} more issues)` : ''}`,
    path,
    { collection },
  );
}

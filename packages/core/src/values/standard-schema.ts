import { ValidationError } from '../errors.js';

/**
 * The subset of the Standard Schema v1 interface (standardschema.dev) Berth
 * needs, written out so core has no dependency. zod, valibot and arktype
 * schemas satisfy it.
 */
export interface StandardSchemaV1<Input = unknown, Output = Input> {
  readonly '~standard': {
    readonly version: 1;
    readonly vendor: string;
    readonly validate: (value: unknown) => StandardSchemaV1Result<Output> | Promise<StandardSchemaV1Result<Output>>;
    readonly types?: { readonly input: Input; readonly output: Output } | undefined;
  };
}

export type StandardSchemaV1Result<Output> =
  | { readonly value: Output; readonly issues?: undefined }
  | { readonly issues: readonly StandardSchemaV1Issue[] };

export interface StandardSchemaV1Issue {
  readonly message: string;
  readonly path?: readonly (PropertyKey | { readonly key: PropertyKey })[] | undefined;
}

/**
 * Runs a Standard Schema validator on a document and returns its output, or
 * throws a `ValidationError` with the first issue's path.
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

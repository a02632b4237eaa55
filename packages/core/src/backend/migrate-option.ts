import { SchemaError, ValidationError } from '../errors.js';

/**
 * Reads `?migrate=` of a backend URL: `true` (the default, also when absent)
 * migrates on `connect()`, `false` does not; anything else is a VALIDATION
 * error. Every adapter's `createBackendFromUrl` reads it the same way.
 *
 * ### Examples
 * ```ts
 * import { migrateUrlParameter } from '@berth/core/adapter';
 *
 * const url = 'sqlite:./app.db?migrate=false';
 * const migrate = migrateUrlParameter(new URLSearchParams(url.split('?')[1])); // false
 * ```
 */
export function migrateUrlParameter(parameters: URLSearchParams): boolean {
  const value = parameters.get('migrate');
  if (value === null || value === 'true') return true;
  if (value === 'false') return false;
  // The URL itself is not quoted: it may carry a password.
  throw new ValidationError(`the URL's migrate parameter is ${JSON.stringify(value)}; it must be true or false`, 'url');
}

/**
 * Checks the `migrate` option of a backend's config: `undefined` or `true`
 * migrates on `connect()`, `false` does not; anything else is a VALIDATION
 * error (path `migrate`).
 *
 * ### Examples
 * ```ts
 * import { checkMigrateOption } from '@berth/core/adapter';
 *
 * checkMigrateOption(undefined); // true
 * checkMigrateOption(false); // false
 * ```
 */
export function checkMigrateOption(value: unknown): boolean {
  if (value === undefined) return true;
  if (typeof value !== 'boolean') throw new ValidationError('migrate must be true or false', 'migrate');
  return value;
}

/**
 * The `SCHEMA` error of `connect()` on a backend configured with
 * `migrate: false` whose engine still has migrations to apply: it says how
 * many, which, and what to run. `location` names the database (no
 * credentials). The error carries `pendingMigrations`, and `schemaMissing`
 * when `noneApplied` says no migration was ever applied (a new database).
 *
 * ### Examples
 * ```ts
 * import { pendingMigrationsError } from '@berth/core/adapter';
 *
 * const error = pendingMigrationsError('sqlite:./app.db', ['3 health probe', '4 job progress']);
 * console.log(error.code, error.message, error.pendingMigrations);
 * ```
 */
export function pendingMigrationsError(
  location: string,
  pending: readonly string[],
  { noneApplied = false }: { readonly noneApplied?: boolean } = {},
): SchemaError {
  const count = pending.length === 1 ? '1 schema migration is' : `${pending.length} schema migrations are`;
  return new SchemaError(
    `${location}: ${count} pending (${pending.join(', ')}) and this backend was opened with migrate: false; ` +
      'run `berth migrate <url>` (or backend.migrate()) first',
    { pendingMigrations: [...pending], schemaMissing: noneApplied },
  );
}

/**
 * The `SCHEMA` error of a database migrated by a newer release of Berth than
 * this one (its schema version is past the last one this release knows).
 *
 * ### Examples
 * ```ts
 * import { newerSchemaError } from '@berth/core/adapter';
 *
 * const error = newerSchemaError('postgres://db/app', 9, 7);
 * console.log(error.message); // says to upgrade Berth
 * ```
 */
export function newerSchemaError(location: string, found: number, known: number): SchemaError {
  return new SchemaError(
    `${location}: the schema is at version ${found}, newer than this release of Berth knows (${known}); upgrade Berth`,
  );
}

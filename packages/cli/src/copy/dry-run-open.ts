import { existsSync } from 'node:fs';
import { type Backend, isBerthError } from '@berth/core';
import { urlScheme } from '@berth/core/adapter';
import { migrateCommand, withMigrateOff } from '../admin/admin-backend.js';
import { CliError, EXIT } from '../cli-error.js';
import { openBackend } from '../open-backend.js';
import { redactUrl } from './checkpoint.js';
import type { TargetSchema } from './copy-types.js';

// A dry run writes nothing, so it opens both backends with migrate=false:
// connect() would otherwise create or migrate the schema (PostgreSQL,
// SQLite), and opening a SQLite file that does not exist creates it.

/**
 * Opens the source of a dry run without migrating it. An unmigrated schema
 * cannot be read safely, and a dry run must not migrate it: pending
 * migrations are exit 5 saying to run `berth migrate`.
 */
export async function openDryRunSource(url: string): Promise<Backend> {
  refuseMissingSource(url);
  try {
    return await openBackend(withMigrateOff(url));
  } catch (error) {
    if (!isBerthError(error, 'SCHEMA') || error.pendingMigrations === undefined) throw error;
    throw new CliError(
      error.message,
      EXIT.schema,
      `a dry run does not migrate: run \`${migrateCommand(url, '<from-url>')}\` first (a copy without --dry-run migrates both sides)`,
    );
  }
}

/**
 * Opens the target of a dry run without migrating (or creating) it. When its
 * schema is not set up yet (a SQLite file that does not exist, pending
 * migrations), the backend is returned unconnected with what the real copy
 * would set up: the copy then reports from the source alone.
 */
export async function openDryRunTarget(url: string): Promise<{ backend: Backend; schema?: TargetSchema }> {
  const backend = await openBackend(withMigrateOff(url), { connect: false });
  if (isMissingSqliteFile(url)) return { backend, schema: { exists: false, pendingMigrations: [], empty: true } };
  try {
    await backend.connect();
    return { backend };
  } catch (error) {
    if (isBerthError(error, 'SCHEMA') && error.pendingMigrations !== undefined) {
      return {
        backend,
        schema: { exists: true, pendingMigrations: error.pendingMigrations, empty: error.schemaMissing },
      };
    }
    await backend.close();
    throw error;
  }
}

/**
 * A copy (dry or not) from a SQLite file that does not exist is a mistyped
 * path: opening it would create an empty database and copy nothing.
 */
export function refuseMissingSource(url: string): void {
  if (isMissingSqliteFile(url)) {
    throw new CliError(`the source ${redactUrl(url)} does not exist`, EXIT.usage, 'check the path of <from-url>');
  }
}

/** A `sqlite:` URL naming a file that does not exist (opening it would create it). */
function isMissingSqliteFile(url: string): boolean {
  if (urlScheme(url) !== 'sqlite') return false;
  // Read as the SQLite adapter reads it: the path up to `?`, `sqlite://` allowed.
  const [rawPath = ''] = url.slice('sqlite:'.length).split('?', 1);
  let filename: string;
  try {
    filename = decodeURIComponent(rawPath.startsWith('//') ? rawPath.slice(2) : rawPath);
  } catch {
    return false; // malformed: the adapter says so when it is opened
  }
  return filename !== '' && filename !== ':memory:' && !existsSync(filename);
}

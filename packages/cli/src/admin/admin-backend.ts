import type { Backend } from '@berth/core';
import { isBerthError } from '@berth/core';
import { CliError, EXIT } from '../cli-error.js';
import { carriesSecrets } from '../copy/checkpoint.js';
import { openBackend } from '../open-backend.js';

// Only `berth migrate` changes a schema: every other admin command opens the
// backend with migrate=false, so looking at a database (or at its queues)
// never migrates it behind the operator's back.

/** `url` with its `migrate` query option set to `false` (replacing any value it had). */
export function withMigrateOff(url: string): string {
  const hashAt = url.indexOf('#');
  const fragment = hashAt === -1 ? '' : url.slice(hashAt);
  const withoutFragment = hashAt === -1 ? url : url.slice(0, hashAt);
  const queryAt = withoutFragment.indexOf('?');
  const base = queryAt === -1 ? withoutFragment : withoutFragment.slice(0, queryAt);
  const kept =
    queryAt === -1
      ? []
      : withoutFragment
          .slice(queryAt + 1)
          .split('&')
          .filter((part) => part !== '' && part.split('=')[0] !== 'migrate');
  return `${base}?${[...kept, 'migrate=false'].join('&')}${fragment}`;
}

/**
 * The `berth migrate` command for `url`, to print in a hint: the URL quoted
 * when it carries no credentials, else `placeholder` (the operator adds the
 * URL back; a password never reaches the terminal or a log).
 */
export function migrateCommand(url: string, placeholder = '<url>'): string {
  return carriesSecrets(url) ? `berth migrate ${placeholder}` : `berth migrate '${url}'`;
}

/** The error for a database whose schema is behind this release: exit 5 with the command to run (a newer schema's message already says to upgrade). */
function schemaProblem(error: unknown, url: string): unknown {
  if (!isBerthError(error, 'SCHEMA')) return error;
  const pending = error.message.includes('berth migrate');
  return new CliError(error.message, EXIT.schema, pending ? `run: ${migrateCommand(url)}` : undefined);
}

/** Opens `url` without migrating it; pending migrations are exit 5 with a hint to run `berth migrate`. */
export async function openForAdmin(url: string): Promise<Backend> {
  try {
    return await openBackend(withMigrateOff(url));
  } catch (error) {
    throw schemaProblem(error, url);
  }
}

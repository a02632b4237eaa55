import { createHash } from 'node:crypto';
import { isBerthError } from '@berth/core';
import type { PgBackendContext } from '../pg-context.js';
import { toBerthError } from '../pg-errors.js';
import type { PgQueryable } from '../pg-session.js';

/**
 * Runs `work`. A connection error from a backend closed meanwhile (its pool
 * ended under the statement) becomes the backend's own non-retryable
 * CONNECTION error, so a worker reports it once and stops instead of
 * polling a closed backend.
 */
export async function whileOpen<R>(backend: PgBackendContext, work: () => Promise<R>): Promise<R> {
  try {
    return await work();
  } catch (error) {
    if (isBerthError(error, 'CONNECTION') && error.retryable) await backend.ready();
    throw error;
  }
}

const names = new Map<string, string>();

/**
 * The name a statement is prepared under on each pooled connection: the
 * queue's statements are few and run constantly, and a big CTE costs more to
 * plan than to run. Named by a hash of the text, so every text is prepared once.
 */
function statementName(text: string): string {
  let name = names.get(text);
  if (name === undefined) {
    name = `berth_${createHash('sha256').update(text).digest('hex').slice(0, 24)}`;
    if (names.size > 1_000) names.clear();
    names.set(text, name);
  }
  return name;
}

/** The backend's pool once it is ready (migrated): statements prepared by name, run {@link whileOpen}. */
export async function readyPool(backend: PgBackendContext): Promise<PgQueryable> {
  await backend.ready();
  return {
    query: <R extends object>(text: string, values?: readonly unknown[]) =>
      whileOpen(backend, async () => {
        try {
          const name = statementName(text);
          const result = await backend.session.pool.query<R>({ name, text, values: values as unknown[] });
          return result.rows;
        } catch (error) {
          throw toBerthError(error);
        }
      }),
  };
}

import { isBerthError } from '@berth/core';
import type { PgBackendContext } from '../pg-context.js';
import type { PgQueryable } from '../pg-session.js';
import { queryPrepared } from '../pg-statements.js';

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

/**
 * The backend's pool once it is ready (migrated): statements prepared by
 * name (the queue's statements are few and run constantly, and a big CTE
 * costs more to plan than to run), run {@link whileOpen}.
 */
export async function readyPool(backend: PgBackendContext): Promise<PgQueryable> {
  await backend.ready();
  return {
    query: <R extends object>(text: string, values?: readonly unknown[]) =>
      whileOpen(backend, () => queryPrepared<R>(backend.session, text, values ?? [], {})),
  };
}

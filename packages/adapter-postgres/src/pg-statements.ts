import { createHash } from 'node:crypto';
import type { PgErrorContext } from './pg-errors.js';
import type { PgClient, PgQueryable, PgSession } from './pg-session.js';

const names = new Map<string, string>();

/**
 * The name a statement is prepared under on each pooled connection: a hash
 * of its text, so a text is prepared once per connection and two texts never
 * share a name (pg refuses a name reused for another text), even with an
 * application's own named statements on the same pool.
 */
export function statementName(text: string): string {
  let name = names.get(text);
  if (name === undefined) {
    name = `berth_${createHash('sha256').update(text).digest('hex').slice(0, 24)}`;
    if (names.size > 1_000) names.clear();
    names.set(text, name);
  }
  return name;
}

/**
 * Runs one statement on the pool, prepared by name: PostgreSQL parses and
 * plans it once per connection instead of on every call (for a get by id,
 * planning costs about as much as running). Only for texts of a fixed set
 * (one per collection and kind of statement): each name stays prepared on
 * every connection that ran it, so texts built from filters, which vary
 * without bound, go through `session.query`.
 */
export function queryPrepared<R extends object>(
  session: PgSession,
  text: string,
  values: readonly unknown[],
  context: PgErrorContext,
): Promise<R[]> {
  return session.run<R>({ name: statementName(text), text, values }, context);
}

/** Statements on `client` (a transaction's), each prepared by name as {@link queryPrepared} does on the pool. */
export function preparedOn(client: PgClient): PgQueryable {
  return {
    query: <R extends object>(text: string, values?: readonly unknown[]) =>
      client.run<R>({ name: statementName(text), text, values }),
  };
}

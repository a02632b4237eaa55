import type pg from 'pg';
import { leavesSessionUsable, type PgErrorContext, toBerthError } from './pg-errors.js';

/**
 * Anything that runs one statement: the pool, or the client of an open transaction.
 *
 * ### Examples
 * ```ts
 * import type { PgQueryable } from '@berth/adapter-postgres';
 *
 * // Works on the session (the pool) and on a transaction's client alike.
 * async function tableExists(db: PgQueryable, schema: string, table: string): Promise<boolean> {
 *   const rows = await db.query('SELECT 1 FROM information_schema.tables WHERE table_schema = $1 AND table_name = $2', [
 *     schema,
 *     table,
 *   ]);
 *   return rows.length > 0;
 * }
 * ```
 */
export interface PgQueryable {
  query<R extends object = Record<string, unknown>>(text: string, values?: readonly unknown[]): Promise<R[]>;
}

/** One statement to run: its text, bound values, and the name it is prepared under on each connection (if any). */
export interface PgStatement {
  readonly text: string;
  readonly values?: readonly unknown[] | undefined;
  readonly name?: string | undefined;
}

/** A client held out of the pool (a transaction's): statements run on it plain, or prepared by name. */
export interface PgClient extends PgQueryable {
  readonly client: pg.PoolClient;
  run<R extends object>(statement: PgStatement): Promise<R[]>;
}

/**
 * Transaction isolation levels PostgreSQL offers.
 *
 * ### Examples
 * ```ts
 * import type { PgIsolation, PgSession } from '@berth/adapter-postgres';
 *
 * declare const session: PgSession;
 * const isolation: PgIsolation = 'serializable';
 * await session.transaction(async (client) => client.query('UPDATE app.counters SET n = n + 1'), { isolation });
 * ```
 */
export type PgIsolation = 'read committed' | 'repeatable read' | 'serializable';

/**
 * How a {@link PgSession} runs a transaction.
 *
 * ### Examples
 * ```ts
 * import type { PgSession, PgTransactionOptions } from '@berth/adapter-postgres';
 *
 * declare const session: PgSession;
 * const options: PgTransactionOptions = { isolation: 'repeatable read', context: { collection: 'accounts' } };
 * const rows = await session.transaction((client) => client.query('SELECT id, balance FROM app.accounts'), options);
 * ```
 */
export interface PgTransactionOptions {
  readonly isolation?: PgIsolation | undefined;
  /** Where errors are reported, for the Berth error. */
  readonly context?: PgErrorContext | undefined;
}

/**
 * A client held out of the pool, and whether a statement on it failed in a
 * way that leaves its connection unusable (it is destroyed on release).
 */
interface HeldClient {
  readonly client: pg.PoolClient;
  unusable: boolean;
}

/** Runs statements on one pooled client, with pg's errors mapped to Berth errors. */
class ClientQueryable implements PgClient {
  constructor(
    private readonly held: HeldClient,
    private readonly context: PgErrorContext,
  ) {}

  get client(): pg.PoolClient {
    return this.held.client;
  }

  query<R extends object>(text: string, values?: readonly unknown[]): Promise<R[]> {
    return this.run<R>({ text, values });
  }

  async run<R extends object>({ text, values, name }: PgStatement): Promise<R[]> {
    try {
      const result = await this.held.client.query<R>({ text, values: values as unknown[] | undefined, name });
      return result.rows;
    } catch (error) {
      if (!leavesSessionUsable(error)) this.held.unusable = true;
      throw toBerthError(error, this.context);
    }
  }
}

/**
 * The pool Berth runs its statements on. It maps pg's errors to Berth errors
 * everywhere, runs transactions on one client, and ends the pool on close
 * only when it created it (a pool the application passed in stays open).
 *
 * ### Examples
 * ```ts
 * import { PgSession, type PostgresBackendConfig } from '@berth/adapter-postgres';
 *
 * declare const pool: NonNullable<PostgresBackendConfig['pool']>; // your application's pg Pool
 * const session = new PgSession(pool, false); // false: the session does not end the pool on close
 * const rows = await session.query<{ now: Date }>('SELECT now() AS now');
 * await session.close();
 * ```
 */
export class PgSession implements PgQueryable {
  private ended = false;

  constructor(
    readonly pool: pg.Pool,
    private readonly ownsPool: boolean,
  ) {
    // An idle client that loses its connection (the server restarted) makes
    // the pool emit 'error'; without a listener Node would crash the process.
    // The next query gets a fresh client; the failure shows there, typed.
    if (ownsPool) pool.on('error', () => {});
  }

  query<R extends object = Record<string, unknown>>(
    text: string,
    values?: readonly unknown[],
    context: PgErrorContext = {},
  ): Promise<R[]> {
    return this.run<R>({ text, values }, context);
  }

  /**
   * Runs one statement (prepared by name when it has one) on a client of the
   * pool. Not through `pool.query`: that releases its client with the error
   * of any failed statement, and the pool then destroys the connection, so
   * every refused statement (a unique violation, a statement timeout, a
   * serialization failure) would cost the next one a new connection and the
   * statements prepared on it. Here a statement the server refused returns
   * its client to the pool; a lost connection, or a failure the server did
   * not report (a client-side timeout), destroys it.
   */
  run<R extends object = Record<string, unknown>>(statement: PgStatement, context: PgErrorContext = {}): Promise<R[]> {
    return this.hold((held) => new ClientQueryable(held, context).run<R>(statement), context);
  }

  /** Runs `work` on one client of the pool, outside any transaction. */
  withClient<R>(work: (client: PgClient) => Promise<R>): Promise<R> {
    return this.hold((held) => work(new ClientQueryable(held, {})));
  }

  /**
   * Runs `work` in a transaction on one client: COMMIT when it resolves,
   * ROLLBACK when it throws. A client whose connection failed is destroyed,
   * not returned to the pool.
   */
  transaction<R>(work: (client: PgClient) => Promise<R>, options: PgTransactionOptions = {}): Promise<R> {
    const context = options.context ?? {};
    return this.hold(async (held) => {
      const client = new ClientQueryable(held, context);
      await client.query(
        options.isolation === undefined ? 'BEGIN' : `BEGIN ISOLATION LEVEL ${options.isolation.toUpperCase()}`,
      );
      let result: R;
      try {
        result = await work(client);
      } catch (error) {
        await client.query('ROLLBACK').catch(() => undefined);
        throw error;
      }
      await client.query('COMMIT');
      return result;
    }, context);
  }

  /**
   * Runs `work` on one client held out of the pool, then releases it: back
   * to the pool, or destroyed when its connection was lost, a statement on
   * it failed in a way that leaves it unusable, or `work` failed with a
   * CONNECTION error (a client that may still hold a lock, say).
   */
  private async hold<R>(work: (held: HeldClient) => Promise<R>, context: PgErrorContext = {}): Promise<R> {
    let client: pg.PoolClient;
    try {
      client = await this.pool.connect();
    } catch (error) {
      throw toBerthError(error, context);
    }
    // A client out of the pool has no 'error' listener of the pool's: if the
    // server goes away while it is held (between two statements of a
    // transaction, say), pg emits 'error' on it, and an 'error' nobody
    // listens to crashes the process. The failure shows (typed) in the
    // client's next statement; the client is destroyed, not pooled again.
    let lost: Error | undefined;
    const onError = (error: Error): void => {
      lost = error;
    };
    client.on('error', onError);
    const held: HeldClient = { client, unusable: false };
    let broken: unknown;
    try {
      return await work(held);
    } catch (error) {
      broken = error;
      throw error;
    } finally {
      client.off('error', onError);
      client.release(lost ?? (held.unusable || isConnectionFailure(broken)));
    }
  }

  /** Ends the pool when Berth created it; waits for its clients to be released. */
  async close(): Promise<void> {
    if (this.ended) return;
    this.ended = true;
    if (this.ownsPool) await this.pool.end();
  }
}

function isConnectionFailure(error: unknown): boolean {
  return (error as { code?: unknown } | undefined)?.code === 'CONNECTION';
}

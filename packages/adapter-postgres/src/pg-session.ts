import type pg from 'pg';
import { type PgErrorContext, toBerthError } from './pg-errors.js';

/** Anything that runs one statement: the pool, or the client of an open transaction. */
export interface PgQueryable {
  query<R extends object = Record<string, unknown>>(text: string, values?: readonly unknown[]): Promise<R[]>;
}

/** Transaction isolation levels PostgreSQL offers. */
export type PgIsolation = 'read committed' | 'repeatable read' | 'serializable';

/** How a {@link PgSession} runs a transaction. */
export interface PgTransactionOptions {
  readonly isolation?: PgIsolation | undefined;
  /** Where errors are reported, for the Berth error. */
  readonly context?: PgErrorContext | undefined;
}

/** Runs statements on one pooled client, with pg's errors mapped to Berth errors. */
class ClientQueryable implements PgQueryable {
  constructor(
    readonly client: pg.PoolClient,
    private readonly context: PgErrorContext,
  ) {}

  async query<R extends object>(text: string, values?: readonly unknown[]): Promise<R[]> {
    try {
      const result = await this.client.query<R>(text, values as unknown[] | undefined);
      return result.rows;
    } catch (error) {
      throw toBerthError(error, this.context);
    }
  }
}

/**
 * The pool Berth runs its statements on. It maps pg's errors to Berth errors
 * everywhere, runs transactions on one client, and ends the pool on close
 * only when it created it (a pool the application passed in stays open).
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

  async query<R extends object = Record<string, unknown>>(
    text: string,
    values?: readonly unknown[],
    context: PgErrorContext = {},
  ): Promise<R[]> {
    try {
      const result = await this.pool.query<R>(text, values as unknown[] | undefined);
      return result.rows;
    } catch (error) {
      throw toBerthError(error, context);
    }
  }

  /** Runs `work` on one client of the pool, outside any transaction. */
  async withClient<R>(work: (client: PgQueryable & { readonly client: pg.PoolClient }) => Promise<R>): Promise<R> {
    let client: pg.PoolClient;
    try {
      client = await this.pool.connect();
    } catch (error) {
      throw toBerthError(error);
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
    let broken: unknown;
    try {
      return await work(new ClientQueryable(client, {}));
    } catch (error) {
      broken = error;
      throw error;
    } finally {
      client.off('error', onError);
      client.release(lost ?? (isConnectionFailure(broken) ? (broken as Error) : undefined));
    }
  }

  /**
   * Runs `work` in a transaction on one client: COMMIT when it resolves,
   * ROLLBACK when it throws. A client whose connection failed is destroyed,
   * not returned to the pool.
   */
  async transaction<R>(
    work: (client: PgQueryable & { readonly client: pg.PoolClient }) => Promise<R>,
    options: PgTransactionOptions = {},
  ): Promise<R> {
    const context = options.context ?? {};
    return this.withClient(async (outer) => {
      const client = new ClientQueryable(outer.client, context);
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
    });
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

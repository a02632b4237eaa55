import { AsyncLocalStorage } from 'node:async_hooks';
import {
  type AnyDocument,
  ConnectionError,
  type Document,
  type DocumentValue,
  type Repository,
  type RepositoryOptions,
  type TransactionalQueue,
  TransactionError,
  type TransactionOptions,
  type TransactionScope,
} from '@berth/core';
import { checkCollectionName, runTransaction, Turns, throwIfAborted } from '@berth/core/adapter';
import type { PgCollections } from './pg-collections.js';
import type { PgBackendContext } from './pg-context.js';
import { PgRepository, type PgRepositoryTransaction } from './pg-repository.js';
import type { PgQueryable } from './pg-session.js';
import type { PgQueues } from './queue/pg-queues.js';

/** The transactions whose work the current async call chain runs in. */
const openTransactions = new AsyncLocalStorage<{ readonly owner: PgTransactions; active: boolean }>();

/**
 * The transactions of one backend. Each runs on one client in a SERIALIZABLE
 * transaction, and transactions of one schema run one at a time: in this
 * process in turn, across processes under a session-level advisory lock
 * taken before BEGIN (so the snapshot is taken once the lock is held). So
 * transactions never conflict with each other, as on SQLite; PostgreSQL's
 * own serializable checks, which work on pages and would refuse two
 * transactions inserting different ids into one small table, never see two
 * at once. Single operations outside transactions do not take the lock: a
 * transaction that read a document and then writes it after one of them
 * changed it fails with a retryable CONFLICT (PostgreSQL's serialization
 * failure), never loses that write.
 *
 * Why one at a time (measured, not assumed): with the turns and the lock
 * removed, plain SERIALIZABLE with its failures as retryable CONFLICTs
 * passes every repository conformance case but one, "concurrent
 * transactions inserting different ids into one collection all commit":
 * one of the four commits, the other three fail with 40001. A transaction
 * that finds an id missing holds a predicate (SIREAD) lock on the index
 * page where that id would be (on the whole table after a sequential
 * scan); another transaction's insert of a different id into that page
 * counts as a read-write conflict, and the four form cycles. The port
 * promises those transactions all commit without retries (as SQLite and
 * memory do), and writes that serialization would refuse cannot be told
 * apart from real conflicts, so transactions of a schema take turns.
 * The turns cost throughput: 8 concurrent read-then-update transactions on
 * different documents commit about 3× faster unserialized (see README).
 */
export class PgTransactions {
  private readonly turns = new Turns();

  constructor(
    private readonly context: PgBackendContext,
    private readonly collections: PgCollections,
  ) {}

  run<R>(work: (tx: TransactionScope) => Promise<R>, queues: PgQueues, options?: TransactionOptions): Promise<R> {
    return runTransaction(work, options, async () => {
      // Its turn would come after the open transaction, which waits for it.
      const open = openTransactions.getStore();
      if (open?.owner === this && open.active) {
        throw new TransactionError('transactions cannot be nested: use the repositories of the open transaction');
      }
      await this.context.ready();
      return this.turns.run(async () => {
        // Checked again in the turn: the backend may have closed, or the caller given up, while it waited.
        await this.context.ready();
        throwIfAborted(options?.signal, 'transaction');
        return this.attempt(work, queues, options);
      });
    });
  }

  private attempt<R>(
    work: (tx: TransactionScope) => Promise<R>,
    queues: PgQueues,
    options: TransactionOptions | undefined,
  ): Promise<R> {
    const lock = [
      'SELECT pg_advisory_lock(hashtextextended($1, 0))',
      [`berth.transaction.${this.context.schema}`],
    ] as const;
    return this.context.session.withClient(async (client) => {
      await client.query(lock[0], lock[1]);
      try {
        return await this.transaction(client, work, queues, options);
      } finally {
        try {
          await client.query('SELECT pg_advisory_unlock(hashtextextended($1, 0))', lock[1]);
        } catch (error) {
          // A client still holding the lock must never go back to the pool: a CONNECTION error destroys it.
          // biome-ignore lint/correctness/noUnsafeFinally: the lock's release failing outranks the transaction's own outcome
          throw new ConnectionError('could not release the transaction lock; the connection is closed', {
            cause: error,
          });
        }
      }
    });
  }

  private async transaction<R>(
    client: PgQueryable,
    work: (tx: TransactionScope) => Promise<R>,
    queues: PgQueues,
    options: TransactionOptions | undefined,
  ): Promise<R> {
    // Open while active; work the callbacks start that outlives the transaction may start transactions of its own.
    const marker = { owner: this as PgTransactions, active: true };
    const effects: (() => void)[] = [];
    const operations = new Turns();
    const transaction: PgRepositoryTransaction = {
      client,
      assertOpen: () => {
        if (!marker.active)
          throw new TransactionError('this transaction has ended; use repositories and queues of a new transaction');
      },
      afterCommit: (effect) => {
        effects.push(effect);
      },
      exclusive: (operation) => operations.run(operation),
      known: new Map(),
    };
    const scope: TransactionScope = {
      repository: <T extends Document = AnyDocument>(
        name: string,
        repositoryOptions?: RepositoryOptions<T>,
      ): Repository<T> => {
        checkCollectionName(name);
        return new PgRepository<T>(name, repositoryOptions, {
          backend: this.context,
          collections: this.collections,
          transaction,
        });
      },
      queue: <T = DocumentValue>(name: string): TransactionalQueue<T> => {
        checkCollectionName(name, 'queue');
        return queues.transactional<T>(name, transaction);
      },
    };
    await client.query('BEGIN ISOLATION LEVEL SERIALIZABLE');
    let result: R;
    try {
      result = await openTransactions.run(marker, () => work(scope));
      throwIfAborted(options?.signal, 'transaction');
      // Operations the work started without awaiting them finish first.
      await operations.run(async () => undefined);
      marker.active = false;
      await client.query('COMMIT');
    } catch (error) {
      marker.active = false;
      // Tables made on first use inside the transaction are rolled back with it (and were never adopted).
      await client.query('ROLLBACK').catch(() => undefined);
      throw error;
    }
    this.collections.adopt(transaction.known);
    for (const effect of effects) effect();
    return result;
  }
}

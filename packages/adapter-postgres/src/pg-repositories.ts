import {
  type AnyDocument,
  type Capabilities,
  type Document,
  type Repository,
  type RepositoryOptions,
  type TransactionOptions,
  type TransactionScope,
  UnsupportedError,
} from '@berth/core';
import type { PgBackendContext, PgTransactionContext } from './pg-context.js';
import type { PgQueues } from './queue/pg-queues.js';

/** What PostgreSQL's repositories offer. */
export const REPOSITORY_CAPABILITIES: Capabilities['repository'] = {
  transactions: 'none',
  uniqueIndexes: false,
  durable: true,
};

/** The repositories of one backend, and its transactions. */
export class PgRepositories {
  constructor(readonly context: PgBackendContext) {}

  repository<T extends Document = AnyDocument>(
    name: string,
    _options?: RepositoryOptions<T>,
    _transaction?: PgTransactionContext,
  ): Repository<T> {
    throw new UnsupportedError(`PostgreSQL repositories are not built yet (collection ${JSON.stringify(name)})`);
  }

  transaction<R>(
    _work: (tx: TransactionScope) => Promise<R>,
    _queues: PgQueues,
    _options?: TransactionOptions,
  ): Promise<R> {
    throw new UnsupportedError('PostgreSQL transactions are not built yet');
  }
}

import type {
  AnyDocument,
  Capabilities,
  CollectionInfo,
  Document,
  Repository,
  RepositoryOptions,
  TransactionOptions,
  TransactionScope,
} from '@berth/core';
import { PgCollections } from './pg-collections.js';
import type { PgBackendContext } from './pg-context.js';
import { PgRepository } from './pg-repository.js';
import { PgTransactions } from './pg-transaction.js';
import type { PgQueues } from './queue/pg-queues.js';

/** What PostgreSQL's repositories offer. */
export const REPOSITORY_CAPABILITIES: Capabilities['repository'] = {
  transactions: 'multi-collection',
  uniqueIndexes: true,
  durable: true,
};

/** The repositories of one backend, and its transactions. */
export class PgRepositories {
  private readonly collections: PgCollections;
  private readonly transactions: PgTransactions;

  constructor(readonly context: PgBackendContext) {
    this.collections = new PgCollections(context);
    this.transactions = new PgTransactions(context, this.collections);
  }

  repository<T extends Document = AnyDocument>(name: string, options?: RepositoryOptions<T>): Repository<T> {
    return new PgRepository<T>(name, options, { backend: this.context, collections: this.collections });
  }

  /** The schema's collections, as `backend.collections()` lists them. */
  list(): Promise<CollectionInfo[]> {
    return this.collections.list();
  }

  transaction<R>(
    work: (tx: TransactionScope) => Promise<R>,
    queues: PgQueues,
    options?: TransactionOptions,
  ): Promise<R> {
    return this.transactions.run(work, queues, options);
  }
}

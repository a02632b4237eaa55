import {
  ConflictError,
  type Document,
  isBerthError,
  type Repository,
  type RepositoryOptions,
  type TransactionOptions,
  type TransactionScope,
} from '@berth/core';
import { applyUpdate, matchesFilter, parseUpdate } from '@berth/core/adapter';
import { type Breakage, updateMethod } from './broken-backend.js';

// Writes that need no read-modify-write, done wrong: the conditional update,
// the operator upsert and transaction retries as a careless adapter would
// build them from the other operations.

const pause = () => new Promise((resolve) => setTimeout(resolve, 1));

/** A transaction scope whose repositories carry the breakage. */
function wrapScope(
  tx: TransactionScope,
  wrap: (repository: Repository<Document>) => Repository<Document>,
): TransactionScope {
  return {
    repository: <T extends Document>(name: string, options?: RepositoryOptions<T>) =>
      wrap(
        tx.repository<Document>(name, options as RepositoryOptions<Document> | undefined),
      ) as unknown as Repository<T>,
    queue: (name) => tx.queue(name),
  };
}

export const brokenWrites: readonly {
  readonly name: string;
  readonly group: string;
  readonly case?: string;
  readonly breakage: Breakage;
}[] = [
  {
    name: 'ignores where in update',
    group: 'conditional-update',
    case: 'resolves to null and writes nothing',
    breakage: {
      repository: (inner) => ({
        update: updateMethod((id, update, options) => {
          const { where: _ignored, ...rest } = options ?? {};
          return inner.update(id, update, rest);
        }),
      }),
    },
  },
  {
    name: 'checks where, then updates in a second step (not atomic)',
    group: 'conditional-update',
    case: 'exactly ten apply',
    breakage: {
      repository: (inner) => ({
        update: updateMethod(async (id, update, options) => {
          const { where, ...rest } = options ?? {};
          if (where === undefined) return inner.update(id, update, rest);
          const current = await inner.get(id);
          await pause();
          if (current !== null && !matchesFilter(current, where)) return null;
          return inner.update(id, update, rest);
        }),
      }),
    },
  },
  {
    name: 'upserts by reading, then inserting or replacing (loses increments)',
    group: 'operator-upsert',
    case: 'twenty concurrent $inc upserts',
    breakage: {
      repository: (inner) => ({
        update: updateMethod(async (id, update, options) => {
          const { upsert, ...rest } = options ?? {};
          if (upsert === undefined) return inner.update(id, update, rest);
          const current = await inner.get(id);
          await pause();
          if (current === null) return inner.upsert(applyUpdate({ ...upsert, id }, parseUpdate(update, id)));
          return inner.upsert(applyUpdate(current, parseUpdate(update, id)));
        }),
      }),
    },
  },
  {
    name: 'creates the upserted document from the id alone, without the upsert fields',
    group: 'operator-upsert',
    case: 'a missing document is created from the upsert fields',
    breakage: {
      repository: (inner) => ({
        update: updateMethod(async (id, update, options) => {
          const { upsert, ...rest } = options ?? {};
          if (upsert === undefined) return inner.update(id, update, rest);
          return inner.update(id, update, { ...rest, upsert: {} as never });
        }),
      }),
    },
  },
  {
    name: 'ignores the retries option of transaction',
    group: 'transaction-retries',
    case: 'a retryable CONFLICT from the work runs it again',
    breakage: {
      transaction: (inner, work, wrap) => inner.transaction((tx) => work(wrapScope(tx, wrap))),
    },
  },
  {
    name: 'retries every error of a transaction, not only retryable CONFLICTs',
    group: 'transaction-retries',
    case: 'errors that are not retryable CONFLICTs are thrown at once',
    breakage: {
      transaction: async (inner, work, wrap, options) => {
        const retries = typeof options?.retries === 'number' ? options.retries : (options?.retries?.retries ?? 0);
        const { retries: _ignored, ...rest }: TransactionOptions = options ?? {};
        for (let attempt = 0; ; attempt++) {
          try {
            return await inner.transaction((tx) => work(wrapScope(tx, wrap)), rest);
          } catch (error) {
            if (attempt >= retries || isBerthError(error, 'VALIDATION')) throw error;
          }
        }
      },
    },
  },
  {
    name: 'fails a transaction when any other transaction committed while it ran (per-backend conflicts)',
    group: 'transaction-isolation',
    case: 'on different documents of one collection all commit',
    breakage: (() => {
      let commits = 0;
      return {
        transaction: async (inner, work, wrap, options) => {
          const start = commits;
          return inner.transaction(async (tx) => {
            const value = await work(wrapScope(tx, wrap));
            if (commits !== start) throw new ConflictError('another transaction committed meanwhile');
            // The memory engine commits synchronously once the work has resolved.
            commits += 1;
            return value;
          }, options);
        },
      };
    })(),
  },
];

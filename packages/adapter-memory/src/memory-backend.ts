import {
  type AnyDocument,
  type Backend,
  type Capabilities,
  ConnectionError,
  checkCollectionName,
  type Document,
  type DocumentValue,
  type HealthStatus,
  type JobQueue,
  type Repository,
  type RepositoryOptions,
  type SignalOptions,
  type TransactionalQueue,
  type TransactionOptions,
  type TransactionScope,
  throwIfAborted,
  ValidationError,
} from '@berth/core';
import { MemoryJobQueue } from './memory-job-queue.js';
import { MemoryQueueState } from './memory-queue-state.js';
import { MemoryRepository, type MemoryScope } from './memory-repository.js';
import { MemorySession } from './memory-session.js';
import { MemoryStore } from './memory-store.js';

/**
 * A backend that keeps everything in process memory: the reference
 * implementation of every port, and the default for tests and demos.
 *
 * Transactions are optimistic: one that touched a collection another commit
 * changed meanwhile fails with a retryable CONFLICT and writes nothing.
 *
 * ### Examples
 * ```ts
 * import { MemoryBackend } from '@berth/adapter-memory';
 *
 * await using backend = new MemoryBackend();
 * const players = backend.repository<{ id: string; name: string }>('players');
 * await players.insert({ name: 'Ada' });
 * console.log(await players.count());
 * ```
 */
export class MemoryBackend implements Backend {
  readonly kind: string = 'memory';
  readonly capabilities: Capabilities = {
    repository: { transactions: 'multi-collection', uniqueIndexes: true, durable: false },
    queue: { level: 'single-node', transactionalEnqueue: true, durable: false, notifications: true },
  };
  protected readonly store: MemoryStore = new MemoryStore();
  private readonly queues = new Map<string, MemoryQueueState>();
  private closed = false;

  async connect(options?: SignalOptions): Promise<void> {
    throwIfAborted(options?.signal, 'connect');
  }

  async close(): Promise<void> {
    this.closed = true;
  }

  async health(options?: SignalOptions): Promise<HealthStatus> {
    throwIfAborted(options?.signal, 'health');
    return this.closed ? { ok: false, latencyMs: 0, message: 'backend is closed' } : { ok: true, latencyMs: 0 };
  }

  repository<T extends Document = AnyDocument>(name: string, options?: RepositoryOptions<T>): Repository<T> {
    checkCollectionName(name);
    return new MemoryRepository<T>(name, options, this.autoScope());
  }

  /** Where single operations run; the document-backed backend adds its gate. */
  protected autoScope(): MemoryScope {
    return { kind: 'auto', store: this.store, gate: async () => this.assertOpen() };
  }

  protected assertOpen(): void {
    if (this.closed) throw new ConnectionError(`this ${this.kind} backend is closed`, { retryable: false });
  }

  queue<T = DocumentValue>(name: string): JobQueue<T> {
    return new MemoryJobQueue<T>(this.queueState(name), undefined, () => this.assertOpen());
  }

  private queueState(name: string): MemoryQueueState {
    checkCollectionName(name, 'queue');
    let state = this.queues.get(name);
    if (state === undefined) {
      state = new MemoryQueueState(name);
      this.queues.set(name, state);
    }
    return state;
  }

  async transaction<R>(work: (tx: TransactionScope) => Promise<R>, options?: TransactionOptions): Promise<R> {
    throwIfAborted(options?.signal, 'transaction');
    this.assertOpen();
    const session = new MemorySession(this.store, true);
    const scope: TransactionScope = {
      repository: <T extends Document = AnyDocument>(name: string, repositoryOptions?: RepositoryOptions<T>) => {
        checkCollectionName(name);
        return new MemoryRepository<T>(name, repositoryOptions, { kind: 'transaction', session });
      },
      queue: <T = DocumentValue>(name: string): TransactionalQueue<T> => {
        const queue = new MemoryJobQueue<T>(this.queueState(name), session);
        return {
          name: queue.name,
          enqueue: (payload, options) => queue.enqueue(payload, options),
          enqueueMany: (items, options) => queue.enqueueMany(items, options),
        };
      },
    };
    let result: R;
    try {
      result = await work(scope);
      throwIfAborted(options?.signal, 'transaction');
    } catch (error) {
      session.rollback();
      throw error;
    }
    session.commit();
    return result;
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.close();
  }
}

/**
 * Lets `createBackend` find this adapter: `memory:` gives a {@link MemoryBackend};
 * `file:<path>` gives a {@link DocumentBackend} on that file, with
 * `?debounceMs=` and `?maxWaitMs=` as options.
 */
export async function createBackendFromUrl(url: string): Promise<Backend> {
  const scheme = url.slice(0, url.indexOf(':')).toLowerCase();
  if (scheme === 'memory') return new MemoryBackend();
  if (scheme !== 'file')
    throw new ValidationError(`@berth/adapter-memory does not handle ${JSON.stringify(url)}`, 'url');
  const [rawPath = '', query = ''] = url.slice('file:'.length).split('?', 2);
  // `file:///abs/path` and `file:./relative` both work; a URL-encoded path is decoded.
  const path = decodeURIComponent(rawPath.startsWith('//') ? rawPath.slice(2) : rawPath);
  if (path === '') throw new ValidationError('file: URLs need a path, like file:./data.json', 'url');
  const parameters = new URLSearchParams(query);
  const number = (name: string): number | undefined => {
    const value = parameters.get(name);
    if (value === null) return undefined;
    const parsed = Number(value);
    if (!Number.isSafeInteger(parsed) || parsed < 0) {
      throw new ValidationError(`${name} in ${JSON.stringify(url)} must be an integer >= 0`, 'url');
    }
    return parsed;
  };
  const { DocumentBackend } = await import('./document-backend.js');
  const { FileDocumentStore } = await import('./file-document-store.js');
  return new DocumentBackend({
    store: new FileDocumentStore(path),
    debounceMs: number('debounceMs'),
    maxWaitMs: number('maxWaitMs'),
  });
}

import { MemoryBackend } from '@berth/adapter-memory';
import type {
  Capabilities,
  CollectionInfo,
  Document,
  Entry,
  HealthStatus,
  MigrationReport,
  Repository,
  RepositoryBackend,
  RepositoryOptions,
  SignalOptions,
  TransactionOptions,
  TransactionScope,
  Update,
  UpdateOptions,
} from '@berth/core';
import { override } from '../override.js';

/**
 * A repository member with one signature: for the overloaded writes
 * (`returnEntry`), their last, general signature, since a replacement
 * function cannot restate every overload. Declared as a method, so its
 * parameters are checked as loosely as `Partial<Repository>`'s were.
 */
type Member<F> = F extends (...args: infer A) => infer R ? { method(...args: A): R }['method'] : F;

/** Replacement members of a repository. */
export type RepositoryMembers = { readonly [K in keyof Repository<Document>]?: Member<Repository<Document>[K]> };

/** Replacement methods for a repository; each gets the healthy repository to delegate to. */
export type RepositoryOverrides = (inner: Repository<Document>) => RepositoryMembers;

/**
 * Types a replacement `update` (one signature) as the overloaded method of
 * the port, whose result is `null` only for a conditional update.
 */
export function updateMethod(
  update: (
    id: string,
    update: Update<Document>,
    options?: UpdateOptions<Document>,
  ) => Promise<Document | Entry<Document> | null>,
): Repository<Document>['update'] {
  return update as Repository<Document>['update'];
}

/** How a broken backend departs from the healthy memory backend. */
export interface Breakage {
  readonly repository?: RepositoryOverrides | undefined;
  readonly repositoryOptions?:
    | ((options: RepositoryOptions<Document> | undefined) => RepositoryOptions<Document> | undefined)
    | undefined;
  readonly transaction?:
    | (<R>(
        inner: MemoryBackend,
        work: (tx: TransactionScope) => Promise<R>,
        wrap: (repository: Repository<Document>) => Repository<Document>,
        options?: TransactionOptions,
      ) => Promise<R>)
    | undefined;
  /** Replaces `close()`; gets the healthy backend to delegate to. */
  readonly close?: ((inner: MemoryBackend) => Promise<void>) | undefined;
  /** Replaces `flush()`; gets the healthy backend to delegate to. */
  readonly flush?: ((inner: MemoryBackend, options?: SignalOptions) => Promise<void>) | undefined;
  /** Replaces `collections()`; gets the healthy backend to delegate to. */
  readonly collections?: ((inner: MemoryBackend, options?: SignalOptions) => Promise<CollectionInfo[]>) | undefined;
  /** Replaces `migrate()`; gets the healthy backend to delegate to. */
  readonly migrate?: ((inner: MemoryBackend, options?: SignalOptions) => Promise<MigrationReport>) | undefined;
}

function wrapRepository(inner: Repository<Document>, breakage: Breakage): Repository<Document> {
  return override(inner, breakage.repository?.(inner) ?? {});
}

/**
 * A memory backend with one deliberate defect. It claims the healthy
 * backend's capabilities, so the suite holds it to the full contract.
 */
export class BrokenBackend implements RepositoryBackend {
  readonly kind = 'broken-memory';
  readonly capabilities: Capabilities;

  constructor(
    private readonly breakage: Breakage,
    /** The healthy engine; pass another broken backend's `engine` to share its storage. */
    private readonly inner: MemoryBackend = new MemoryBackend(),
  ) {
    this.capabilities = inner.capabilities;
  }

  /** The healthy memory backend underneath, for a second broken backend on the same storage. */
  get engine(): MemoryBackend {
    return this.inner;
  }

  connect(options?: SignalOptions): Promise<void> {
    return this.inner.connect(options);
  }
  close(): Promise<void> {
    return this.breakage.close?.(this.inner) ?? this.inner.close();
  }
  health(options?: SignalOptions): Promise<HealthStatus> {
    return this.inner.health(options);
  }
  flush(options?: SignalOptions): Promise<void> {
    return this.breakage.flush?.(this.inner, options) ?? this.inner.flush(options);
  }
  collections(options?: SignalOptions): Promise<CollectionInfo[]> {
    return this.breakage.collections?.(this.inner, options) ?? this.inner.collections(options);
  }
  migrate(options?: SignalOptions): Promise<MigrationReport> {
    return this.breakage.migrate?.(this.inner, options) ?? this.inner.migrate(options);
  }
  [Symbol.asyncDispose](): Promise<void> {
    return this.close();
  }

  repository<T extends Document = Document>(name: string, options?: RepositoryOptions<T>): Repository<T> {
    const adjusted = this.breakage.repositoryOptions?.(options as RepositoryOptions<Document> | undefined) ?? options;
    const inner = this.inner.repository<Document>(name, adjusted as RepositoryOptions<Document> | undefined);
    return wrapRepository(inner, this.breakage) as unknown as Repository<T>;
  }

  transaction<R>(work: (tx: TransactionScope) => Promise<R>, options?: TransactionOptions): Promise<R> {
    const wrap = (repository: Repository<Document>) => wrapRepository(repository, this.breakage);
    if (this.breakage.transaction !== undefined) return this.breakage.transaction(this.inner, work, wrap, options);
    // A callback that is not a function goes to the healthy backend as it is, to be refused there.
    if (typeof work !== 'function') return this.inner.transaction(work, options);
    return this.inner.transaction(
      (tx) =>
        work({
          repository: <T extends Document>(name: string, repositoryOptions?: RepositoryOptions<T>) =>
            wrap(
              tx.repository<Document>(name, repositoryOptions as RepositoryOptions<Document> | undefined),
            ) as unknown as Repository<T>,
          queue: (name) => tx.queue(name),
        }),
      options,
    );
  }
}

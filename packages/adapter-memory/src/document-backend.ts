import {
  type BerthLogger,
  type Capabilities,
  type CollectionInfo,
  ConflictError,
  ConnectionError,
  consoleLogger,
  type DocumentStore,
  type DocumentValue,
  type HealthStatus,
  isBerthError,
  type JobQueue,
  type SignalOptions,
  type StoredDocument,
  type TransactionOptions,
  type TransactionScope,
  UnsupportedError,
  ValidationError,
} from '@berth/core';
import { checkDuration, checkTransactionWork, isPlainObject, startOperation } from '@berth/core/adapter';
import { compressDocument, type DocumentCompression, decompressDocument } from './document-compression.js';
import { type DecodedDocument, DOCUMENT_META_KEY, decodeDocument, encodeDocument } from './document-format.js';
import { mergeRemote, notePending, type PendingWrites } from './document-merge.js';
import { flushOnShutdownSignals } from './flush-on-exit.js';
import { MemoryBackend } from './memory-backend.js';
import type { MemoryScope } from './memory-repository.js';
import { ensureIndex, MemoryCollection } from './memory-store.js';

export type { DocumentCompression } from './document-compression.js';
export { DOCUMENT_META_KEY } from './document-format.js';

/**
 * What a failed save reports to `onSaveError`.
 *
 * ### Examples
 * ```ts
 * import { DocumentBackend, FileDocumentStore } from '@berth/adapter-memory';
 *
 * const backend = new DocumentBackend({
 *   store: new FileDocumentStore('./data/app.json'),
 *   onSaveError: (error, { attempt, willRetry }) => {
 *     console.error(`save failed (attempt ${attempt}, ${willRetry ? 'will retry' : 'given up'})`, error);
 *   },
 * });
 * ```
 */
export interface SaveErrorDetails {
  /** Consecutive failed attempts so far. */
  readonly attempt: number;
  /**
   * `false` when nothing will save this write again: with `conflicts: 'fail'`
   * once a second writer was detected (Berth stops saving rather than
   * overwrite it); with `'merge'` for a write the other instance won.
   */
  readonly willRetry: boolean;
}

/**
 * What `onSizeWarning` hears besides the size.
 *
 * ### Examples
 * ```ts
 * import { DocumentBackend, FileDocumentStore } from '@berth/adapter-memory';
 *
 * const backend = new DocumentBackend({
 *   store: new FileDocumentStore('./data/app.json'),
 *   warnAtBytes: 50 * 1024 * 1024,
 *   onSizeWarning: (bytes, { limit, location }) => console.warn(`${location} is ${bytes} bytes (over ${limit})`),
 * });
 * ```
 */
export interface SizeWarningDetails {
  /** The configured `warnAtBytes`. */
  readonly limit: number;
  /** The store's location. */
  readonly location: string;
}

/**
 * What a save does when another instance saved the document since this one
 * last read or wrote it: `'merge'` re-reads it and saves this instance's
 * writes into it entity by entity; `'fail'` stops saving and refuses writes.
 *
 * ### Examples
 * ```ts
 * import { DocumentBackend, type DocumentConflictPolicy, FileDocumentStore } from '@berth/adapter-memory';
 *
 * // One writer only: refuse writes rather than merge in another instance's saves.
 * const conflicts: DocumentConflictPolicy = 'fail';
 * const backend = new DocumentBackend({ store: new FileDocumentStore('./data/app.json'), conflicts });
 * ```
 */
export type DocumentConflictPolicy = 'merge' | 'fail';

/** How many times one save re-reads and merges before it reports CONFLICT and retries later with backoff. */
const MAX_MERGES = 10;

/**
 * Options of {@link DocumentBackend}.
 *
 * ### Examples
 * ```ts
 * import { DocumentBackend, type DocumentBackendConfig, FileDocumentStore } from '@berth/adapter-memory';
 *
 * const config: DocumentBackendConfig = {
 *   store: new FileDocumentStore('./data/app.json'),
 *   debounceMs: 500,
 *   maxWaitMs: 5_000,
 *   compression: 'gzip',
 *   flushOnExit: true,
 * };
 * await using backend = new DocumentBackend(config);
 * ```
 */
export interface DocumentBackendConfig {
  /** Where the document lives. */
  readonly store: DocumentStore;
  /** Quiet time after the last write before saving (default 2 000 ms). */
  readonly debounceMs?: number | undefined;
  /** Longest time a write waits to be saved while writes keep coming (default 10 000 ms). */
  readonly maxWaitMs?: number | undefined;
  /**
   * Another instance saved the document since this one last read or wrote
   * it (default `'merge'`): see {@link DocumentConflictPolicy}.
   */
  readonly conflicts?: DocumentConflictPolicy | undefined;
  /** Called when a save fails, and with `conflicts: 'merge'` for each write a merge dropped (default: the `logger`'s `error`). */
  readonly onSaveError?: ((error: unknown, details: SaveErrorDetails) => void) | undefined;
  /**
   * Save pending writes when the process gets SIGTERM, SIGINT or SIGHUP, then
   * let it stop as it would have (default `false`: a library adds no
   * process-wide listener unless asked; `createBackend('file:…')` asks).
   * `close()` removes the listeners.
   */
  readonly flushOnExit?: boolean | undefined;
  /** How long `close()` waits for running transactions before it saves and closes anyway (default 10 000 ms). */
  readonly closeTimeoutMs?: number | undefined;
  /**
   * How saves write the document (default `'none'`): `'gzip'` compresses it
   * with node:zlib. Loading recognises a gzip document by its first bytes
   * whatever this says, so turning it on or off never strands a document.
   */
  readonly compression?: DocumentCompression | undefined;
  /** Size in bytes, as stored (after compression), past which a save calls `onSizeWarning` (default: no warning). */
  readonly warnAtBytes?: number | undefined;
  /**
   * Called when a saved document passes `warnAtBytes`: once per crossing, not
   * on every save; it is called again only after a save has come back under
   * the limit (default: the `logger`'s `warn`).
   */
  readonly onSizeWarning?: ((bytes: number, details: SizeWarningDetails) => void) | undefined;
  /** Where failed saves, size warnings and queue listener or worker errors go when no callback is given (default `console`). */
  readonly logger?: BerthLogger | undefined;
  /**
   * Accepted as every backend accepts it (`false`: `connect()` does not
   * migrate); a document has no schema to migrate, so it changes nothing.
   */
  readonly migrate?: boolean | undefined;
}

/**
 * The memory engine persisted to one JSON document in a DocumentStore (a
 * local file, S3, memory): `{ "<collection>": { "<id>": { ...entity } } }`,
 * with versions and timestamps under the reserved `$berth` key. Documents of
 * that shape written by other tools load unchanged; other top-level entries
 * are kept and written back as they were, and using one as a collection is
 * refused with `VALIDATION`. Broken metadata is refused at load.
 *
 * It loads on `connect()`, saves debounced after writes (at most `maxWaitMs`
 * late), and `flush()` saves now; with `flushOnExit`, SIGTERM, SIGINT and
 * SIGHUP save too. Saves are conditional on the ETag it last read or wrote,
 * so another instance's save is never overwritten: by default (`conflicts:
 * 'merge'`) the save re-reads the document, takes in the other instance's
 * writes and saves its own into it entity by entity; an entity both changed
 * keeps the other's version, and `onSaveError` hears `CONFLICT` naming it.
 * A failed save is retried with backoff, and nothing acknowledged is left out
 * of the next save. `close()` waits for running transactions, then saves.
 * With `compression: 'gzip'` the document is written gzipped (either kind
 * loads), and `warnAtBytes` warns once when a saved document passes a size.
 *
 * ### Examples
 * ```ts
 * import { DocumentBackend, FileDocumentStore } from '@berth/adapter-memory';
 *
 * await using backend = new DocumentBackend({ store: new FileDocumentStore('./data.json') });
 * await backend.repository<{ id: string; name: string }>('players').insert({ name: 'Ada' });
 * await backend.flush();
 * ```
 */
export class DocumentBackend extends MemoryBackend {
  override readonly kind: string = 'document';
  override readonly capabilities: Capabilities = {
    // One JSON document held in memory: a second backend's saves are merged in (or refused), not coordinated per transaction.
    repository: { transactions: 'multi-collection', uniqueIndexes: true, durable: true, concurrentBackends: false },
    queue: { level: 'none', transactionalEnqueue: false, durable: false, notifications: false },
  };
  private readonly documentStore: DocumentStore;
  private readonly debounceMs: number;
  private readonly maxWaitMs: number;
  private readonly onSaveError: (error: unknown, details: SaveErrorDetails) => void;
  private readonly conflicts: DocumentConflictPolicy;
  private readonly compression: DocumentCompression;
  private readonly warnAtBytes: number | undefined;
  private readonly onSizeWarning: (bytes: number, details: SizeWarningDetails) => void;
  /** Whether the last save was past `warnAtBytes`, so that one crossing warns once. */
  private pastSizeLimit = false;
  /** Writes not yet in the store (tracked with `conflicts: 'merge'` only). */
  private pending: PendingWrites = new Map();
  /** Top-level entries that are not collections, written back unchanged. */
  private foreign = new Map<string, unknown>();
  private loaded: Promise<void> | undefined;
  private etag: string | undefined;
  private dirty = false;
  private firstDirtyAt: number | undefined;
  private timer: ReturnType<typeof setTimeout> | undefined;
  private saving: Promise<void> | undefined;
  private failures = 0;
  private conflict: ConflictError | undefined;
  private isClosed = false;
  private removeShutdownFlush: (() => void) | undefined;

  constructor(config: DocumentBackendConfig) {
    super({
      logger: isPlainObject(config) ? config.logger : undefined,
      migrate: isPlainObject(config) ? config.migrate : undefined,
    });
    const logger = (isPlainObject(config) ? config.logger : undefined) ?? consoleLogger;
    if (!isPlainObject(config) || config.store === undefined) {
      throw new ValidationError('DocumentBackend needs { store }', 'store');
    }
    this.documentStore = config.store;
    this.debounceMs = config.debounceMs ?? 2_000;
    this.maxWaitMs = Math.max(config.maxWaitMs ?? 10_000, this.debounceMs);
    this.onSaveError =
      config.onSaveError ??
      ((error, details) =>
        logger.error(`berth: saving ${this.documentStore.location} failed (attempt ${details.attempt})`, {
          error,
          location: this.documentStore.location,
          attempt: details.attempt,
        }));
    if (config.closeTimeoutMs !== undefined)
      this.closeTimeoutMs = checkDuration('closeTimeoutMs', config.closeTimeoutMs);
    if (config.flushOnExit !== undefined && typeof config.flushOnExit !== 'boolean') {
      throw new ValidationError('flushOnExit must be true or false', 'flushOnExit');
    }
    if (config.conflicts !== undefined && config.conflicts !== 'merge' && config.conflicts !== 'fail') {
      throw new ValidationError("conflicts must be 'merge' or 'fail'", 'conflicts');
    }
    this.conflicts = config.conflicts ?? 'merge';
    if (config.compression !== undefined && config.compression !== 'gzip' && config.compression !== 'none') {
      throw new ValidationError("compression must be 'gzip' or 'none'", 'compression');
    }
    this.compression = config.compression ?? 'none';
    if (config.warnAtBytes !== undefined && !(Number.isSafeInteger(config.warnAtBytes) && config.warnAtBytes > 0)) {
      throw new ValidationError('warnAtBytes must be an integer > 0', 'warnAtBytes');
    }
    this.warnAtBytes = config.warnAtBytes;
    this.onSizeWarning =
      config.onSizeWarning ??
      ((bytes, { limit, location }) =>
        logger.warn(`berth: ${location} is ${bytes} bytes, past warnAtBytes (${limit})`, { location, bytes, limit }));
    if (this.conflicts === 'merge') {
      this.store.onChange = (collection, id, before) => notePending(this.pending, collection, id, before);
    }
    this.store.onCommit = () => this.changed();
    this.store.onIndexesChanged = () => this.changed();
    if (config.flushOnExit === true) this.removeShutdownFlush = flushOnShutdownSignals(() => this.flush());
  }

  override async connect(options?: SignalOptions): Promise<void> {
    startOperation(options, 'connect');
    this.loaded ??= this.load().catch((error: unknown) => {
      this.loaded = undefined;
      throw error;
    });
    await this.loaded;
  }

  protected override autoScope(collection: string): MemoryScope {
    return { kind: 'auto', store: this.store, gate: (operation) => this.gate(operation, collection) };
  }

  private async gate(operation: 'read' | 'write', collection?: string): Promise<void> {
    this.assertOpen();
    await this.connect();
    if (collection !== undefined) this.assertCollection(collection);
    if (operation === 'write' && this.conflict !== undefined) throw this.conflict;
  }

  protected override assertOpen(): void {
    if (this.isClosing()) {
      throw new ConnectionError(`the backend for ${this.documentStore.location} is closed`, { retryable: false });
    }
  }

  /** Another tool's entry under a collection-like name is never replaced: using that name is refused. */
  private assertCollection(name: string): void {
    if (!this.foreign.has(name)) return;
    throw new ValidationError(
      `${this.documentStore.location}: the key ${JSON.stringify(name)} holds ${describeForeign(this.foreign.get(name))}, not a collection of documents; Berth will not replace it`,
      '',
      { collection: name },
    );
  }

  /** The collections of the loaded document (loading it first), as the engine holds them; another tool's keys are not listed. */
  override async collections(options?: SignalOptions): Promise<CollectionInfo[]> {
    startOperation(options, 'collections');
    await this.gate('read');
    return super.collections(options);
  }

  override queue<T = DocumentValue>(_name: string): JobQueue<T> {
    throw new UnsupportedError(
      'the document-backed backend has no job queue; set BERTH_QUEUE_URL to a queue backend (memory:, sqlite:, postgres:, redis:)',
    );
  }

  override async transaction<R>(work: (tx: TransactionScope) => Promise<R>, options?: TransactionOptions): Promise<R> {
    // Checked before `work` is wrapped, which would hide a non-function.
    checkTransactionWork(work);
    await this.gate('write');
    return super.transaction(
      (tx) =>
        work({
          repository: (name, repositoryOptions) => {
            const repository = tx.repository(name, repositoryOptions);
            this.assertCollection(name);
            return repository;
          },
          queue: () => {
            throw new UnsupportedError('the document-backed backend has no job queue');
          },
        }),
      options,
    );
  }

  private async load(): Promise<void> {
    const stored = await this.read();
    if (stored === null) return;
    const { location } = this.documentStore;
    const { collections, indexes, foreign } = await this.decode(stored);
    const loaded = new Map<string, MemoryCollection>();
    for (const [name, records] of collections) {
      const collection = new MemoryCollection();
      for (const [id, record] of records) collection.records.set(id, record);
      loaded.set(name, collection);
    }
    for (const [name, specs] of indexes) {
      const collection = loaded.get(name) ?? new MemoryCollection();
      loaded.set(name, collection);
      try {
        for (const spec of specs) ensureIndex(collection, spec, name);
      } catch (cause) {
        // A file edited by hand can break its own unique index: refused like other corrupt input.
        throw new ConnectionError(
          `${location}: ${DOCUMENT_META_KEY}.indexes.${name} cannot hold: ${(cause as Error).message}`,
          { cause, retryable: false, collection: name },
        );
      }
    }
    for (const [name, { records, indexes: built }] of loaded) {
      const collection = this.store.collection(name);
      for (const [id, record] of records) collection.records.set(id, record);
      for (const [field, index] of built) collection.indexes.set(field, index);
    }
    this.foreign = foreign;
    this.etag = stored.etag;
  }

  private async read(): Promise<StoredDocument | null> {
    try {
      return await this.documentStore.read();
    } catch (error) {
      if (isBerthError(error)) throw error;
      throw new ConnectionError(`cannot read ${this.documentStore.location}`, { cause: error });
    }
  }

  private async decode(stored: StoredDocument): Promise<DecodedDocument> {
    const { location } = this.documentStore;
    return decodeDocument(location, await decompressDocument(location, stored.data));
  }

  private serialize(): Uint8Array {
    return encodeDocument(this.store.collections, this.foreign);
  }

  private changed(): void {
    this.dirty = true;
    this.firstDirtyAt ??= Date.now();
    this.schedule(this.debounceMs);
  }

  private schedule(delayMs: number): void {
    if (this.conflict !== undefined || this.saving !== undefined) return;
    clearTimeout(this.timer);
    const waited = Date.now() - (this.firstDirtyAt ?? Date.now());
    const delay = Math.max(0, Math.min(delayMs, this.maxWaitMs - waited));
    this.timer = setTimeout(() => {
      this.timer = undefined;
      // Failures are reported through onSaveError and retried; nothing to do here.
      this.save().catch(() => undefined);
    }, delay);
  }

  /** Saves the current state if anything changed since the last save. */
  private async save(): Promise<void> {
    while (this.saving !== undefined) await this.saving.catch(() => undefined);
    if (!this.dirty) return;
    if (this.conflict !== undefined) throw this.conflict;
    this.saving = this.write();
    try {
      await this.saving;
    } finally {
      this.saving = undefined;
    }
    if (this.dirty) this.schedule(this.debounceMs);
  }

  private async write(): Promise<void> {
    try {
      for (let merges = 0; ; merges++) {
        try {
          await this.writeSnapshot();
          this.failures = 0;
          return;
        } catch (error) {
          if (this.conflicts === 'fail' || !isBerthError(error, 'CONFLICT') || merges === MAX_MERGES) throw error;
        }
        await this.merge(merges + 1);
      }
    } catch (error) {
      throw this.failed(error);
    }
  }

  /** Writes the whole current state, conditional on the last ETag; on failure it stays dirty. */
  private async writeSnapshot(): Promise<void> {
    // The snapshot is taken synchronously: a commit after this point marks the
    // backend dirty again and goes into the next save.
    const data = this.serialize();
    const writes = this.pending;
    this.pending = new Map();
    this.dirty = false;
    const firstDirtyAt = this.firstDirtyAt;
    this.firstDirtyAt = undefined;
    let storedBytes: number;
    try {
      const stored = await compressDocument(data, this.compression);
      const precondition = this.etag === undefined ? { ifNoneMatch: '*' as const } : { ifMatch: this.etag };
      const encoding = this.compression === 'gzip' ? { contentEncoding: 'gzip' as const } : {};
      this.etag = (await this.documentStore.write(stored, { ...precondition, ...encoding })).etag;
      storedBytes = stored.length;
    } catch (error) {
      this.dirty = true;
      this.firstDirtyAt = firstDirtyAt ?? Date.now();
      // The snapshot's writes are older than any made since: their bases win.
      for (const [collection, ids] of this.pending) {
        for (const [id, before] of ids)
          if (!writes.get(collection)?.has(id)) notePending(writes, collection, id, before);
      }
      this.pending = writes;
      throw error;
    }
    this.checkSize(storedBytes);
  }

  /** Warns when a saved document first passes `warnAtBytes`, and re-arms once one is back under it. */
  private checkSize(bytes: number): void {
    if (this.warnAtBytes === undefined) return;
    const past = bytes > this.warnAtBytes;
    if (past && !this.pastSizeLimit) {
      this.onSizeWarning(bytes, { limit: this.warnAtBytes, location: this.documentStore.location });
    }
    this.pastSizeLimit = past;
  }

  /** Takes in the remote document and this instance's unsaved writes, and reports the writes the other side won. */
  private async merge(attempt: number): Promise<void> {
    const stored = await this.read();
    const remote: DecodedDocument =
      stored === null ? { collections: new Map(), indexes: new Map(), foreign: new Map() } : await this.decode(stored);
    const { pending, dropped } = mergeRemote(this.documentStore.location, this.store, this.pending, remote);
    this.pending = pending;
    this.foreign = remote.foreign;
    this.etag = stored?.etag;
    for (const error of dropped) this.onSaveError(error, { attempt, willRetry: false });
  }

  /**
   * Reports a failed save and returns what the save rejects with: with
   * `conflicts: 'fail'` a CONFLICT stops saving, anything else is retried
   * with backoff.
   */
  private failed(error: unknown): unknown {
    this.failures += 1;
    if (this.conflicts === 'fail' && isBerthError(error, 'CONFLICT')) {
      this.conflict = new ConflictError(
        `${this.documentStore.location} was written by someone else since it was loaded; Berth will not overwrite it. Writes are refused from now on: reload with a new backend`,
        { cause: error, retryable: false },
      );
      this.onSaveError(this.conflict, { attempt: this.failures, willRetry: false });
      return this.conflict;
    }
    this.onSaveError(error, { attempt: this.failures, willRetry: !this.isClosed });
    if (this.isClosed) return error;
    clearTimeout(this.timer);
    this.timer = setTimeout(
      () => {
        this.timer = undefined;
        this.save().catch(() => undefined);
      },
      Math.min(100 * 2 ** (this.failures - 1), 30_000),
    );
    return error;
  }

  /**
   * Saves now: resolves once everything written so far is in the store.
   * After `close()` resolved there is nothing left to save and it resolves at
   * once. With `conflicts: 'merge'` it resolves once the merged document is
   * saved (writes the merge dropped were reported to `onSaveError`); with
   * `'fail'`, after a `CONFLICT` it rejects with that conflict.
   */
  override async flush(options?: SignalOptions): Promise<void> {
    startOperation(options, 'flush');
    clearTimeout(this.timer);
    this.timer = undefined;
    if (this.conflict !== undefined) throw this.conflict;
    await this.save();
  }

  override async health(options?: SignalOptions): Promise<HealthStatus> {
    startOperation(options, 'health');
    if (this.isClosing()) return { ok: false, latencyMs: 0, message: 'backend is closed' };
    if (this.conflict !== undefined) return { ok: false, latencyMs: 0, message: this.conflict.message };
    if (this.failures > 0) return { ok: false, latencyMs: 0, message: `the last ${this.failures} save(s) failed` };
    return { ok: true, latencyMs: 0 };
  }

  /** Waits for running transactions, then saves once (`close()` rejects when that save fails). */
  protected override async shutDown(): Promise<void> {
    try {
      await super.shutDown();
      if (this.loaded !== undefined) await this.flush();
    } finally {
      this.isClosed = true;
      clearTimeout(this.timer);
      this.removeShutdownFlush?.();
      this.removeShutdownFlush = undefined;
      await this.documentStore.close?.();
    }
  }
}

function describeForeign(value: unknown): string {
  if (Array.isArray(value)) return 'an array';
  if (value === null) return 'null';
  return isPlainObject(value) ? 'an object' : `a ${typeof value}`;
}

import { createHash, randomBytes } from 'node:crypto';
import { mkdir, open, readFile, rename, stat, unlink } from 'node:fs/promises';
import { dirname, resolve } from 'node:path';
import {
  ConnectionError,
  type DocumentStore,
  type DocumentWriteOptions,
  isBerthError,
  type SignalOptions,
  type StoredDocument,
  TimeoutError,
  ValidationError,
} from '@berth/core';
import { throwIfAborted } from '@berth/core/adapter';
import { checkPreconditions } from './memory-document-store.js';

/**
 * Options of {@link FileDocumentStore}.
 *
 * ### Examples
 * ```ts
 * import { FileDocumentStore, type FileDocumentStoreConfig } from '@berth/adapter-memory';
 *
 * // A network file system: wait longer for another process's lock.
 * const config: FileDocumentStoreConfig = { lockTimeoutMs: 15_000, staleLockMs: 30_000 };
 * const store = new FileDocumentStore('/mnt/shared/app.json', config);
 * ```
 */
export interface FileDocumentStoreConfig {
  /** How long a write waits for another process's lock (default 5 000 ms). */
  readonly lockTimeoutMs?: number | undefined;
  /** A lock file older than this is taken to be left by a dead process (default 10 000 ms). */
  readonly staleLockMs?: number | undefined;
}

function etagOf(data: Uint8Array): string {
  return `"${createHash('sha256').update(data).digest('base64url')}"`;
}

function isErrno(error: unknown, code: string): boolean {
  return typeof error === 'object' && error !== null && (error as { code?: unknown }).code === code;
}

/**
 * One document in a local file. Writes are atomic (a temporary file renamed
 * over the target, fsynced) and conditional writes are safe across
 * processes: the ETag check and the rename happen under a lock file.
 *
 * ### Examples
 * ```ts
 * import { FileDocumentStore } from '@berth/adapter-memory';
 *
 * const store = new FileDocumentStore('./data/state.json');
 * const current = await store.read();
 * await store.write(new TextEncoder().encode('{}'), current ? { ifMatch: current.etag } : { ifNoneMatch: '*' });
 * ```
 */
export class FileDocumentStore implements DocumentStore {
  readonly location: string;
  private readonly lockPath: string;
  private readonly lockTimeoutMs: number;
  private readonly staleLockMs: number;

  constructor(path: string, config: FileDocumentStoreConfig = {}) {
    if (typeof path !== 'string' || path.length === 0) throw new ValidationError('a file path is required', 'path');
    this.location = resolve(path);
    this.lockPath = `${this.location}.lock`;
    this.lockTimeoutMs = config.lockTimeoutMs ?? 5_000;
    this.staleLockMs = config.staleLockMs ?? 10_000;
  }

  async read(options?: SignalOptions): Promise<StoredDocument | null> {
    throwIfAborted(options?.signal, 'read');
    try {
      const buffer = await readFile(this.location);
      // A view of the Buffer, not a copy of it: a large document is held once.
      const data = new Uint8Array(buffer.buffer, buffer.byteOffset, buffer.byteLength);
      return { data, etag: etagOf(data) };
    } catch (error) {
      if (isErrno(error, 'ENOENT')) return null;
      throw new ConnectionError(`cannot read ${this.location}: ${(error as Error).message}`, { cause: error });
    }
  }

  private async currentEtag(): Promise<string | undefined> {
    return (await this.read())?.etag;
  }

  /** Creates the lock file holding our token; `false` when another writer holds it. */
  private async tryCreateLock(path: string, token: string): Promise<boolean> {
    let handle: Awaited<ReturnType<typeof open>>;
    try {
      handle = await open(path, 'wx');
    } catch (error) {
      if (isErrno(error, 'EEXIST')) return false;
      throw new ConnectionError(`cannot create ${path}: ${(error as Error).message}`, { cause: error });
    }
    try {
      await handle.writeFile(`${token}\n`);
    } catch (error) {
      // A lock we could not finish writing would block everyone until it looks stale.
      await handle.close().catch(() => undefined);
      await unlink(path).catch(() => undefined);
      throw new ConnectionError(`cannot write ${path}: ${(error as Error).message}`, { cause: error });
    }
    await handle.close();
    return true;
  }

  private async isStale(path: string): Promise<boolean> {
    try {
      return Date.now() - (await stat(path)).mtimeMs > this.staleLockMs;
    } catch {
      return false; // gone: not stale, just free
    }
  }

  /**
   * Removes a lock left by a crashed writer. Takeovers are serialized by a
   * second lock file, and staleness is checked again while holding it: only
   * the takeover holder ever deletes someone else's lock, so a lock another
   * writer has just taken can never be deleted by mistake.
   */
  private async breakStaleLock(): Promise<void> {
    const takeover = `${this.lockPath}.takeover`;
    const token = randomBytes(12).toString('hex');
    if (!(await this.tryCreateLock(takeover, token))) {
      // Another writer is breaking it; a takeover lock itself this old was left by a crash.
      if (await this.isStale(takeover)) await unlink(takeover).catch(() => undefined);
      return;
    }
    try {
      if (await this.isStale(this.lockPath)) await unlink(this.lockPath).catch(() => undefined);
    } finally {
      await this.releaseLock(takeover, token);
    }
  }

  /** Deletes a lock file only if it still holds our token. */
  private async releaseLock(path: string, token: string): Promise<void> {
    try {
      if ((await readFile(path, 'utf8')).trim() === token) await unlink(path);
    } catch {
      // Already gone.
    }
  }

  private async acquireLock(signal: AbortSignal | undefined): Promise<string> {
    const deadline = Date.now() + this.lockTimeoutMs;
    const token = `${process.pid} ${randomBytes(12).toString('hex')}`;
    await mkdir(dirname(this.location), { recursive: true });
    for (let wait = 2; ; wait = Math.min(wait * 2, 50)) {
      throwIfAborted(signal, 'write');
      if (await this.tryCreateLock(this.lockPath, token)) return token;
      // A writer holds the lock for milliseconds; one this old was left by a crash.
      if (await this.isStale(this.lockPath)) {
        await this.breakStaleLock();
        continue;
      }
      if (Date.now() > deadline) {
        throw new TimeoutError(
          `${this.location} is locked by another writer (${this.lockPath}) for more than ${this.lockTimeoutMs} ms`,
        );
      }
      await new Promise((resolve) => setTimeout(resolve, wait));
    }
  }

  async write(data: Uint8Array, options?: DocumentWriteOptions): Promise<{ readonly etag: string }> {
    throwIfAborted(options?.signal, 'write');
    if (!(data instanceof Uint8Array)) throw new ValidationError('write takes a Uint8Array', 'data');
    const token = await this.acquireLock(options?.signal);
    const temporary = `${this.location}.${process.pid}.${randomBytes(6).toString('hex')}.tmp`;
    try {
      checkPreconditions(this.location, await this.currentEtag(), options);
      const handle = await open(temporary, 'w');
      try {
        await handle.writeFile(data);
        await handle.sync();
      } finally {
        await handle.close();
      }
      await rename(temporary, this.location);
      // Make the rename itself durable.
      const directory = await open(dirname(this.location), 'r');
      await directory.sync().finally(() => directory.close());
      return { etag: etagOf(data) };
    } catch (error) {
      await unlink(temporary).catch(() => undefined);
      if (isBerthError(error)) throw error;
      throw new ConnectionError(`cannot write ${this.location}: ${(error as Error).message}`, { cause: error });
    } finally {
      await this.releaseLock(this.lockPath, token);
    }
  }
}

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
  throwIfAborted,
  ValidationError,
} from '@berth/core';
import { checkPreconditions } from './memory-document-store.js';

/** Options of {@link FileDocumentStore}. */
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
      const data = new Uint8Array(await readFile(this.location));
      return { data, etag: etagOf(data) };
    } catch (error) {
      if (isErrno(error, 'ENOENT')) return null;
      throw new ConnectionError(`cannot read ${this.location}: ${(error as Error).message}`, { cause: error });
    }
  }

  private async currentEtag(): Promise<string | undefined> {
    return (await this.read())?.etag;
  }

  private async acquireLock(signal: AbortSignal | undefined): Promise<void> {
    const deadline = Date.now() + this.lockTimeoutMs;
    await mkdir(dirname(this.location), { recursive: true });
    for (let wait = 2; ; wait = Math.min(wait * 2, 50)) {
      throwIfAborted(signal, 'write');
      try {
        const handle = await open(this.lockPath, 'wx');
        await handle.writeFile(`${process.pid} ${new Date().toISOString()}\n`);
        await handle.close();
        return;
      } catch (error) {
        if (!isErrno(error, 'EEXIST')) {
          throw new ConnectionError(`cannot create ${this.lockPath}: ${(error as Error).message}`, { cause: error });
        }
      }
      try {
        const age = Date.now() - (await stat(this.lockPath)).mtimeMs;
        // A writer holds the lock for milliseconds; one this old was left by a crash.
        if (age > this.staleLockMs) await unlink(this.lockPath).catch(() => undefined);
      } catch {
        // Released between our attempts: try again at once.
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
    await this.acquireLock(options?.signal);
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
      await unlink(this.lockPath).catch(() => undefined);
    }
  }
}

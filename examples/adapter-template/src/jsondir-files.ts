import { createHash, randomUUID } from 'node:crypto';
import { mkdir, open, readdir, readFile, rename, rm } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { type Document, type DocumentMeta, ValidationError } from '@berth/core';
import { parseDocument, stringifyDocument, Turns } from '@berth/core/adapter';
import { lock } from 'proper-lockfile';

/** One stored document: the document, its metadata, and a stamp that changes with every write. */
export interface StoredRecord {
  readonly document: Document;
  readonly meta: DocumentMeta;
  /** A fresh random value per write: a transaction compares stamps, since a version can repeat after delete and insert. */
  readonly stamp: string;
}

/** A write to apply at commit: a record, or `null` to delete. */
export interface FileWrite {
  readonly collection: string;
  readonly id: string;
  readonly record: StoredRecord | null;
}

const JOURNAL = 'journal.json';
const WRITES_AT_ONCE = 32;
/** What `checkCollectionName` accepts: a folder named otherwise is not a collection of this backend. */
const COLLECTION_NAME = /^[A-Za-z][A-Za-z0-9_]{0,62}$/;

// Backends of one process on one directory take turns here before they take
// the file lock, so they queue instead of polling the lock file.
const localTurns = new Map<string, Turns>();

/**
 * The directory layout: `<collection>/<sha256 of the id>.json`, one file per
 * document. Ids may hold any character and be 256 long, so the file name is a
 * hash (the id is inside the file). Collection folders spell an upper-case
 * letter as `+` and the lower-case one, so `Users` and `users` stay apart on
 * file systems that ignore case (macOS, Windows).
 */
export class JsonDirFiles {
  readonly root: string;
  private readonly turns: Turns;
  private created: Promise<void> | undefined;

  constructor(directory: string) {
    if (typeof directory !== 'string' || directory === '') {
      throw new ValidationError('directory must be a non-empty path', 'directory');
    }
    this.root = resolve(directory);
    let turns = localTurns.get(this.root);
    if (turns === undefined) {
      turns = new Turns();
      localTurns.set(this.root, turns);
    }
    this.turns = turns;
  }

  private folder(collection: string): string {
    return join(
      this.root,
      collection.replace(/[A-Z]/g, (letter) => `+${letter.toLowerCase()}`),
    );
  }

  private file(collection: string, id: string): string {
    return join(this.folder(collection), `${createHash('sha256').update(id).digest('hex')}.json`);
  }

  /** Creates the directory when missing; `connect()` calls it, and so does the first operation. */
  create(): Promise<void> {
    this.created ??= mkdir(this.root, { recursive: true }).then(() => undefined);
    return this.created;
  }

  /**
   * Runs `work` holding the directory's lock: one process at a time reads a
   * consistent state or commits. A commit a crash interrupted is finished
   * first, so nobody sees half of it.
   */
  withLock<R>(work: () => Promise<R>): Promise<R> {
    return this.turns.run(async () => {
      await this.create();
      const release = await lock(this.root, {
        lockfilePath: join(this.root, '.lock'),
        realpath: false,
        stale: 10_000,
        retries: { retries: 1_000, factor: 1.2, minTimeout: 1, maxTimeout: 50 },
        // A lock goes stale only when this process stalled for 10 s; the commit in progress still ends.
        onCompromised: () => undefined,
      });
      try {
        await this.replayJournal();
        return await work();
      } finally {
        await release();
      }
    });
  }

  /**
   * The collections that hold at least one document, read from the folder
   * names (so another process's are listed too), sorted by name.
   */
  async collections(): Promise<string[]> {
    await this.create();
    const entries = await readdir(this.root, { withFileTypes: true });
    const names: string[] = [];
    for (const entry of entries) {
      // Temporary files, the journal and the lock are files; only collections are folders.
      if (!entry.isDirectory()) continue;
      const name = entry.name.replace(/\+([a-z])/g, (_, letter: string) => letter.toUpperCase());
      if (!COLLECTION_NAME.test(name)) continue;
      const files = await readdir(join(this.root, entry.name));
      if (files.some((file) => file.endsWith('.json'))) names.push(name);
    }
    return names.sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
  }

  /** Every document of a collection, by id. */
  async readCollection(collection: string): Promise<Map<string, StoredRecord>> {
    let names: string[];
    try {
      names = await readdir(this.folder(collection));
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') return new Map();
      throw error;
    }
    const files = names.filter((name) => name.endsWith('.json'));
    const records = await Promise.all(
      files.map(async (name) =>
        parseDocument<StoredRecord>(await readFile(join(this.folder(collection), name), 'utf8')),
      ),
    );
    return new Map(records.map((record) => [record.document.id, record]));
  }

  /**
   * Applies writes. Each file is replaced by a rename, which is atomic; a
   * commit of several files writes a journal first, so a crash between two
   * renames is finished by the next lock holder.
   */
  async apply(writes: readonly FileWrite[]): Promise<void> {
    if (writes.length === 0) return;
    const journal = writes.length > 1;
    if (journal) await this.writeAtomically(join(this.root, JOURNAL), stringifyDocument(writes));
    await this.applyAll(writes);
    if (journal) await rm(join(this.root, JOURNAL), { force: true });
  }

  /** Applies writes (to distinct files) several at a time: the file system then flushes them together. */
  private async applyAll(writes: readonly FileWrite[]): Promise<void> {
    let next = 0;
    const worker = async () => {
      while (next < writes.length) await this.applyOne(writes[next++] as FileWrite);
    };
    await Promise.all(Array.from({ length: Math.min(WRITES_AT_ONCE, writes.length) }, worker));
  }

  private async applyOne({ collection, id, record }: FileWrite): Promise<void> {
    if (record === null) {
      await rm(this.file(collection, id), { force: true });
      return;
    }
    await mkdir(this.folder(collection), { recursive: true });
    await this.writeAtomically(this.file(collection, id), stringifyDocument(record));
  }

  private async replayJournal(): Promise<void> {
    let text: string;
    try {
      text = await readFile(join(this.root, JOURNAL), 'utf8');
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') return;
      throw error;
    }
    await this.applyAll(parseDocument<FileWrite[]>(text));
    await rm(join(this.root, JOURNAL), { force: true });
  }

  /** Writes a temporary file, flushes it to disk, then renames it over `path`. */
  private async writeAtomically(path: string, text: string): Promise<void> {
    const temporary = join(this.root, `.tmp-${randomUUID()}`);
    const handle = await open(temporary, 'w');
    try {
      await handle.writeFile(text, 'utf8');
      await handle.datasync();
    } finally {
      await handle.close();
    }
    await rename(temporary, path);
  }
}

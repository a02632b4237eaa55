import { type ChildProcess, spawn } from 'node:child_process';
import {
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  utimesSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { isBerthError } from '@berth/core';
import { afterAll, describe, expect, it, vi } from 'vitest';
import { FileDocumentStore } from './file-document-store.js';

// Runs once, right after a `stat` of the given path has read the file system
// and before its caller sees the result: the only way to put another writer
// into the gap between the store's staleness check and what it does next.
const afterStat = vi.hoisted(() => new Map<string, () => void>());

vi.mock('node:fs/promises', async (importOriginal) => {
  const actual = await importOriginal<typeof import('node:fs/promises')>();
  const stat: typeof actual.stat = (async (...args: Parameters<typeof actual.stat>) => {
    const result = await actual.stat(...args);
    const hook = afterStat.get(String(args[0]));
    if (hook !== undefined) {
      afterStat.delete(String(args[0]));
      hook();
    }
    return result;
  }) as typeof actual.stat;
  return { ...actual, stat };
});

const root = mkdtempSync(join(tmpdir(), 'berth-file-document-store-'));
afterAll(() => rmSync(root, { recursive: true, force: true }));

let directoryCounter = 0;
/** A directory of its own per test, so that leftovers can be checked exactly. */
function freshDirectory(): string {
  directoryCounter += 1;
  const directory = join(root, String(directoryCounter));
  mkdirSync(directory);
  return directory;
}

const bytes = (text: string) => new TextEncoder().encode(text);

/** A lock file as a writer leaves it, aged by `ageMs`. */
function placeLock(lockPath: string, owner: string, ageMs = 0): void {
  writeFileSync(lockPath, `${owner}\n`);
  const time = new Date(Date.now() - ageMs);
  utimesSync(lockPath, time, time);
}

async function rejection(promise: Promise<unknown>): Promise<unknown> {
  try {
    await promise;
  } catch (error) {
    return error;
  }
  return expect.unreachable('the operation succeeded');
}

// Writers in real child processes: the lock file is what keeps them apart.
const casWriter = fileURLToPath(new URL('./fixtures/cas-writer.ts', import.meta.url));

function startCasWriter(file: string, name: string): ChildProcess {
  return spawn(process.execPath, ['--import', 'tsx', '--conditions=@berth/source', casWriter, file, name], {
    stdio: ['pipe', 'pipe', 'inherit'],
  });
}

function lines(child: ChildProcess, onLine: (line: string) => void): Promise<number | null> {
  let buffer = '';
  child.stdout?.on('data', (chunk: Buffer) => {
    buffer += chunk.toString();
    let newline = buffer.indexOf('\n');
    while (newline >= 0) {
      onLine(buffer.slice(0, newline));
      buffer = buffer.slice(newline + 1);
      newline = buffer.indexOf('\n');
    }
  });
  return new Promise((resolve) => child.once('exit', (code) => resolve(code)));
}

describe('FileDocumentStore across processes', () => {
  it('of 6 processes that read the same ETag and then write with ifMatch at the same moment, exactly one wins and the others get CONFLICT', async () => {
    const directory = freshDirectory();
    const file = join(directory, 'doc.json');
    const { etag: start } = await new FileDocumentStore(file).write(bytes('start'));
    const names = ['w0', 'w1', 'w2', 'w3', 'w4', 'w5'];
    const children = names.map((name) => startCasWriter(file, name));
    const readEtags: string[] = [];
    const results = new Map<string, string>();
    const exits = children.map((child, index) =>
      lines(child, (line) => {
        if (line.startsWith('READY ')) {
          readEtags.push(line.slice('READY '.length));
          // Every writer has read before any is released, so all hold the same ETag.
          if (readEtags.length === children.length) for (const each of children) each.stdin?.write('go\n');
        } else {
          results.set(names[index] ?? String(index), line);
        }
      }),
    );
    expect(await Promise.all(exits)).toEqual(names.map(() => 0));
    expect(readEtags).toEqual(names.map(() => start));

    const winners = [...results].filter(([, line]) => line.startsWith('WON '));
    const losers = [...results].filter(([, line]) => !line.startsWith('WON '));
    expect(
      winners.map(([name]) => name),
      `outcomes: ${JSON.stringify([...results])}`,
    ).toHaveLength(1);
    expect(losers.map(([, line]) => line)).toEqual(names.slice(1).map(() => 'LOST CONFLICT'));
    const [winner, winnerLine] = winners[0] ?? ['', ''];
    const stored = await new FileDocumentStore(file).read();
    expect(stored === null ? null : new TextDecoder().decode(stored.data)).toBe(winner);
    expect(stored?.etag).toBe(winnerLine.slice('WON '.length));
    // No lock file and no temporary file is left behind.
    expect(readdirSync(directory)).toEqual(['doc.json']);
  }, 60_000);
});

describe('FileDocumentStore lock file', () => {
  it('a lock file older than staleLockMs, left by a writer that died, is taken over', async () => {
    const directory = freshDirectory();
    const file = join(directory, 'doc.json');
    const store = new FileDocumentStore(file, { staleLockMs: 1_000, lockTimeoutMs: 5_000 });
    const { etag } = await store.write(bytes('before the crash'));
    placeLock(`${file}.lock`, 'a writer that died', 60_000);
    const started = Date.now();
    const { etag: after } = await store.write(bytes('after the crash'), { ifMatch: etag });
    expect(Date.now() - started, 'a stale lock is taken over without waiting out lockTimeoutMs').toBeLessThan(2_000);
    const stored = await store.read();
    expect(stored?.etag).toBe(after);
    expect(new TextDecoder().decode(stored?.data)).toBe('after the crash');
    expect(readdirSync(directory)).toEqual(['doc.json']);
  });

  it('a lock held by a live writer past lockTimeoutMs fails the write with a retryable TIMEOUT, changes nothing and leaves that lock alone', async () => {
    const directory = freshDirectory();
    const file = join(directory, 'doc.json');
    const lockPath = `${file}.lock`;
    const store = new FileDocumentStore(file, { lockTimeoutMs: 300, staleLockMs: 60_000 });
    const { etag } = await store.write(bytes('original'));
    placeLock(lockPath, 'a live writer');
    const started = Date.now();
    const error = await rejection(store.write(bytes('blocked'), { ifMatch: etag }));
    const waited = Date.now() - started;
    expect(isBerthError(error, 'TIMEOUT'), String(error)).toBe(true);
    expect(isBerthError(error) && error.retryable, 'TIMEOUT is retryable').toBe(true);
    expect(waited, 'the write waited for the lock').toBeGreaterThanOrEqual(250);
    expect(readFileSync(lockPath, 'utf8')).toBe('a live writer\n');
    expect((await store.read())?.etag).toBe(etag);
    // Once the writer releases its lock, the same write goes through: retrying helps.
    rmSync(lockPath);
    const { etag: after } = await store.write(bytes('blocked'), { ifMatch: etag });
    expect((await store.read())?.etag).toBe(after);
  });

  it('aborting a write that waits for the lock rejects it with ABORTED at once and leaves the lock alone', async () => {
    const directory = freshDirectory();
    const file = join(directory, 'doc.json');
    const lockPath = `${file}.lock`;
    const store = new FileDocumentStore(file, { lockTimeoutMs: 10_000, staleLockMs: 60_000 });
    const { etag } = await store.write(bytes('original'));
    placeLock(lockPath, 'a live writer');
    const controller = new AbortController();
    const reason = new Error('shutting down');
    setTimeout(() => controller.abort(reason), 100);
    const started = Date.now();
    const error = await rejection(store.write(bytes('blocked'), { signal: controller.signal }));
    expect(isBerthError(error, 'ABORTED'), String(error)).toBe(true);
    expect((error as Error).cause).toBe(reason);
    expect(Date.now() - started, 'stopped long before lockTimeoutMs').toBeLessThan(2_000);
    expect(readFileSync(lockPath, 'utf8')).toBe('a live writer\n');
    expect((await store.read())?.etag).toBe(etag);
  });

  it('a failed precondition leaves neither the lock file nor a temporary file behind', async () => {
    const directory = freshDirectory();
    const file = join(directory, 'doc.json');
    const store = new FileDocumentStore(file);
    await store.write(bytes('original'));
    expect(isBerthError(await rejection(store.write(bytes('x'), { ifNoneMatch: '*' })), 'CONFLICT')).toBe(true);
    expect(isBerthError(await rejection(store.write(bytes('x'), { ifMatch: '"stale"' })), 'CONFLICT')).toBe(true);
    expect(readdirSync(directory)).toEqual(['doc.json']);
    // The lock was released, so the next writer does not wait.
    await new FileDocumentStore(file, { lockTimeoutMs: 50 }).write(bytes('next'));
  });

  it('a write creates the directories on the way to the file', async () => {
    const file = join(freshDirectory(), 'a', 'b', 'doc.json');
    const store = new FileDocumentStore(file);
    const { etag } = await store.write(bytes('{}'), { ifNoneMatch: '*' });
    expect(existsSync(file)).toBe(true);
    expect((await store.read())?.etag).toBe(etag);
  });

  // A stale lock taken over by another writer between our staleness check and
  // our takeover must survive: only the holder of the takeover lock deletes a
  // lock, after checking staleness again. The hook below puts the other
  // writer into that gap deterministically (this failed before the fix).
  it('a stale lock replaced by a live writer between the staleness check and the takeover is not deleted', async () => {
    const directory = freshDirectory();
    const file = join(directory, 'doc.json');
    const lockPath = `${file}.lock`;
    const store = new FileDocumentStore(file, { lockTimeoutMs: 300, staleLockMs: 1_000 });
    const { etag } = await store.write(bytes('original'));
    placeLock(lockPath, 'a writer that died', 60_000);
    afterStat.set(lockPath, () => {
      // Another process takes the stale lock over first and now holds it.
      rmSync(lockPath);
      placeLock(lockPath, 'a live writer');
    });
    const error = await rejection(store.write(bytes('while the lock is held'), { ifMatch: etag }));
    expect(isBerthError(error, 'TIMEOUT'), String(error)).toBe(true);
    expect(readFileSync(lockPath, 'utf8')).toBe('a live writer\n');
    expect((await store.read())?.etag).toBe(etag);
  });
});

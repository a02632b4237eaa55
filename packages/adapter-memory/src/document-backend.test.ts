import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import {
  ConnectionError,
  type DocumentStore,
  type DocumentWriteOptions,
  isBerthError,
  type SignalOptions,
  type StandardSchemaV1,
  type StoredDocument,
} from '@berth/core';
import { afterAll, describe, expect, it } from 'vitest';
import { DocumentBackend, type SaveErrorDetails } from './document-backend.js';
import { FileDocumentStore } from './file-document-store.js';
import { MemoryDocumentStore } from './memory-document-store.js';

const directory = mkdtempSync(join(tmpdir(), 'berth-document-backend-'));
afterAll(() => rmSync(directory, { recursive: true, force: true }));

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
const text = (data: Uint8Array) => new TextDecoder().decode(data);

async function storedJson(store: DocumentStore): Promise<Record<string, Record<string, unknown>>> {
  const stored = await store.read();
  if (stored === null) throw new Error('nothing stored');
  return JSON.parse(text(stored.data));
}

/** A store that counts writes and fails the first `failures` of them. */
class FlakyStore implements DocumentStore {
  readonly location = 'flaky';
  readonly inner = new MemoryDocumentStore();
  writes = 0;
  constructor(private failures: number) {}
  read(options?: SignalOptions): Promise<StoredDocument | null> {
    return this.inner.read(options);
  }
  async write(data: Uint8Array, options?: DocumentWriteOptions): Promise<{ readonly etag: string }> {
    this.writes += 1;
    if (this.failures > 0) {
      this.failures -= 1;
      throw new ConnectionError('disk unplugged');
    }
    return this.inner.write(data, options);
  }
}

describe('DocumentBackend', () => {
  it('loads a document of the plain { collection: { id: entity } } shape unchanged and keeps other keys', async () => {
    const store = new MemoryDocumentStore();
    const original = {
      players: { p1: { name: 'Ada', born: { $date: '2000-01-02T03:04:05.006Z' } }, p2: { id: 'p2', name: 'Brom' } },
      'not-a-collection': { keep: ['me', 1] },
      version: 3,
    };
    await store.write(new TextEncoder().encode(JSON.stringify(original)));
    const backend = new DocumentBackend({ store, debounceMs: 1 });
    const players = backend.repository<{ id: string; name: string; born?: Date }>('players');
    expect(await players.get('p1')).toEqual({ id: 'p1', name: 'Ada', born: new Date('2000-01-02T03:04:05.006Z') });
    expect((await players.getEntry('p2'))?.meta.version).toBe(1);
    await players.update('p2', { name: 'Brom the Bold' });
    await backend.flush();
    const saved = await storedJson(store);
    expect(saved['not-a-collection']).toEqual({ keep: ['me', 1] });
    expect(saved.version).toBe(3);
    expect(saved.players).toEqual({
      p1: { id: 'p1', name: 'Ada', born: { $date: '2000-01-02T03:04:05.006Z' } },
      p2: { id: 'p2', name: 'Brom the Bold' },
    });
    expect((saved.$berth as { meta: Record<string, Record<string, number[]>> }).meta.players?.p2?.[0]).toBe(2);
    await backend.close();
  });

  it('refuses a document that is not Berth-shaped with a CONNECTION error naming the entity', async () => {
    const store = new MemoryDocumentStore();
    await store.write(new TextEncoder().encode('{"players":{"p1":{"id":"other"}}}'));
    const backend = new DocumentBackend({ store });
    await expect(backend.connect()).rejects.toMatchObject({ code: 'CONNECTION', collection: 'players', id: 'p1' });
    const garbage = new MemoryDocumentStore();
    await garbage.write(new TextEncoder().encode('not json'));
    await expect(new DocumentBackend({ store: garbage }).connect()).rejects.toMatchObject({ code: 'CONNECTION' });
  });

  it('saves after the debounce, not before, and at once on flush', async () => {
    const store = new FlakyStore(0);
    const backend = new DocumentBackend({ store, debounceMs: 80 });
    await backend.repository('items').insert({ id: 'a' });
    await sleep(20);
    expect(store.writes).toBe(0);
    await sleep(150);
    expect(store.writes).toBe(1);
    await backend.repository('items').insert({ id: 'b' });
    await backend.flush();
    expect(store.writes).toBe(2);
    expect(Object.keys((await storedJson(store.inner)).items ?? {})).toEqual(['a', 'b']);
    await backend.close();
  });

  it('still saves within maxWaitMs while writes never pause', async () => {
    const store = new FlakyStore(0);
    const backend = new DocumentBackend({ store, debounceMs: 60, maxWaitMs: 100 });
    const items = backend.repository('items');
    const started = Date.now();
    for (let n = 0; Date.now() - started < 450; n++) {
      await items.insert({ id: `i${n}` });
      await sleep(10);
    }
    // Writes every 10 ms never leave 60 ms of quiet: only maxWaitMs saves them.
    expect(store.writes).toBeGreaterThanOrEqual(2);
    await backend.close();
  });

  it('retries a failed save with backoff, reports each failure and loses nothing acknowledged', async () => {
    const store = new FlakyStore(2);
    const reports: SaveErrorDetails[] = [];
    const backend = new DocumentBackend({
      store,
      debounceMs: 1,
      onSaveError: (_error, details) => reports.push(details),
    });
    const items = backend.repository('items');
    await items.insert({ id: 'a' });
    await sleep(30);
    await items.insert({ id: 'b' });
    const deadline = Date.now() + 3_000;
    while (store.writes < 3 && Date.now() < deadline) await sleep(10);
    await backend.flush();
    expect(reports.map((report) => report.attempt)).toEqual([1, 2]);
    expect(reports.every((report) => report.willRetry)).toBe(true);
    expect(Object.keys((await storedJson(store.inner)).items ?? {}).sort()).toEqual(['a', 'b']);
    expect((await backend.health()).ok).toBe(true);
    await backend.close();
  });

  it("with conflicts: 'fail', detects a second writer, reports it, never overwrites its data and refuses writes", async () => {
    const store = new MemoryDocumentStore();
    const reports: unknown[] = [];
    const first = new DocumentBackend({ store, debounceMs: 10_000, conflicts: 'fail' });
    const second = new DocumentBackend({
      store,
      debounceMs: 10_000,
      conflicts: 'fail',
      onSaveError: (error) => reports.push(error),
    });
    await first.connect();
    await second.connect();
    await first.repository('items').insert({ id: 'from-first' });
    await first.flush();
    await second.repository('items').insert({ id: 'from-second' });
    const error = await second.flush().catch((caught: unknown) => caught);
    expect(isBerthError(error, 'CONFLICT')).toBe(true);
    expect(reports).toHaveLength(1);
    await expect(second.repository('items').insert({ id: 'more' })).rejects.toMatchObject({ code: 'CONFLICT' });
    expect((await second.health()).ok).toBe(false);
    expect(Object.keys((await storedJson(store)).items ?? {})).toEqual(['from-first']);
    await first.close();
    await expect(second.close()).rejects.toMatchObject({ code: 'CONFLICT' });
  });

  it('close() saves what is pending, and a closed backend refuses work', async () => {
    const store = new MemoryDocumentStore();
    const backend = new DocumentBackend({ store, debounceMs: 60_000 });
    await backend.repository('items').insert({ id: 'a' });
    await backend.close();
    await backend.close();
    expect(Object.keys((await storedJson(store)).items ?? {})).toEqual(['a']);
    await expect(backend.repository('items').get('a')).rejects.toMatchObject({ code: 'CONNECTION' });
  });

  it('close() waits for a running transaction, then saves it once', async () => {
    const store = new FlakyStore(0);
    const backend = new DocumentBackend({ store, debounceMs: 60_000 });
    await backend.connect();
    let committed = false;
    const transaction = backend
      .transaction(async (tx) => {
        await tx.repository('items').insert({ id: 'in-transaction' });
        await sleep(100);
      })
      .then(() => {
        committed = true;
      });
    await sleep(10);
    await backend.close();
    expect(committed, 'the transaction committed before close() resolved').toBe(true);
    await transaction;
    expect(store.writes).toBe(1);
    expect(Object.keys((await storedJson(store.inner)).items ?? {})).toEqual(['in-transaction']);
  });

  it('close() stops waiting after closeTimeoutMs: the late transaction fails with CONNECTION and writes nothing', async () => {
    const store = new FlakyStore(0);
    const backend = new DocumentBackend({ store, debounceMs: 60_000, closeTimeoutMs: 50 });
    await backend.repository('items').insert({ id: 'before' });
    const transaction = backend
      .transaction(async (tx) => {
        await tx.repository('items').insert({ id: 'too-late' });
        await sleep(300);
      })
      .catch((error: unknown) => error);
    await sleep(10);
    const started = Date.now();
    await backend.close();
    expect(Date.now() - started).toBeLessThan(250);
    const error = await transaction;
    expect(isBerthError(error, 'CONNECTION'), String(error)).toBe(true);
    expect((error as { retryable: boolean }).retryable).toBe(false);
    await sleep(20);
    expect(store.writes).toBe(1);
    expect(Object.keys((await storedJson(store.inner)).items ?? {})).toEqual(['before']);
  });

  it('once close() was called, new operations and transactions are refused with a CONNECTION error that is not retryable', async () => {
    const backend = new DocumentBackend({ store: new MemoryDocumentStore(), debounceMs: 60_000 });
    const items = backend.repository('items');
    await items.insert({ id: 'a' });
    let started: () => void = () => undefined;
    const running = backend.transaction(async () => {
      started();
      await sleep(50);
    });
    await new Promise<void>((resolve) => {
      started = resolve;
    });
    const closing = backend.close();
    for (const attempt of [items.get('a'), items.insert({ id: 'b' }), backend.transaction(async () => undefined)]) {
      await expect(attempt).rejects.toMatchObject({ code: 'CONNECTION', retryable: false });
    }
    await closing;
    await running;
    await expect(items.get('a')).rejects.toMatchObject({ code: 'CONNECTION', retryable: false });
  });

  it('an operation still validating when close() saved fails with CONNECTION instead of committing unsaved', async () => {
    const store = new FlakyStore(0);
    const backend = new DocumentBackend({ store, debounceMs: 60_000 });
    const slowSchema: StandardSchemaV1<unknown, { id: string }> = {
      '~standard': {
        version: 1,
        vendor: 'test',
        validate: async (value) => {
          await sleep(100);
          return { value: value as { id: string } };
        },
      },
    };
    const items = backend.repository('items', { schema: slowSchema });
    await items.insert({ id: 'saved' });
    const late = items.insert({ id: 'late' }).catch((error: unknown) => error);
    await sleep(10);
    await backend.close();
    const error = await late;
    expect(isBerthError(error, 'CONNECTION'), String(error)).toBe(true);
    expect(Object.keys((await storedJson(store.inner)).items ?? {})).toEqual(['saved']);
  });

  it('has no job queue and says which backend to use instead', () => {
    const backend = new DocumentBackend({ store: new MemoryDocumentStore() });
    expect(() => backend.queue('jobs')).toThrow(/BERTH_QUEUE_URL/);
  });
});

// Processes that share a file: these run the writer in real child processes.
const writer = fileURLToPath(new URL('./fixtures/document-writer.ts', import.meta.url));

function startWriter(file: string, name: string, count: number, mode: string, conflicts = 'merge'): ChildProcess {
  return spawn(
    process.execPath,
    ['--import', 'tsx', '--conditions=@berth/source', writer, file, name, String(count), mode, conflicts],
    {
      stdio: ['pipe', 'pipe', 'inherit'],
    },
  );
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

describe('DocumentBackend on a file, across processes', () => {
  it('keeps everything flushed when the process is SIGKILLed right after flush()', async () => {
    const file = join(directory, 'killed.json');
    const child = startWriter(file, 'w', 200, 'kill-after-flush');
    const exited = lines(child, (line) => {
      if (line === 'FLUSHED') child.kill('SIGKILL');
    });
    await exited;
    expect(child.signalCode).toBe('SIGKILL');
    const restarted = new DocumentBackend({ store: new FileDocumentStore(file) });
    const items = restarted.repository<{ id: string; n: number }>('items');
    for (let n = 0; n < 200; n++) expect(await items.get(`w-${n}`), `w-${n}`).not.toBeNull();
    await restarted.close();
  }, 60_000);

  /** Starts one writer per name on `file`, releases them together once all loaded, and collects their output lines. */
  async function race(file: string, names: string[], count: number, mode: string, conflicts = 'merge') {
    const output = new Map<string, string[]>(names.map((name) => [name, []]));
    const children = names.map((name) => startWriter(file, name, count, mode, conflicts));
    let ready = 0;
    const exits = children.map((child, index) =>
      lines(child, (line) => {
        if (line === 'READY' && ++ready === children.length) for (const each of children) each.stdin?.write('go\n');
        output.get(names[index] as string)?.push(line);
      }),
    );
    expect(await Promise.all(exits)).toEqual(names.map(() => 0));
    return output;
  }

  it("two processes on one file with conflicts: 'fail': no acknowledged write is lost and the loser is told", async () => {
    const file = join(directory, 'race.json');
    writeFileSync(file, '{}');
    const output = [...(await race(file, ['a', 'b'], 30, 'race', 'fail')).values()].flat();
    const acknowledged = output.filter((line) => line.startsWith('ACK ')).map((line) => line.slice(4));
    const outcomes = output.filter((line) => line.startsWith('CONFLICT'));
    // Both loaded the same version, so at least one of them must meet the other's write.
    expect(outcomes.length).toBeGreaterThanOrEqual(1);
    expect(outcomes.every((outcome) => outcome === 'CONFLICT CONFLICT')).toBe(true);
    const stored = JSON.parse(readFileSync(file, 'utf8')) as { items?: Record<string, unknown> };
    for (const id of acknowledged) expect(stored.items?.[id], id).toBeDefined();
  }, 60_000);

  it('two processes writing different entities for a while: every acknowledged write of both is in the file', async () => {
    const file = join(directory, 'merge-race.json');
    writeFileSync(file, '{}');
    const count = 60;
    const output = await race(file, ['a', 'b'], count, 'race');
    const stored = JSON.parse(readFileSync(file, 'utf8')) as { items?: Record<string, unknown> };
    for (const [name, printed] of output) {
      // Nothing failed: each writer acknowledged every write, and the hook heard nothing.
      expect(printed.filter((line) => line !== 'READY')).toEqual(
        Array.from({ length: count }, (_, n) => `ACK ${name}-${n}`),
      );
      for (let n = 0; n < count; n++) expect(stored.items?.[`${name}-${n}`], `${name}-${n}`).toBeDefined();
    }
    expect(Object.keys(stored.items ?? {})).toHaveLength(2 * count);
  }, 60_000);

  it('two processes updating the same entity: one wins, the other hears CONFLICT naming the collection and id', async () => {
    const file = join(directory, 'same-entity.json');
    writeFileSync(file, JSON.stringify({ items: { shared: { id: 'shared', writer: 'nobody', n: 0 } } }));
    const output = await race(file, ['a', 'b'], 1, 'same-entity');
    const stored = JSON.parse(readFileSync(file, 'utf8')) as { items: Record<string, { writer: string }> };
    const winner = stored.items.shared?.writer ?? '';
    expect(['a', 'b']).toContain(winner);
    for (const [name, printed] of output) {
      const hooks = printed.filter((line) => line.startsWith('HOOK '));
      expect(hooks).toEqual(name === winner ? [] : ['HOOK CONFLICT items shared']);
      expect(printed).toContain('DONE');
    }
  }, 60_000);
});

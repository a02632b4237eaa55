import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gunzipSync, gzipSync } from 'node:zlib';
import {
  type DocumentStore,
  type DocumentWriteOptions,
  isBerthError,
  type SignalOptions,
  type StoredDocument,
} from '@berth/core';
import { afterAll, describe, expect, it } from 'vitest';
import { createBackendFromUrl } from './backend-from-url.js';
import { DocumentBackend, type SizeWarningDetails } from './document-backend.js';
import { FileDocumentStore } from './file-document-store.js';
import { MemoryDocumentStore } from './memory-document-store.js';

type Player = { id: string; name: string; level?: number };

const directory = mkdtempSync(join(tmpdir(), 'berth-document-size-'));
afterAll(() => rmSync(directory, { recursive: true, force: true }));
let files = 0;
const nextFile = (): string => join(directory, `data-${++files}.json`);

/** A memory store that remembers the options of each write. */
class RecordingStore implements DocumentStore {
  readonly location = 'recording';
  readonly inner = new MemoryDocumentStore();
  readonly writes: (DocumentWriteOptions | undefined)[] = [];
  read(options?: SignalOptions): Promise<StoredDocument | null> {
    return this.inner.read(options);
  }
  write(data: Uint8Array, options?: DocumentWriteOptions): Promise<{ readonly etag: string }> {
    this.writes.push(options);
    return this.inner.write(data, options);
  }
}

describe('a gzip document', () => {
  it('is written compressed with compression: gzip, says so to the store, and reads back', async () => {
    const store = new RecordingStore();
    const backend = new DocumentBackend({ store, compression: 'gzip', debounceMs: 60_000 });
    await backend.repository<Player>('players').insert({ id: 'p1', name: 'Ada' });
    await backend.close();

    const stored = await store.read();
    if (stored === null) throw new Error('nothing stored');
    expect([...stored.data.subarray(0, 2)]).toEqual([0x1f, 0x8b]);
    expect(JSON.parse(gunzipSync(stored.data).toString('utf8'))).toMatchObject({ players: { p1: { name: 'Ada' } } });
    expect(store.writes[0]).toMatchObject({ contentEncoding: 'gzip' });

    const reloaded = new DocumentBackend({ store, compression: 'gzip' });
    expect(await reloaded.repository<Player>('players').get('p1')).toEqual({ id: 'p1', name: 'Ada' });
    await reloaded.close();
  });

  it('loads with compression off, and its next save is plain JSON again; a plain file loads with it on', async () => {
    const path = nextFile();
    writeFileSync(path, gzipSync(JSON.stringify({ players: { p1: { name: 'Ada' } } })));
    const plain = await createBackendFromUrl(`file:${path}?flushOnExit=false`);
    const players = plain.repository<Player>('players');
    expect(await players.get('p1')).toEqual({ id: 'p1', name: 'Ada' });
    await players.update('p1', { $set: { level: 2 } });
    await plain.close();
    expect(JSON.parse(readFileSync(path, 'utf8'))).toMatchObject({ players: { p1: { level: 2 } } });

    const gzip = await createBackendFromUrl(`file:${path}?flushOnExit=false&compression=gzip`);
    expect(await gzip.repository<Player>('players').get('p1')).toEqual({ id: 'p1', name: 'Ada', level: 2 });
    await gzip.repository<Player>('players').update('p1', { $set: { level: 3 } });
    await gzip.close();
    expect(JSON.parse(gunzipSync(readFileSync(path)).toString('utf8'))).toMatchObject({
      players: { p1: { level: 3 } },
    });
  });

  it('that is corrupt is refused at load with a non-retryable CONNECTION error naming the file', async () => {
    const path = nextFile();
    const valid = gzipSync(JSON.stringify({ players: {} }));
    writeFileSync(path, valid.subarray(0, valid.length - 6)); // cut off: no checksum, no length
    const backend = new DocumentBackend({ store: new FileDocumentStore(path) });
    const error = await backend.connect().catch((caught: unknown) => caught);
    expect(isBerthError(error, 'CONNECTION')).toBe(true);
    expect(error).toMatchObject({ retryable: false });
    expect((error as Error).message).toContain(path);
    expect((error as Error).message).toContain('gzip');
    await backend.close();
  });

  it('keeps both instances’ writes when their saves conflict and merge', async () => {
    const store = new MemoryDocumentStore();
    const first = new DocumentBackend({ store, compression: 'gzip', debounceMs: 60_000 });
    const second = new DocumentBackend({ store, compression: 'gzip', debounceMs: 60_000 });
    await first.connect();
    await second.connect();
    await first.repository<Player>('players').insert({ id: 'a', name: 'first' });
    await second.repository<Player>('players').insert({ id: 'b', name: 'second' });
    await first.flush();
    await second.flush(); // conflicts on the ETag, re-reads the gzip document and merges
    await first.close();
    await second.close();
    expect([...((await store.read())?.data.subarray(0, 2) ?? [])]).toEqual([0x1f, 0x8b]);

    const reloaded = new DocumentBackend({ store });
    expect(await reloaded.repository<Player>('players').find()).toEqual([
      { id: 'a', name: 'first' },
      { id: 'b', name: 'second' },
    ]);
    await reloaded.close();
  });

  it('refuses a compression other than gzip or none, in the config and in a file: URL', async () => {
    const store = new MemoryDocumentStore();
    const config = { store, compression: 'brotli' } as unknown as ConstructorParameters<typeof DocumentBackend>[0];
    expect(() => new DocumentBackend(config)).toThrow(/compression must be 'gzip' or 'none'/);
    await expect(createBackendFromUrl(`file:${nextFile()}?compression=zip`)).rejects.toMatchObject({
      code: 'VALIDATION',
    });
  });
});

describe('the size warning', () => {
  /** A backend whose warnings are collected; `name` lengths set the document's size. */
  function warned(warnAtBytes: number) {
    const store = new MemoryDocumentStore();
    const warnings: [number, SizeWarningDetails][] = [];
    const backend = new DocumentBackend({
      store,
      warnAtBytes,
      debounceMs: 60_000,
      onSizeWarning: (bytes, details) => warnings.push([bytes, details]),
    });
    return { store, backend, warnings, players: backend.repository<Player>('players') };
  }

  it('fires once when a save passes warnAtBytes, not on the saves after, and again after coming back under', async () => {
    const { store, backend, warnings, players } = warned(1_000);
    await players.insert({ id: 'p1', name: 'small' });
    await backend.flush();
    expect(warnings).toEqual([]);

    await players.update('p1', { $set: { name: 'x'.repeat(2_000) } });
    await backend.flush();
    const size = (await store.read())?.data.length;
    expect(warnings).toEqual([[size, { limit: 1_000, location: store.location }]]);

    await players.insert({ id: 'p2', name: 'y'.repeat(500) });
    await backend.flush();
    expect(warnings).toHaveLength(1);

    await players.update('p1', { $set: { name: 'small again' } });
    await players.delete('p2');
    await backend.flush();
    expect(warnings).toHaveLength(1);

    await players.update('p1', { $set: { name: 'z'.repeat(3_000) } });
    await backend.flush();
    expect(warnings).toHaveLength(2);
    await backend.close();
  });

  it('measures the document as stored: the same text warns in plain JSON and not gzipped', async () => {
    const warnings = new Map<string, number[]>();
    for (const compression of ['none', 'gzip'] as const) {
      warnings.set(compression, []);
      const backend = new DocumentBackend({
        store: new MemoryDocumentStore(),
        compression,
        warnAtBytes: 1_000,
        debounceMs: 60_000,
        onSizeWarning: (bytes) => warnings.get(compression)?.push(bytes),
      });
      await backend.repository<Player>('players').insert({ id: 'p1', name: 'x'.repeat(5_000) });
      await backend.close();
    }
    expect(warnings.get('none')).toHaveLength(1);
    expect(warnings.get('gzip')).toEqual([]);
  });

  it('a failed save does not warn; the save that succeeds does', async () => {
    const store = new RecordingStore();
    let failNextWrite = true;
    const write = store.write.bind(store);
    store.write = async (data, options) => {
      if (failNextWrite) {
        failNextWrite = false;
        throw new Error('disk full');
      }
      return write(data, options);
    };
    const warnings: number[] = [];
    const backend = new DocumentBackend({
      store,
      warnAtBytes: 100,
      debounceMs: 60_000,
      onSaveError: () => undefined,
      onSizeWarning: (bytes) => warnings.push(bytes),
    });
    await backend.repository<Player>('players').insert({ id: 'p1', name: 'x'.repeat(500) });
    await expect(backend.flush()).rejects.toThrow('disk full');
    expect(warnings).toEqual([]);
    await backend.flush();
    expect(warnings).toEqual([(await store.read())?.data.length]);
    await backend.close();
  });

  it('a backend opened on a document already past the limit warns at its first save', async () => {
    const store = new MemoryDocumentStore();
    const first = new DocumentBackend({ store, debounceMs: 60_000 });
    await first.repository<Player>('players').insert({ id: 'p1', name: 'x'.repeat(2_000) });
    await first.close();
    const warnings: number[] = [];
    const reopened = new DocumentBackend({
      store,
      warnAtBytes: 1_000,
      debounceMs: 60_000,
      onSizeWarning: (bytes) => warnings.push(bytes),
    });
    await reopened.repository<Player>('players').update('p1', { $set: { level: 1 } });
    await reopened.close();
    expect(warnings).toHaveLength(1);
  });

  it('refuses a warnAtBytes that is not an integer > 0', () => {
    for (const warnAtBytes of [0, -1, 1.5, Number.NaN]) {
      expect(() => new DocumentBackend({ store: new MemoryDocumentStore(), warnAtBytes })).toThrow(
        /warnAtBytes must be an integer > 0/,
      );
    }
  });
});

import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  ConflictError,
  type DocumentStore,
  type DocumentWriteOptions,
  isBerthError,
  type SignalOptions,
  type StoredDocument,
} from '@berth/core';
import { afterAll, describe, expect, it } from 'vitest';
import { createBackendFromUrl } from './backend-from-url.js';
import { DocumentBackend, type SaveErrorDetails } from './document-backend.js';
import { MemoryDocumentStore } from './memory-document-store.js';

type Item = { id: string; n?: number; email?: string; by?: string };

async function storedJson(store: DocumentStore): Promise<Record<string, Record<string, unknown>>> {
  const stored = await store.read();
  if (stored === null) throw new Error('nothing stored');
  return JSON.parse(new TextDecoder().decode(stored.data));
}

/**
 * A store that runs `beforeRead` once before the next read and `beforeWrite`
 * once before the next write: another instance's write lands at that point.
 */
class SteppedStore implements DocumentStore {
  readonly location = 'stepped';
  readonly inner = new MemoryDocumentStore();
  beforeRead: (() => Promise<void>) | undefined;
  beforeWrite: (() => Promise<void>) | undefined;
  writes = 0;
  async read(options?: SignalOptions): Promise<StoredDocument | null> {
    const step = this.beforeRead;
    this.beforeRead = undefined;
    await step?.();
    return this.inner.read(options);
  }
  async write(data: Uint8Array, options?: DocumentWriteOptions): Promise<{ readonly etag: string }> {
    this.writes += 1;
    const step = this.beforeWrite;
    this.beforeWrite = undefined;
    await step?.();
    return this.inner.write(data, options);
  }
}

/** Two backends on one store that both loaded `seed`, and what each one's hook heard. */
async function pair(seed: Record<string, unknown> = {}, store: DocumentStore = new MemoryDocumentStore()) {
  const inner = store instanceof SteppedStore ? store.inner : store;
  await inner.write(new TextEncoder().encode(JSON.stringify(seed)));
  const heard = { first: [] as unknown[], second: [] as unknown[] };
  const open = (name: 'first' | 'second') =>
    new DocumentBackend({ store, debounceMs: 60_000, onSaveError: (error) => heard[name].push(error) });
  const first = open('first');
  const second = open('second');
  await first.connect();
  await second.connect();
  return { store: inner, first, second, heard };
}

describe("DocumentBackend with conflicts: 'merge' (the default)", () => {
  it('keeps the inserts, updates and deletes of both instances on different entities, and shows each the other', async () => {
    const { store, first, second, heard } = await pair({ items: { x: { n: 0 }, y: { n: 0 }, z: { n: 0 } } });
    await first.repository<Item>('items').insert({ id: 'from-first' });
    await first.repository<Item>('items').update('x', { n: 1 });
    await first.flush();
    const items = second.repository<Item>('items');
    await items.insert({ id: 'from-second' });
    await items.update('y', { n: 2 });
    await items.delete('z');
    await second.flush();
    expect(heard).toEqual({ first: [], second: [] });
    const saved = (await storedJson(store)).items ?? {};
    expect(Object.keys(saved).sort()).toEqual(['from-first', 'from-second', 'x', 'y']);
    expect(saved.x).toEqual({ id: 'x', n: 1 });
    expect(saved.y).toEqual({ id: 'y', n: 2 });
    // The merged document is what the second instance reads now, and it keeps accepting writes.
    expect(await items.get('from-first')).toEqual({ id: 'from-first' });
    expect((await items.getEntry('x'))?.meta.version).toBe(2);
    await items.insert({ id: 'later' });
    await second.flush();
    expect(Object.keys((await storedJson(store)).items ?? {})).toContain('later');
    await first.close();
    await second.close();
  });

  it('the same entity changed on both sides: the remote version wins and the hook hears CONFLICT naming it', async () => {
    const { store, first, second, heard } = await pair({ items: { x: { n: 0 }, y: { n: 0 } } });
    await first.repository<Item>('items').update('x', { by: 'first' });
    await first.flush();
    const items = second.repository<Item>('items');
    await items.update('x', { by: 'second' });
    await items.update('y', { by: 'second' });
    await second.flush();
    expect(heard.first).toEqual([]);
    expect(heard.second).toHaveLength(1);
    const [conflict] = heard.second;
    expect(isBerthError(conflict, 'CONFLICT')).toBe(true);
    expect(conflict).toMatchObject({ collection: 'items', id: 'x', retryable: false });
    const saved = (await storedJson(store)).items ?? {};
    expect(saved.x).toEqual({ id: 'x', n: 0, by: 'first' });
    expect(saved.y).toEqual({ id: 'y', n: 0, by: 'second' });
    expect(await items.get('x')).toEqual({ id: 'x', n: 0, by: 'first' });
    await first.close();
    await second.close();
  });

  it('an update against a remote delete conflicts; a delete on both sides does not', async () => {
    const { store, first, second, heard } = await pair({ items: { gone: { n: 0 }, both: { n: 0 } } });
    await first.repository<Item>('items').delete('gone');
    await first.repository<Item>('items').delete('both');
    await first.flush();
    await second.repository<Item>('items').update('gone', { n: 5 });
    await second.repository<Item>('items').delete('both');
    await second.flush();
    expect(heard.second).toHaveLength(1);
    expect(heard.second[0]).toMatchObject({ code: 'CONFLICT', collection: 'items', id: 'gone' });
    expect((await storedJson(store)).items).toEqual({});
    await first.close();
    await second.close();
  });

  it('an entity inserted under one id on both sides: the remote one wins', async () => {
    const { store, first, second, heard } = await pair();
    await first.repository<Item>('items').insert({ id: 'same', by: 'first' });
    await first.flush();
    await second.repository<Item>('items').insert({ id: 'same', by: 'second' });
    await second.flush();
    expect(heard.second[0]).toMatchObject({ code: 'CONFLICT', collection: 'items', id: 'same' });
    expect((await storedJson(store)).items?.same).toEqual({ id: 'same', by: 'first' });
    await first.close();
    await second.close();
  });

  it('a local entity that breaks a unique index in the merged state is dropped with CONFLICT', async () => {
    const seed = { $berth: { format: 1, indexes: { users: [{ field: 'email', type: 'string', unique: true }] } } };
    const { store, first, second, heard } = await pair(seed);
    await first.repository<Item>('users').insert({ id: 'a', email: 'e@x' });
    await first.flush();
    await second.repository<Item>('users').insert({ id: 'b', email: 'e@x' });
    await second.repository<Item>('users').insert({ id: 'c', email: 'other@x' });
    await second.flush();
    expect(heard.second).toHaveLength(1);
    expect(heard.second[0]).toMatchObject({ code: 'CONFLICT', collection: 'users', id: 'b' });
    expect(Object.keys((await storedJson(store)).users ?? {}).sort()).toEqual(['a', 'c']);
    // The merged state enforces the index: the dropped value is free to nobody but its holder.
    await expect(second.repository<Item>('users').insert({ id: 'd', email: 'e@x' })).rejects.toMatchObject({
      code: 'ALREADY_EXISTS',
    });
    await first.close();
    await second.close();
  });

  it('index declarations add up and the other side’s top-level keys are kept', async () => {
    const { store, first, second } = await pair({ settings: [1, 2] });
    await first.repository<Item>('items', { indexes: [{ field: 'n', type: 'number' }] }).insert({ id: 'a', n: 1 });
    await first.flush();
    // A third party writes a key of its own in between.
    const current = await store.read();
    const edited = { ...JSON.parse(new TextDecoder().decode(current?.data)), version: 7 };
    await store.write(new TextEncoder().encode(JSON.stringify(edited)), { ifMatch: current?.etag as string });
    const indexes = [{ field: 'email', type: 'string', unique: true }] as const;
    await second.repository<Item>('items', { indexes: [...indexes] }).insert({ id: 'b', email: 'e@x' });
    await second.flush();
    const saved = await storedJson(store);
    expect(saved.settings).toEqual([1, 2]);
    expect(saved.version).toBe(7);
    expect((saved.$berth as { indexes: Record<string, unknown[]> }).indexes.items).toEqual(
      expect.arrayContaining([
        { field: 'n', type: 'number', unique: false },
        { field: 'email', type: 'string', unique: true },
      ]),
    );
    await first.close();
    await second.close();
  });

  it('an index declared here that the other side’s documents break is dropped and reported, the documents kept', async () => {
    const { store, first, second, heard } = await pair();
    await first.repository<Item>('users').insert({ id: 'a', email: 'e@x' });
    await first.repository<Item>('users').insert({ id: 'b', email: 'e@x' });
    await first.flush();
    const indexes = [{ field: 'email', type: 'string', unique: true }] as const;
    await second.repository<Item>('users', { indexes: [...indexes] }).insert({ id: 'c', email: 'c@x' });
    await second.flush();
    expect(heard.second).toHaveLength(1);
    expect(heard.second[0]).toMatchObject({ code: 'CONFLICT', collection: 'users', id: undefined });
    expect((heard.second[0] as Error).message).toContain('index on email');
    const saved = await storedJson(store);
    expect(Object.keys(saved.users ?? {}).sort()).toEqual(['a', 'b', 'c']);
    expect((saved.$berth as { indexes?: unknown }).indexes).toBeUndefined();
    await first.close();
    await second.close();
  });

  it('a write of this instance made while the merge reads the remote document is saved too', async () => {
    const stepped = new SteppedStore();
    const { store, first, second, heard } = await pair({}, stepped);
    await first.repository<Item>('items').insert({ id: 'first' });
    await first.flush();
    await second.repository<Item>('items').insert({ id: 'second' });
    stepped.beforeRead = () =>
      second
        .repository<Item>('items')
        .insert({ id: 'during-merge' })
        .then(() => undefined);
    await second.flush();
    await second.flush();
    expect(heard.second).toEqual([]);
    expect(Object.keys((await storedJson(store)).items ?? {}).sort()).toEqual(['during-merge', 'first', 'second']);
    await first.close();
    await second.close();
  });

  it('merges again when another write lands before its save, and reports CONFLICT with willRetry after too many', async () => {
    const stepped = new SteppedStore();
    const other = new DocumentBackend({ store: stepped.inner, debounceMs: 60_000 });
    await other.repository<Item>('items').insert({ id: 'other-start' });
    await other.flush();
    const reports: [unknown, SaveErrorDetails][] = [];
    const backend = new DocumentBackend({
      store: stepped,
      debounceMs: 60_000,
      onSaveError: (error, details) => reports.push([error, details]),
    });
    await backend.repository<Item>('items').insert({ id: 'mine' });
    // The other instance saves right before each of this one's saves, every time.
    let interfering = true;
    let n = 0;
    const interfere = async () => {
      await other.repository<Item>('items').insert({ id: `other-${n++}` });
      await other.flush();
      if (interfering) stepped.beforeWrite = interfere;
    };
    stepped.beforeWrite = interfere;
    await expect(backend.flush()).rejects.toBeInstanceOf(ConflictError);
    expect(reports).toHaveLength(1);
    expect(isBerthError(reports[0]?.[0], 'CONFLICT')).toBe(true);
    expect(reports[0]?.[1]).toEqual({ attempt: 1, willRetry: true });
    // One save and ten merges, each met by a newer document.
    expect(n).toBe(11);
    expect(stepped.writes).toBe(11);
    // Once the other instance pauses, the next save merges and succeeds.
    interfering = false;
    stepped.beforeWrite = undefined;
    await backend.flush();
    expect(Object.keys((await storedJson(stepped.inner)).items ?? {})).toHaveLength(n + 2);
    expect((await backend.health()).ok).toBe(true);
    await other.close();
    await backend.close();
  });

  it('a transaction that read a document a merge changed conflicts at commit and runs again on the merged state', async () => {
    const { store, first, second } = await pair({ items: { x: { n: 0 } } });
    await first.repository<Item>('items').update('x', { n: 1 });
    await first.flush();
    await second.repository<Item>('items').insert({ id: 'mine' });
    let runs = 0;
    await second.transaction(
      async (tx) => {
        runs += 1;
        const x = await tx.repository<Item>('items').get('x');
        // The merge takes in the other instance's x while this transaction runs.
        if (runs === 1) await second.flush();
        await tx.repository<Item>('items').insert({ id: 'copy', n: x?.n ?? -1 });
      },
      { retries: 1 },
    );
    expect(runs).toBe(2);
    await second.flush();
    expect((await storedJson(store)).items?.copy).toEqual({ id: 'copy', n: 1 });
    await first.close();
    await second.close();
  });

  it("refuses a conflicts option other than 'merge' or 'fail'", () => {
    expect(() => new DocumentBackend({ store: new MemoryDocumentStore(), conflicts: 'overwrite' as 'merge' })).toThrow(
      expect.objectContaining({ code: 'VALIDATION' }),
    );
  });

  it('a file: URL takes ?conflicts=merge|fail and refuses anything else with VALIDATION', async () => {
    const directory = mkdtempSync(join(tmpdir(), 'berth-document-merge-'));
    afterAll(() => rmSync(directory, { recursive: true, force: true }));
    const url = (conflicts: string) => `file:${join(directory, 'data.json')}?flushOnExit=false&conflicts=${conflicts}`;
    await expect(createBackendFromUrl(url('overwrite'))).rejects.toMatchObject({ code: 'VALIDATION' });
    const opened: DocumentBackend[] = [];
    for (const conflicts of ['merge', 'fail', 'merge']) {
      const backend = (await createBackendFromUrl(url(conflicts))) as DocumentBackend;
      await backend.connect();
      opened.push(backend);
    }
    const [first, failing, merging] = opened as [DocumentBackend, DocumentBackend, DocumentBackend];
    await first.repository<Item>('items').insert({ id: 'a' });
    await first.flush();
    await merging.repository<Item>('items').insert({ id: 'b' });
    await merging.flush();
    await failing.repository<Item>('items').insert({ id: 'c' });
    await expect(failing.flush()).rejects.toMatchObject({ code: 'CONFLICT' });
    expect(await merging.repository<Item>('items').count()).toBe(2);
    for (const backend of opened) await backend.close().catch(() => undefined);
  });
});

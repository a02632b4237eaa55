import { DocumentBackend, type DocumentBackendConfig, MemoryCache, MemoryDocumentStore } from '@berth/adapter-memory';
import { ConnectionError, instrument, type SignalOptions, withCache } from '@berth/core';
import { startOperation } from '@berth/core/adapter';
import { describe, expect, it } from 'vitest';
import { lifecycleGroup } from '../groups/lifecycle-group.js';
import { runGroup } from '../harness.js';

// The lifecycle group's flush cases, against the document-backed backend with
// a debounce far longer than a test: only flush() (or close()) can have saved.

type Open = (config: DocumentBackendConfig) => DocumentBackend;

async function failedCases(open: Open): Promise<string[]> {
  const stores = new WeakMap<object, MemoryDocumentStore>();
  const backendOn = (store: MemoryDocumentStore): DocumentBackend => {
    const backend = open({ store, debounceMs: 60_000, onSaveError: () => undefined });
    stores.set(backend, store);
    return backend;
  };
  const results = await runGroup(lifecycleGroup, {
    name: 'flush self-test',
    createBackend: () => backendOn(new MemoryDocumentStore()),
    openSameStorage: (first) => backendOn(stores.get(first) as MemoryDocumentStore),
    capabilities: new DocumentBackend({ store: new MemoryDocumentStore() }).capabilities,
  });
  expect(results.length).toBeGreaterThan(0);
  return results.filter((result) => !result.passed).map((result) => result.name);
}

class SavesOnlyOnClose extends DocumentBackend {
  override async flush(options?: SignalOptions): Promise<void> {
    startOperation(options, 'flush');
  }
}

class RefusesFlushAfterClose extends DocumentBackend {
  private closedYet = false;

  override async close(): Promise<void> {
    await super.close();
    this.closedYet = true;
  }

  override async flush(options?: SignalOptions): Promise<void> {
    if (this.closedYet) throw new ConnectionError('closed', { retryable: false });
    await super.flush(options);
  }
}

class IgnoresTheSignal extends DocumentBackend {
  override async flush(): Promise<void> {
    await super.flush();
  }
}

describe('the lifecycle group on flush()', () => {
  it('passes the document-backed backend', async () => {
    expect(await failedCases((config) => new DocumentBackend(config))).toEqual([]);
  });

  it('rejects a durable backend whose flush() saves nothing', async () => {
    expect(await failedCases((config) => new SavesOnlyOnClose(config))).toEqual([
      'after flush() on a durable backend, a second backend on the same storage reads what was written',
    ]);
  });

  it('rejects a flush() that fails after close()', async () => {
    expect(await failedCases((config) => new RefusesFlushAfterClose(config))).toEqual([
      'flush() resolves while open, refuses an aborted signal, and resolves after close()',
    ]);
  });

  it('rejects a flush() that ignores an aborted signal', async () => {
    expect(await failedCases((config) => new IgnoresTheSignal(config))).toEqual([
      'flush() resolves while open, refuses an aborted signal, and resolves after close()',
    ]);
  });

  it('reaches the document-backed backend through withCache and instrument', async () => {
    const store = new MemoryDocumentStore();
    const events: string[] = [];
    const inner = new DocumentBackend({ store, debounceMs: 60_000 });
    const backend = withCache(
      instrument(inner, { onOperation: (event) => events.push(`${event.operation} ${event.ok}`) }),
      new MemoryCache(),
    );
    await backend.repository('players').insert({ id: 'a', name: 'Ada' });
    const before = new DocumentBackend({ store });
    expect(await before.repository('players').get('a')).toBeNull();
    await before.close();
    await backend.flush();
    expect(events).toEqual(['insert true', 'flush true']);
    const after = new DocumentBackend({ store });
    expect(await after.repository('players').get('a')).toStrictEqual({ id: 'a', name: 'Ada' });
    await after.close();
    await backend.close();
  });
});

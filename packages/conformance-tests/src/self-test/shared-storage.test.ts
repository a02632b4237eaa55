import { DocumentBackend, MemoryBackend, MemoryDocumentStore } from '@berth/adapter-memory';
import type { Capabilities, RepositoryBackend } from '@berth/core';
import { describe, expect, it } from 'vitest';
import { sharedStorageGroup } from '../groups/shared-storage-group.js';
import { type ConformanceOptions, runGroup } from '../harness.js';
import { override } from '../override.js';
import { documentBackends, forgetfulDocumentBackends } from './broken-shared-storage.js';

// The memory backend claims no durability; here it stands in for one that
// does, so the shared-storage group runs against it.
const capabilities: Capabilities = {
  ...new MemoryBackend().capabilities,
  repository: { ...new MemoryBackend().capabilities.repository, durable: true },
};

const documentCapabilities = new DocumentBackend({ store: new MemoryDocumentStore() }).capabilities;

/** Another handle on the same in-process storage: closing it leaves the first open. */
const sameStorage = (first: RepositoryBackend): RepositoryBackend =>
  override(first, { connect: async () => undefined, close: async () => undefined });

async function failedCases(options: Partial<ConformanceOptions>): Promise<string[]> {
  const results = await runGroup(sharedStorageGroup, {
    name: 'shared-storage self-test',
    createBackend: () => new MemoryBackend(),
    capabilities,
    ...options,
  });
  expect(results.length).toBeGreaterThan(0);
  return results.filter((result) => !result.passed).map((result) => result.name);
}

describe('the shared-storage group', () => {
  it('passes two handles on one storage', async () => {
    // The test's own backend is a handle too: closing it leaves the storage to the others, as with a real database.
    const createBackend = () => sameStorage(new MemoryBackend());
    expect(await failedCases({ createBackend, openSameStorage: sameStorage })).toEqual([]);
  });

  it('fails a durable adapter whose run does not say how to open a second backend', async () => {
    const results = await runGroup(sharedStorageGroup, {
      createBackend: () => new MemoryBackend(),
      capabilities,
    });
    const failure = results.find((result) => !result.passed);
    expect(String((failure?.error as Error | undefined)?.message)).toMatch(/openSameStorage/);
  });

  it('rejects a second backend that keeps storage of its own (never rereads what the first wrote)', async () => {
    const failed = await failedCases({ openSameStorage: () => new MemoryBackend() });
    expect(failed).toContain('what one backend commits, a second backend on the same storage reads, both ways');
    expect(failed).toContain('a unique value taken through one backend is refused through the other');
  });

  it('passes the document-backed backend, which keeps its index declarations in the document', async () => {
    expect(await failedCases({ ...documentBackends(), capabilities: documentCapabilities })).toEqual([]);
  });

  it('rejects a document-backed backend that forgets index declarations when reopened', async () => {
    expect(await failedCases({ ...forgetfulDocumentBackends(), capabilities: documentCapabilities })).toEqual([
      'index declarations persist: after the first backend closed, a second one enforces its unique index without redeclaring it',
    ]);
  });
});

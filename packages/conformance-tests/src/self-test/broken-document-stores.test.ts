import { MemoryDocumentStore } from '@berth/adapter-memory';
import { describe, expect, it } from 'vitest';
import {
  type DocumentStoreHandles,
  documentBackendGroup,
  documentStoreGroups,
  documentStoreRunOptions,
} from '../document-store-suite.js';
import { type ConformanceGroup, runGroup } from '../harness.js';
import { brokenDocumentStores, healthyDocumentBackend } from './broken-document-stores.js';

const groups: readonly ConformanceGroup<DocumentStoreHandles, unknown>[] = [
  ...documentStoreGroups,
  documentBackendGroup,
];

// The document store suite proves it can fail: each deliberately broken store
// must be rejected by the group named beside it.
describe('the suite rejects broken document stores', () => {
  for (const broken of brokenDocumentStores) {
    it(`group "${broken.group}" rejects a store that ${broken.name}`, async () => {
      const group = groups.find((candidate) => candidate.name === broken.group);
      if (group === undefined) throw new Error(`no group named ${broken.group}`);
      const results = await runGroup(
        group,
        documentStoreRunOptions({
          name: broken.name,
          createStore: broken.create,
          createDocumentBackend: broken.createDocumentBackend ?? healthyDocumentBackend,
        }),
      );
      const failed = results.filter((result) => !result.passed).map((result) => result.name);
      expect(failed.length, `no case of "${broken.group}" failed`).toBeGreaterThan(0);
    }, 120_000);
  }

  // Without this, a group that fails everything (a bug in the harness glue)
  // would "reject" every broken store.
  it('every group passes a healthy memory store when run the same way', async () => {
    for (const group of groups) {
      const results = await runGroup(
        group,
        documentStoreRunOptions({
          name: 'healthy',
          createStore: () => new MemoryDocumentStore(),
          createDocumentBackend: healthyDocumentBackend,
        }),
      );
      expect(
        results.filter((result) => !result.passed),
        group.name,
      ).toEqual([]);
      expect(results.length, group.name).toBe(group.cases.length);
    }
  }, 120_000);
});

import { documentStoreAbortGroup } from './document-store-groups/abort-group.js';
import { documentStoreConditionalGroup } from './document-store-groups/conditional-group.js';
import {
  type DocumentStoreConformanceContext,
  type DocumentStoreConformanceOptions,
  type DocumentStoreHandles,
  documentStoreRunOptions,
} from './document-store-groups/document-store-context.js';
import { documentStoreRaceGroup } from './document-store-groups/race-group.js';
import { documentStoreReadWriteGroup } from './document-store-groups/read-write-group.js';
import { type ConformanceGroup, registerGroup } from './harness.js';

export {
  type DocumentStoreConformanceContext,
  type DocumentStoreConformanceOptions,
  DocumentStoreHandles,
  defineDocumentStoreGroup,
  documentStoreRunOptions,
} from './document-store-groups/document-store-context.js';
export { documentStoreAbortGroup, documentStoreConditionalGroup, documentStoreRaceGroup, documentStoreReadWriteGroup };

/** Every document store group, in the order they are registered. */
export const documentStoreGroups: readonly ConformanceGroup<DocumentStoreHandles, DocumentStoreConformanceContext>[] = [
  documentStoreReadWriteGroup,
  documentStoreConditionalGroup,
  documentStoreRaceGroup,
  documentStoreAbortGroup,
];

/**
 * Registers the whole document store suite in the calling vitest file. Each
 * test gets a fresh, empty document from `createStore`; `openSameDocument`
 * gives the cases a second client on it, so that compare-and-swap is tested
 * between writers that share nothing but the document.
 *
 * ### Examples
 * ```ts
 * // file-document-store.conformance.test.ts
 * import { mkdtempSync } from 'node:fs';
 * import { tmpdir } from 'node:os';
 * import { join } from 'node:path';
 * import { FileDocumentStore } from '@berth/adapter-memory';
 * import { documentStoreConformance } from '@berth/conformance-tests';
 *
 * const directory = mkdtempSync(join(tmpdir(), 'documents-'));
 * let counter = 0;
 * documentStoreConformance({
 *   name: 'file',
 *   createStore: () => new FileDocumentStore(join(directory, `${++counter}.json`)),
 *   openSameDocument: (store) => new FileDocumentStore(store.location),
 * });
 * ```
 */
export function documentStoreConformance(options: DocumentStoreConformanceOptions): void {
  const harnessOptions = documentStoreRunOptions(options);
  for (const group of documentStoreGroups) registerGroup(group, harnessOptions);
}

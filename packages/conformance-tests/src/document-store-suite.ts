import { documentStoreAbortGroup } from './document-store-groups/abort-group.js';
import { documentStoreConditionalGroup } from './document-store-groups/conditional-group.js';
import { documentBackendGroup } from './document-store-groups/document-backend-group.js';
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
  type DocumentBackendConformanceContext,
  documentBackendGroup,
} from './document-store-groups/document-backend-group.js';
export {
  type CreateDocumentBackend,
  type DocumentBackedBackend,
  type DocumentBackendOptions,
  type DocumentStoreConformanceContext,
  type DocumentStoreConformanceOptions,
  DocumentStoreHandles,
  defineDocumentStoreGroup,
  documentStoreRunOptions,
} from './document-store-groups/document-store-context.js';
export { documentStoreAbortGroup, documentStoreConditionalGroup, documentStoreRaceGroup, documentStoreReadWriteGroup };

/**
 * Every document store group, in the order they are registered.
 *
 * ### Examples
 * ```ts
 * import {
 *   type DocumentStoreConformanceOptions,
 *   documentStoreGroups,
 *   documentStoreRunOptions,
 *   runGroup,
 * } from '@berth/conformance-tests';
 *
 * declare const options: DocumentStoreConformanceOptions;
 * for (const group of documentStoreGroups) {
 *   const failed = (await runGroup(group, documentStoreRunOptions(options))).filter((result) => !result.passed);
 *   console.log(group.name, failed.length === 0 ? 'passed' : failed.map((result) => result.name));
 * }
 * ```
 */
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
 * between writers that share nothing but the document. With
 * `createDocumentBackend`, the `document-backend` group also runs the
 * document-backed backend on the store.
 *
 * ### Examples
 * ```ts
 * // file-document-store.conformance.test.ts
 * import { mkdtempSync } from 'node:fs';
 * import { tmpdir } from 'node:os';
 * import { join } from 'node:path';
 * import { DocumentBackend, FileDocumentStore } from '@berth/adapter-memory';
 * import { documentStoreConformance } from '@berth/conformance-tests';
 *
 * const directory = mkdtempSync(join(tmpdir(), 'documents-'));
 * let counter = 0;
 * documentStoreConformance({
 *   name: 'file',
 *   createStore: () => new FileDocumentStore(join(directory, `${++counter}.json`)),
 *   openSameDocument: (store) => new FileDocumentStore(store.location),
 *   createDocumentBackend: (store, options) => new DocumentBackend({ store, ...options }),
 * });
 * ```
 */
export function documentStoreConformance(options: DocumentStoreConformanceOptions): void {
  const harnessOptions = documentStoreRunOptions(options);
  for (const group of documentStoreGroups) registerGroup(group, harnessOptions);
  if (options.createDocumentBackend !== undefined) registerGroup(documentBackendGroup, harnessOptions);
}

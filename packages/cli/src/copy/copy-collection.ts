import {
  AbortedError,
  type AnyDocument,
  type Backend,
  type Entry,
  type IndexDefinition,
  type Repository,
} from '@berth/core';
import type { CheckpointState } from './checkpoint-state.js';
import type { CopyBackendsOptions } from './copy-types.js';

/** One collection to copy, as planned before anything is written. */
export interface CollectionPlan {
  readonly name: string;
  readonly indexes: readonly IndexDefinition[];
  readonly sourceCount: number;
  readonly targetCountBefore: number | undefined;
}

/** Rejects with `ABORTED` once the copy's signal fired. */
export function stopIfAborted(signal: AbortSignal | undefined): void {
  if (signal?.aborted === true) {
    throw new AbortedError('berth copy was interrupted', { cause: signal.reason });
  }
}

/**
 * Streams one collection into the target in id order, a batch at a time,
 * saving the checkpoint after imported batches (see checkpointIntervalMs)
 * and when stopped, and resolves to how many
 * documents this run imported. Resumes after the checkpoint's last id.
 */
export async function copyCollection(
  plan: CollectionPlan,
  options: CopyBackendsOptions & { readonly batchSize: number },
  checkpoint: CheckpointState,
): Promise<number> {
  const { from, to, batchSize, signal, onProgress } = options;
  const saved = checkpoint.collection(plan.name);
  const progress = { lastId: saved?.lastId, copied: saved?.copied ?? 0 };
  // Written before the first import, so that a run killed before its first checkpoint still resumes (its target is no longer empty).
  await checkpoint.saveCollection(plan.name, { ...progress, done: false });
  const target = to.repository(plan.name, { indexes: plan.indexes });
  onProgress?.({ type: 'collection-start', collection: plan.name, copied: progress.copied, total: plan.sourceCount });
  let importedNow = 0;
  let batch: Entry<AnyDocument>[] = [];
  const saveEveryMs = checkpointIntervalMs(to);
  let savedAt = Date.now();
  const save = async (done: boolean): Promise<void> => {
    // A document-backed target (file:, s3:) saves on its own schedule; the checkpoint must not get ahead of it.
    await to.flush();
    await checkpoint.saveCollection(plan.name, { ...progress, done });
    savedAt = Date.now();
  };
  const importBatch = async (): Promise<void> => {
    await target.importEntries(batch);
    importedNow += batch.length;
    progress.copied += batch.length;
    progress.lastId = batch.at(-1)?.document.id;
    batch = [];
    if (signal?.aborted === true || Date.now() - savedAt >= saveEveryMs) await save(false);
    onProgress?.({ type: 'batch', collection: plan.name, copied: progress.copied, total: plan.sourceCount });
  };
  try {
    for await (const entry of sourceEntries(from, plan.name, progress.lastId, batchSize, signal)) {
      batch.push(entry);
      if (batch.length < batchSize) continue;
      await importBatch();
      stopIfAborted(signal);
    }
    if (batch.length > 0) await importBatch();
  } catch (error) {
    // Keep what was imported (an interrupted read, a refused batch): the next run goes on from there.
    await save(false).catch(() => undefined);
    throw error;
  }
  await save(true);
  onProgress?.({ type: 'collection-done', collection: plan.name, copied: progress.copied, total: plan.sourceCount });
  return importedNow;
}

/**
 * How often the checkpoint is saved: after every batch, except for a
 * document-backed target (`file:`, `s3:`), where saving means rewriting the
 * whole document: at most every 2 s there. A checkpoint that lags only means
 * that a resumed copy imports a few batches again (imports replace).
 */
function checkpointIntervalMs(to: Backend): number {
  return to.capabilities.repository.concurrentBackends === false ? 2_000 : 0;
}

/** The source's entries in id order, after `lastId` when resuming. */
function sourceEntries(
  from: Backend,
  name: string,
  lastId: string | undefined,
  batchSize: number,
  signal: AbortSignal | undefined,
): AsyncIterableIterator<Entry<AnyDocument>> {
  const source: Repository = from.repository(name);
  const where = lastId === undefined ? undefined : { id: { $gt: lastId } };
  return source.iterateEntries({ where, orderBy: 'id' }, { batchSize, signal });
}

import type { CollectionInfo } from '@berth/core';
import { CliError, EXIT } from '../cli-error.js';
import { emptyCheckpoint, readCheckpoint } from './checkpoint.js';
import { CheckpointState } from './checkpoint-state.js';
import { digestCollection } from './checksum.js';
import { type CollectionPlan, copyCollection } from './copy-collection.js';
import { copyQueue, queueContents, queueCounts } from './copy-queues.js';
import type {
  CollectionCopyReport,
  CopyBackendsOptions,
  CopyReport,
  QueueCopyReport,
  QueueCounts,
  TargetSchema,
} from './copy-types.js';
import { describeQueue, digestQueue, sameQueue } from './queue-digest.js';

/**
 * Documents per batch of {@link copyBackends} (and `berth copy`) unless `batchSize` says otherwise.
 *
 * ### Examples
 * ```ts
 * import { DEFAULT_COPY_BATCH_SIZE } from '@berth/cli';
 *
 * const batchSize = Math.min(DEFAULT_COPY_BATCH_SIZE * 2, 10_000);
 * ```
 */
export const DEFAULT_COPY_BATCH_SIZE = 500;
const MAX_COPY_BATCH_SIZE = 10_000;

/**
 * Copies collections (and, with `queues`, job queues) from one backend to
 * another, keeping ids, versions and timestamps: each collection is read in
 * id order and imported in batches (`importEntries`), with the source's
 * indexes declared on the target. A target collection that already holds
 * documents is refused before anything is written, unless the checkpoint
 * says this copy began it. With `checkpointPath`, progress is saved after
 * every batch and a later call resumes; the file is removed at the end,
 * after comparing counts and checksums (`report.mismatches`).
 * Memory stays bounded by about two batches.
 *
 * ### Examples
 * ```ts
 * import { createBackend } from '@berth/core';
 * import { copyBackends } from '@berth/cli';
 *
 * const from = await createBackend('sqlite:./app.db');
 * const to = await createBackend('memory:');
 * const report = await copyBackends({ from, to, collections: ['users'], signal: AbortSignal.timeout(60_000) });
 * for (const { name, copied } of report.collections) console.log(name, copied);
 * if (report.mismatches.length > 0) process.exitCode = 4;
 * await Promise.all([from.close(), to.close()]);
 * ```
 */
export async function copyBackends(options: CopyBackendsOptions): Promise<CopyReport> {
  const batchSize = checkBatchSize(options.batchSize);
  const settings = { ...options, batchSize };
  const { from, to } = options;
  const source = options.source ?? from.kind;
  const target = options.target ?? to.kind;
  const checkpoint = new CheckpointState(
    options.checkpointPath,
    await loadCheckpoint(options.checkpointPath, source, target),
  );
  if (options.targetSchema !== undefined && options.dryRun !== true) {
    throw new CliError('targetSchema is only for a dry run', EXIT.usage, 'connect the target (it migrates) and copy');
  }
  const collections = await planCollections(settings);
  const queues = options.queues === true ? await planQueues(settings) : [];
  if (options.dryRun === true) return dryRunReport(collections, queues, options.targetSchema);
  refuseOccupiedTargets(collections, queues, checkpoint);
  const queueNames = queues.map((queue) => queue.name);
  const collectionReports: CollectionCopyReport[] = [];
  for (const plan of collections) {
    const saved = checkpoint.collection(plan.name);
    const copied = saved?.done === true ? 0 : await copyCollection(plan, settings, checkpoint);
    collectionReports.push(collectionReport(plan, copied, saved !== undefined));
  }
  const queueReports: QueueCopyReport[] = [];
  for (const name of queueNames) queueReports.push(await copyQueue(name, settings, checkpoint));
  // Removed only after verification, so that an interrupted verification is run again by the next run.
  const report =
    options.verify === false
      ? { dryRun: false, collections: collectionReports, queues: queueReports, mismatches: [] }
      : await verify(settings, collectionReports, queueReports);
  await checkpoint.remove();
  return report;
}

function checkBatchSize(batchSize: number | undefined): number {
  if (batchSize === undefined) return DEFAULT_COPY_BATCH_SIZE;
  if (!Number.isSafeInteger(batchSize) || batchSize < 1 || batchSize > MAX_COPY_BATCH_SIZE) {
    throw new CliError(
      `the batch size must be an integer from 1 to ${MAX_COPY_BATCH_SIZE}, got ${batchSize}`,
      EXIT.usage,
    );
  }
  return batchSize;
}

async function loadCheckpoint(path: string | undefined, source: string, target: string) {
  const saved = path === undefined ? undefined : await readCheckpoint(path);
  if (saved === undefined) return emptyCheckpoint(source, target);
  if (saved.source !== source || saved.target !== target) {
    throw new CliError(
      `the checkpoint ${path} belongs to a copy from ${saved.source} to ${saved.target}, not from ${source} to ${target}`,
      EXIT.usage,
      'pass another --checkpoint path, or finish that copy first',
    );
  }
  return saved;
}

/**
 * Which collections to copy, with the source's indexes and both sides' counts; reads only.
 * A target whose schema is not set up (`targetSchema`) is not read: empty, or not countable before migrating.
 */
async function planCollections(options: CopyBackendsOptions): Promise<CollectionPlan[]> {
  const { from, to, signal, targetSchema } = options;
  const selected = selectCollections(await from.collections({ signal }), options.collections);
  // Only collections the target lists are counted: opening a missing one may create it, and a dry run writes nothing.
  const existing =
    targetSchema === undefined
      ? new Set((await to.collections({ signal })).map((info) => info.name))
      : new Set<string>();
  const unread = targetSchema?.empty === false ? undefined : 0;
  const plans: CollectionPlan[] = [];
  for (const { name, indexes } of selected) {
    const sourceCount = await from.repository(name).count(undefined, { signal });
    const targetCountBefore = existing.has(name) ? await to.repository(name).count(undefined, { signal }) : unread;
    plans.push({ name, indexes, sourceCount, targetCountBefore });
  }
  return plans;
}

/** Refuses, before anything is written, to copy into collections or queues that hold data this copy did not put there. */
function refuseOccupiedTargets(
  collections: readonly CollectionPlan[],
  queues: readonly QueuePlan[],
  checkpoint: CheckpointState,
): void {
  const occupied = collections
    .filter((plan) => (plan.targetCountBefore ?? 0) > 0 && checkpoint.collection(plan.name) === undefined)
    .map((plan) => `collection ${plan.name} (${plan.targetCountBefore} documents)`);
  const occupiedQueues = queues
    .filter((plan) => (plan.targetContents ?? 0) > 0 && checkpoint.queue(plan.name) === undefined)
    .map((plan) => `queue ${plan.name} (${plan.targetContents} jobs and schedules)`);
  if (occupied.length + occupiedQueues.length === 0) return;
  throw new CliError(
    `the target already holds data in ${[...occupied, ...occupiedQueues].join(', ')}; nothing was copied`,
    EXIT.failed,
    'copy into empty collections and queues: empty them first, or leave them out (--collections, no --queues)',
  );
}

function selectCollections(
  available: readonly CollectionInfo[],
  wanted: readonly string[] | undefined,
): CollectionInfo[] {
  if (wanted === undefined) return [...available];
  const byName = new Map(available.map((info) => [info.name, info]));
  const unknown = wanted.filter((name) => !byName.has(name));
  if (unknown.length > 0) {
    const names = available.map((info) => info.name).join(', ') || 'none';
    throw new CliError(`the source has no collection ${unknown.join(', ')}`, EXIT.usage, `its collections: ${names}`);
  }
  return [...new Set(wanted)].map((name) => byName.get(name) as CollectionInfo);
}

/** A queue to copy: the source's counts and what the target already holds. */
interface QueuePlan {
  readonly name: string;
  readonly source: QueueCounts;
  /** `undefined`: the target's schema is not set up and it holds data (a dry run cannot count it). */
  readonly targetContents: number | undefined;
}

async function planQueues(options: CopyBackendsOptions): Promise<QueuePlan[]> {
  const { from, to, signal, targetSchema } = options;
  for (const [backend, side] of [
    [from, 'source'],
    [to, 'target'],
  ] as const) {
    if (backend.capabilities.queue.level === 'none') {
      throw new CliError(
        `the ${side} (${backend.kind}) holds no job queues`,
        EXIT.usage,
        'run the copy without --queues',
      );
    }
  }
  const plans: QueuePlan[] = [];
  for (const name of await from.queues({ signal })) {
    plans.push({
      name,
      source: await queueCounts(from, name, signal),
      targetContents:
        targetSchema === undefined ? await queueContents(to, name, signal) : targetSchema.empty ? 0 : undefined,
    });
  }
  return plans;
}

function dryRunReport(
  collections: readonly CollectionPlan[],
  queues: readonly QueuePlan[],
  targetSchema: TargetSchema | undefined,
): CopyReport {
  const nothing = (listed: number) => ({ listed, imported: 0, skipped: 0 });
  return {
    ...(targetSchema === undefined ? {} : { targetSchema }),
    dryRun: true,
    collections: collections.map((plan) => collectionReport(plan, 0, false)),
    queues: queues.map(({ name, source, targetContents }) => ({
      name,
      waiting: nothing(source.waiting),
      dead: nothing(source.dead),
      schedules: { copied: 0, existing: 0 },
      targetContents,
    })),
    mismatches: [],
  };
}

function collectionReport(plan: CollectionPlan, copied: number, resumed: boolean): CollectionCopyReport {
  const { name, indexes, sourceCount, targetCountBefore } = plan;
  return { name, indexes, sourceCount, targetCountBefore, copied, resumed };
}

async function verify(
  options: CopyBackendsOptions & { readonly batchSize: number },
  collections: readonly CollectionCopyReport[],
  queues: readonly QueueCopyReport[],
): Promise<CopyReport> {
  const { from, to, batchSize, signal, onProgress } = options;
  const mismatches: string[] = [];
  const verifiedCollections: CollectionCopyReport[] = [];
  for (const report of collections) {
    const source = await digestCollection(from.repository(report.name), batchSize, signal);
    const target = await digestCollection(to.repository(report.name), batchSize, signal);
    const ok = source.count === target.count && source.checksum === target.checksum;
    if (!ok) {
      mismatches.push(
        `collection ${report.name}: source ${source.count} documents sha256 ${source.checksum}, ` +
          `target ${target.count} documents sha256 ${target.checksum}`,
      );
    }
    onProgress?.({ type: 'verify', name: report.name, ok });
    verifiedCollections.push({ ...report, verification: { source, target } });
  }
  const verifiedQueues: QueueCopyReport[] = [];
  for (const report of queues) {
    const source = await digestQueue(from.queue(report.name), batchSize, signal);
    const target = await digestQueue(to.queue(report.name), batchSize, signal);
    const ok = sameQueue(source, target);
    if (!ok) mismatches.push(`queue ${report.name}: source ${describeQueue(source)}; target ${describeQueue(target)}`);
    onProgress?.({ type: 'verify', name: report.name, ok });
    verifiedQueues.push({ ...report, verification: { source, target } });
  }
  return { dryRun: false, collections: verifiedCollections, queues: verifiedQueues, mismatches };
}

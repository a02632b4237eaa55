import type { Backend, IndexDefinition } from '@berth/core';
import type { CollectionDigest } from './checksum.js';

/**
 * Options of {@link copyBackends}.
 *
 * ### Examples
 * ```ts
 * import { createBackend } from '@berth/core';
 * import { type CopyBackendsOptions, copyBackends } from '@berth/cli';
 *
 * const from = await createBackend('memory:');
 * const to = await createBackend('memory:');
 * const options: CopyBackendsOptions = { from, to, batchSize: 1_000, checkpointPath: './copy.json' };
 * const report = await copyBackends(options);
 * console.log(report.mismatches.length === 0 ? 'verified' : report.mismatches.join('\n'));
 * ```
 */
export interface CopyBackendsOptions {
  /** The backend read from (connected). */
  readonly from: Backend;
  /** The backend written to (connected). */
  readonly to: Backend;
  /** How the source is named in the checkpoint and messages, without credentials (default: its kind). */
  readonly source?: string | undefined;
  /** How the target is named in the checkpoint and messages, without credentials (default: its kind). */
  readonly target?: string | undefined;
  /** Only these collections (each must exist in the source); default: every collection `from.collections()` lists. */
  readonly collections?: readonly string[] | undefined;
  /** Also copy every queue's waiting (delayed included) and dead jobs, and its schedules. Default false. */
  readonly queues?: boolean | undefined;
  /** Documents read and imported per batch (and jobs per page, at most 1000): an integer from 1 to 10 000, default 500. */
  readonly batchSize?: number | undefined;
  /**
   * A JSON file saved after every imported batch; when it exists, the copy
   * resumes from it, and it is removed once everything is copied and verified. Without
   * it, an interrupted copy cannot resume (its targets are no longer empty).
   */
  readonly checkpointPath?: string | undefined;
  /** Read only: report counts, indexes and whether each target is empty, and write nothing. */
  readonly dryRun?: boolean | undefined;
  /**
   * Only with `dryRun`: the target's schema is not set up, so `to` (opened
   * with `migrate: false`, not connected) is not read, and the report says
   * what the real copy would set up. `berth copy --dry-run` passes it.
   */
  readonly targetSchema?: TargetSchema | undefined;
  /** Compare counts and checksums of every copied collection (and queue) at the end. Default true. */
  readonly verify?: boolean | undefined;
  /** Stops the copy after the batch being imported (which is checkpointed); rejects with `ABORTED`. */
  readonly signal?: AbortSignal | undefined;
  /** Called as the copy goes (collection started, batch imported, collection done, verification). */
  readonly onProgress?: ((event: CopyProgressEvent) => void) | undefined;
}

/**
 * What {@link copyBackends} reports to `onProgress`.
 *
 * ### Examples
 * ```ts
 * import type { CopyProgressEvent } from '@berth/cli';
 *
 * function line(event: CopyProgressEvent): string {
 *   return event.type === 'batch' ? `${event.collection}: ${event.copied}/${event.total}` : event.type;
 * }
 * ```
 */
export type CopyProgressEvent =
  | { readonly type: 'collection-start'; readonly collection: string; readonly copied: number; readonly total: number }
  | { readonly type: 'batch'; readonly collection: string; readonly copied: number; readonly total: number }
  | { readonly type: 'collection-done'; readonly collection: string; readonly copied: number; readonly total: number }
  | { readonly type: 'queue-done'; readonly queue: string; readonly imported: number; readonly skipped: number }
  | { readonly type: 'verify'; readonly name: string; readonly ok: boolean };

/**
 * One collection in a {@link CopyReport}.
 *
 * ### Examples
 * ```ts
 * import type { CollectionCopyReport } from '@berth/cli';
 *
 * const summary = (c: CollectionCopyReport) => `${c.name}: ${c.copied} of ${c.sourceCount}`;
 * ```
 */
export interface CollectionCopyReport {
  readonly name: string;
  /** The source's declared indexes, declared on the target too. */
  readonly indexes: readonly IndexDefinition[];
  /** Documents in the source when the copy began. */
  readonly sourceCount: number;
  /**
   * Documents the target held when the copy began (0 unless resuming);
   * `undefined` in a dry run whose target has pending migrations: it cannot be counted before migrating.
   */
  readonly targetCountBefore: number | undefined;
  /** Documents imported by this run (a resumed run counts what it imported; 0 for a dry run). */
  readonly copied: number;
  /** This run resumed the collection from a checkpoint. */
  readonly resumed: boolean;
  /** Both sides' counts and checksums, when verified. */
  readonly verification?: { readonly source: CollectionDigest; readonly target: CollectionDigest } | undefined;
}

/**
 * Jobs of one state copied by `--queues`.
 *
 * ### Examples
 * ```ts
 * import type { JobsCopied } from '@berth/cli';
 *
 * const done = ({ listed, imported, skipped }: JobsCopied) => listed === imported + skipped;
 * ```
 */
export interface JobsCopied {
  /** Jobs listed in the source. */
  readonly listed: number;
  readonly imported: number;
  /** Already in the target (same id, or a live job with the same dedupe key). */
  readonly skipped: number;
}

/**
 * One queue in a {@link CopyReport}.
 *
 * ### Examples
 * ```ts
 * import type { QueueCopyReport } from '@berth/cli';
 *
 * const summary = (q: QueueCopyReport) => `${q.name}: ${q.waiting.imported} waiting, ${q.dead.imported} dead`;
 * ```
 */
export interface QueueCopyReport {
  readonly name: string;
  /** Waiting jobs, delayed ones included. */
  readonly waiting: JobsCopied;
  readonly dead: JobsCopied;
  /** Schedules created in the target, and those it already had (left as they were). */
  readonly schedules: { readonly copied: number; readonly existing: number };
  /** Jobs and schedules the target held before (reported by a dry run; `undefined` when they cannot be counted before migrating). */
  readonly targetContents?: number | undefined;
  /** Both sides' counts and checksums of waiting and dead jobs and of schedules, when verified. */
  readonly verification?: { readonly source: QueueDigest; readonly target: QueueDigest } | undefined;
}

/**
 * A queue's counts as `berth copy --queues --dry-run` plans them (from
 * `stats()`); verification compares them with checksums ({@link QueueDigest}).
 *
 * ### Examples
 * ```ts
 * import type { QueueCounts } from '@berth/cli';
 *
 * const same = (a: QueueCounts, b: QueueCounts) => a.waiting === b.waiting && a.dead === b.dead && a.schedules === b.schedules;
 * ```
 */
export interface QueueCounts {
  readonly waiting: number;
  readonly dead: number;
  readonly schedules: number;
}

/**
 * One side of a queue as `berth copy --queues` verifies it: the counts of
 * waiting (delayed included) and dead jobs and of schedules, and two
 * checksums. `jobsChecksum` covers every waiting and dead job by the fields
 * `importJobs` keeps (id, payload, state, priority, attempts, maxAttempts,
 * runAt, dedupeKey, leaseMs, errors, result, progress, timeoutMs, createdAt,
 * updatedAt, finishedAt); `schedulesChecksum` covers each schedule's
 * definition and next tick (name, spec, payload, jobOptions, missed, overlap,
 * paused, nextRunAt), not its version, times, `lastRunAt` or `lastJobId`,
 * which the target sets itself. Each checksum is the sum modulo 2^256 of the
 * SHA-256 of every item's canonical JSON, in 64 hex digits, so it does not
 * depend on the order in which an engine lists jobs created in the same
 * millisecond.
 *
 * ### Examples
 * ```ts
 * import type { QueueDigest } from '@berth/cli';
 *
 * const same = (a: QueueDigest, b: QueueDigest) =>
 *   a.waiting === b.waiting && a.dead === b.dead && a.schedules === b.schedules &&
 *   a.jobsChecksum === b.jobsChecksum && a.schedulesChecksum === b.schedulesChecksum;
 * ```
 */
export interface QueueDigest extends QueueCounts {
  /** Over every waiting and dead job: 64 hex digits. */
  readonly jobsChecksum: string;
  /** Over every schedule: 64 hex digits. */
  readonly schedulesChecksum: string;
}

/**
 * What {@link copyBackends} did.
 *
 * ### Examples
 * ```ts
 * import type { CopyReport } from '@berth/cli';
 *
 * const copied = (report: CopyReport) => report.collections.reduce((sum, c) => sum + c.copied, 0);
 * ```
 */
export interface CopyReport {
  readonly dryRun: boolean;
  readonly collections: readonly CollectionCopyReport[];
  readonly queues: readonly QueueCopyReport[];
  /** One line per verification failure (collection or queue, both counts and checksums); empty when all matched or not verified. */
  readonly mismatches: readonly string[];
  /** A dry run's target whose schema the real copy would set up or migrate first. */
  readonly targetSchema?: TargetSchema | undefined;
}

/**
 * A target whose schema is not set up yet, as a dry run reports it: the real
 * copy would create it (`exists` false: a SQLite file not there yet) or
 * apply `pendingMigrations` first.
 *
 * ### Examples
 * ```ts
 * import type { TargetSchema } from '@berth/cli';
 *
 * const describe = (schema: TargetSchema) =>
 *   schema.exists ? `${schema.pendingMigrations.length} migrations pending` : 'would be created';
 * ```
 */
export interface TargetSchema {
  /** The target database exists (false: a SQLite file the copy would create). */
  readonly exists: boolean;
  /** The migrations the copy would apply, oldest first (`"3 health probe"`); empty when the target does not exist yet. */
  readonly pendingMigrations: readonly string[];
  /** The target holds no Berth schema at all, so nothing to copy over; false: it holds data that cannot be counted before migrating. */
  readonly empty: boolean;
}

import type {
  BulkJobsOptions,
  BulkJobsResult,
  JobOrder,
  JobPage,
  JobState,
  ListJobsOptions,
  PruneOptions,
  RetryJobsOptions,
} from '@berth/core';
import {
  type BulkChange,
  bulkStepOfJobs,
  JOB_STATES,
  type JobAccess,
  type JobPosition,
  mergeJobStreams,
  type NormalizedBulkJobs,
  normalizeCancelJobs,
  normalizeListJobs,
  normalizePrune,
  normalizeRetryJobs,
  pageOfJobs,
  throwIfAborted,
} from '@berth/core/adapter';
import type { RedisJobQueueContext } from './redis-job-queue.js';
import { LIST, PRUNE } from './redis-queue-lua.js';
import { decodeDocument, hashOf, type JobHash, listingMember, toJob } from './redis-queue-rows.js';
import { RedisQueueScript } from './redis-queue-script.js';

const listScript = new RedisQueueScript(LIST);
const pruneScript = new RedisQueueScript(PRUNE);

/** Where a listing or bulk step stands after a job, and its payload (for payload filters). */
const HASH_ACCESS: JobAccess<JobHash> = {
  position: (hash) => ({ createdAt: Number(hash.cat), id: hash.id as string }),
  payload: (hash) => decodeDocument(hash.pl as string),
};

/** The most jobs one state's read brings back for a filtered page before it reads again with a larger batch. */
const FIRST_FILTERED_BATCH = 500;

/** What the admin side needs of its queue. */
interface AdminHost {
  run(script: RedisQueueScript, args: readonly (string | number)[]): Promise<unknown>;
  emitExpired(expired: readonly [string, 'waiting' | 'dead', string][], now: number): void;
  cancelIds(ids: readonly string[], states: string): Promise<string[]>;
  retryIds(ids: readonly string[], states: string): Promise<{ revived: string[] }>;
}

/**
 * Listing, bulk retry and cancel, and retention for one queue. Each state
 * has a sorted set whose members are `createdAt` (15 digits) and the id, so
 * its lexicographic order is the listing order and a page is a range read
 * after the cursor's member, never a sort or a skip.
 */
export class RedisQueueAdmin<T> {
  constructor(
    private readonly name: string,
    private readonly context: RedisJobQueueContext,
    private readonly host: AdminHost,
  ) {}

  /** Up to `limit` jobs of each of `states` in `order`, strictly after `after`, in one script call. */
  private async read(
    states: readonly JobState[],
    order: JobOrder,
    after: JobPosition | undefined,
    limit: number,
  ): Promise<JobHash[][]> {
    const from = after === undefined ? '' : listingMember(after.createdAt, after.id);
    const [now, expired, ranges] = (await this.host.run(listScript, [order, from, limit, ...states])) as [
      string,
      [string, 'waiting' | 'dead', string][],
      unknown[][],
    ];
    this.host.emitExpired(expired, Number(now));
    return ranges.map((range) => range.map(hashOf));
  }

  /**
   * Reads each state's range (all five, merged, without a state) and lets
   * core's `pageOfJobs` cut the page. With a payload filter a page may
   * examine up to `MAX_JOBS_EXAMINED` jobs: the ranges are read in growing
   * batches until the page no longer runs past what was read.
   */
  async listJobs(options?: ListJobsOptions): Promise<JobPage<T>> {
    throwIfAborted(options?.signal, `${this.name}.listJobs`);
    const list = normalizeListJobs(this.name, options);
    const states = list.state === undefined ? JOB_STATES : [list.state];
    const most = list.maxExamined + 1;
    let batch = list.payload === undefined ? Math.min(most, list.limit + 1) : Math.min(most, FIRST_FILTERED_BATCH);
    for (;;) {
      const ranges = await this.read(states, list.order, list.after, batch);
      let overrun = false;
      const streams = ranges.map(function* (rows): Generator<JobHash> {
        yield* rows;
        if (rows.length === batch) overrun = true;
      });
      const candidates =
        streams.length === 1
          ? (streams[0] as Generator<JobHash>)
          : mergeJobStreams(streams, list.order, HASH_ACCESS.position);
      const page = pageOfJobs(candidates, list, HASH_ACCESS);
      // Unfiltered, a page takes at most limit + 1 jobs, so limit + 1 of each state always suffice.
      if (!overrun || batch >= most || list.payload === undefined) {
        return { jobs: page.jobs.map((hash) => toJob<T>(hash, this.name)), cursor: page.cursor };
      }
      batch = Math.min(most, batch * 4);
    }
  }

  async retryJobs(options?: RetryJobsOptions): Promise<BulkJobsResult> {
    throwIfAborted(options?.signal, `${this.name}.retryJobs`);
    const bulk = normalizeRetryJobs(this.name, options);
    return this.bulkStep(bulk, async (rows) => {
      const keys = rows.flatMap((row) => (row.dk === undefined ? [] : [row.dk]));
      const holders = keys.length === 0 ? [] : await this.holders(keys);
      const held = new Map(keys.map((key, index) => [key, holders[index]]));
      const taken = new Set<string>();
      return {
        change: (row) => {
          if (row.dk === undefined) return 'changed';
          const holder = held.get(row.dk);
          if ((holder !== undefined && holder !== null && holder !== row.id) || taken.has(row.dk)) return 'skipped';
          // Two dead jobs with one key: only the first goes back.
          taken.add(row.dk);
          return 'changed';
        },
        apply: async (ids) => (await this.host.retryIds(ids, bulk.state)).revived,
      };
    });
  }

  async cancelJobs(options?: BulkJobsOptions): Promise<BulkJobsResult> {
    throwIfAborted(options?.signal, `${this.name}.cancelJobs`);
    const bulk = normalizeCancelJobs(this.name, options);
    return this.bulkStep(bulk, async () => ({
      change: () => 'changed',
      apply: (ids) => this.host.cancelIds(ids, 'waiting'),
    }));
  }

  /** The live jobs holding `keys` (null where none does). */
  private async holders(keys: readonly string[]): Promise<(string | null)[]> {
    const client = await this.context.client();
    try {
      return await client.hmget(`${this.context.base}d`, ...keys);
    } catch (error) {
      throw this.context.toBerthError(error);
    }
  }

  /**
   * One bulk step: the state's jobs oldest first after the cursor, at most
   * `limit` examined, `change` decided for each whose payload matches, then
   * the changed ones written by one script that checks each job's state
   * again: a job a worker claimed in between is simply not changed, and the
   * step counts only what it wrote.
   */
  private async bulkStep(
    bulk: NormalizedBulkJobs,
    prepare: (
      rows: readonly JobHash[],
    ) => Promise<{ change: (row: JobHash) => BulkChange; apply: (ids: string[]) => Promise<string[]> }>,
  ): Promise<BulkJobsResult> {
    const [rows = []] = await this.read([bulk.state], 'oldest', bulk.after, bulk.limit + 1);
    const { change, apply } = await prepare(rows);
    const step = bulkStepOfJobs(rows, bulk, HASH_ACCESS, change);
    const ids = step.changed.map((row) => row.id as string);
    const changed = ids.length === 0 ? [] : await apply(ids);
    return { changed: changed.length, skipped: step.skipped, cursor: step.cursor };
  }

  /**
   * Per finished state: the jobs finished before the age bound (server
   * clock), then the oldest finished beyond the count bound, from the
   * state's sorted set by finish time, in one script call.
   */
  async prune(options?: PruneOptions): Promise<number> {
    throwIfAborted(options?.signal, `${this.name}.prune`);
    const { retention, limit } = normalizePrune(options, this.context.retention);
    const args: string[] = [String(limit)];
    for (const state of ['completed', 'dead', 'cancelled'] as const) {
      const rule = retention[state];
      args.push(
        rule?.maxAgeMs === undefined ? '' : String(rule.maxAgeMs),
        rule?.maxCount === undefined ? '' : String(rule.maxCount),
      );
    }
    return Number(await this.host.run(pruneScript, args));
  }
}

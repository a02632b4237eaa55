import type {
  EnqueueItem,
  EnqueueResult,
  ScheduleFireResult,
  ScheduleInput,
  ScheduleJobOptions,
  ScheduleRecord,
  ScheduleSpec,
  ScheduleTick,
  SignalOptions,
} from '@berth/core';
import { generateId } from '@berth/core';
import {
  checkScheduleInput,
  checkScheduleName,
  checkScheduleTick,
  prepareEnqueueItems,
  scheduledJob,
  throwIfAborted,
} from '@berth/core/adapter';
import { jobArguments, type RedisJobQueueContext } from './redis-job-queue.js';
import { FIRE_SCHEDULE, GET_SCHEDULES, PUT_SCHEDULE, REMOVE_SCHEDULE } from './redis-queue-lua.js';
import { decodeDocument, encodeDocument, hashOf, type JobHash } from './redis-queue-rows.js';
import { RedisQueueScript } from './redis-queue-script.js';

const scripts = {
  put: new RedisQueueScript(PUT_SCHEDULE),
  get: new RedisQueueScript(GET_SCHEDULES),
  remove: new RedisQueueScript(REMOVE_SCHEDULE),
  fire: new RedisQueueScript(FIRE_SCHEDULE),
};

/** How often a tick is fired again after the schedule changed between its read and its compare-and-set. */
const MAX_STALE_ROUNDS = 10;

const dateOf = (time: string | undefined): Date | undefined =>
  time === undefined ? undefined : new Date(Number(time));

function toSchedule<T>(hash: JobHash): ScheduleRecord<T> {
  return {
    name: hash.name as string,
    spec: JSON.parse(hash.spec as string) as ScheduleSpec,
    payload: decodeDocument<T>(hash.pl as string),
    jobOptions: JSON.parse(hash.jo as string) as ScheduleJobOptions,
    missed: hash.missed as 'once' | 'skip',
    overlap: hash.overlap as 'allow' | 'skip',
    paused: hash.paused === '1',
    nextRunAt: dateOf(hash.next),
    lastRunAt: dateOf(hash.last),
    lastJobId: hash.lastJob,
    createdAt: new Date(Number(hash.cat)),
    updatedAt: new Date(Number(hash.uat)),
    version: Number(hash.ver),
  };
}

/** What the schedule store needs of its queue. */
interface ScheduleHost {
  run(script: RedisQueueScript, args: readonly (string | number)[]): Promise<unknown>;
  afterEnqueue(serverNow: number, rows: readonly (readonly [string, string, string?])[]): EnqueueResult[];
}

/**
 * The schedules of one queue: a hash per schedule and a sorted set of their
 * names, under the queue's hash tag, so a tick's compare-and-set and its
 * job are one script on one slot.
 */
export class RedisQueueSchedules<T> {
  constructor(
    private readonly queue: string,
    private readonly context: RedisJobQueueContext,
    private readonly host: ScheduleHost,
  ) {}

  async put(schedule: ScheduleInput<T>, options?: SignalOptions): Promise<ScheduleRecord<T>> {
    throwIfAborted(options?.signal, `${this.queue}.putSchedule`);
    const input = checkScheduleInput<T>(schedule, this.context.maxPayloadBytes);
    const hash = await this.host.run(scripts.put, [
      input.name,
      JSON.stringify(input.spec),
      encodeDocument(input.payload),
      JSON.stringify(input.jobOptions),
      input.missed,
      input.overlap,
      input.paused ? '1' : '0',
      input.nextRunAt === undefined ? '' : String(input.nextRunAt.getTime()),
    ]);
    return toSchedule<T>(hashOf(hash));
  }

  async get(name: string, options?: SignalOptions): Promise<ScheduleRecord<T> | null> {
    throwIfAborted(options?.signal, `${this.queue}.getSchedule`);
    checkScheduleName(name);
    const [hash] = (await this.host.run(scripts.get, [name])) as unknown[];
    return hash === undefined ? null : toSchedule<T>(hashOf(hash));
  }

  async list(options?: SignalOptions): Promise<ScheduleRecord<T>[]> {
    throwIfAborted(options?.signal, `${this.queue}.listSchedules`);
    const hashes = (await this.host.run(scripts.get, [])) as unknown[];
    return hashes.map((hash) => toSchedule<T>(hashOf(hash)));
  }

  async remove(name: string, options?: SignalOptions): Promise<boolean> {
    throwIfAborted(options?.signal, `${this.queue}.removeSchedule`);
    checkScheduleName(name);
    return Number(await this.host.run(scripts.remove, [name])) > 0;
  }

  /**
   * Reads the schedule, builds the tick's job from it, then fires in one
   * script: the compare-and-set on `nextRunAt` and the enqueue together, so
   * however many processes race on a tick exactly one fires it. When the
   * schedule changed since the read (its job options may differ), it reads
   * again.
   */
  async fire(name: string, tick: ScheduleTick, options?: SignalOptions): Promise<ScheduleFireResult> {
    throwIfAborted(options?.signal, `${this.queue}.fireSchedule`);
    checkScheduleName(name);
    const checked = checkScheduleTick(tick);
    const runAt = String(checked.runAt.getTime());
    for (let round = 0; round < MAX_STALE_ROUNDS; round++) {
      const schedule = await this.get(name);
      if (schedule === null || schedule.paused || schedule.nextRunAt?.getTime() !== checked.runAt.getTime()) {
        return { fired: false };
      }
      const job = checked.enqueue ? this.tickJob(schedule, checked) : [];
      const answer = (await this.host.run(scripts.fire, [
        name,
        String(schedule.version),
        runAt,
        checked.nextRunAt === undefined ? '' : String(checked.nextRunAt.getTime()),
        checked.enqueue ? '1' : '0',
        ...job,
      ])) as [string, string?, [string, string, string?]?];
      if (answer[0] === 'stale') continue;
      if (answer[0] !== 'fired') return { fired: false };
      const row = answer[2];
      if (row === undefined) return { fired: true };
      const [result] = this.host.afterEnqueue(Number(answer[1]), [row]);
      return { fired: true, job: result as EnqueueResult };
    }
    return { fired: false };
  }

  private tickJob(schedule: ScheduleRecord<T>, tick: ScheduleTick): string[] {
    const now = Date.now();
    const item: EnqueueItem<T> = scheduledJob(schedule, tick);
    const [prepared] = prepareEnqueueItems([item], now, this.context.maxPayloadBytes);
    if (prepared === undefined) return [];
    return jobArguments(generateId(), prepared, true, now);
  }
}

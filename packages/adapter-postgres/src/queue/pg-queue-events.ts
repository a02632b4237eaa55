import { createHash, randomBytes } from 'node:crypto';
import {
  type BerthLogger,
  consoleLogger,
  type DocumentValue,
  type JobError,
  type JobEvent,
  type JobEventType,
} from '@berth/core';
import { fromJsonValue, JobEventHub, jobErrorOf, type StoredJobError } from '@berth/core/adapter';
import type { PgBackendContext } from '../pg-context.js';
import type { ChannelHandler, PgQueueListener } from './pg-queue-listener.js';
import { readyPool } from './pg-queue-open.js';
import { decodeDocument } from './pg-queue-rows.js';

/**
 * The NOTIFY channel of a schema's job events, beside its wake-up channel:
 * `berth_events_` and a hash of the schema. Each payload is one event.
 */
export function eventChannelOf(schema: string): string {
  return `berth_events_${createHash('sha256').update(schema).digest('hex').slice(0, 24)}`;
}

/**
 * The largest progress value or error (bytes of JSON) an event carries
 * itself. NOTIFY refuses payloads of 8000 bytes or more, and the rest of an
 * event (queue, id of up to 256 characters, escaped) stays under 2000: a
 * larger value is left out, and the listener reads it from the job. Events
 * sent in batches keep less, so that a batch (see {@link publishedEvents})
 * fits.
 */
const MAX_EVENT_VALUE_BYTES = 5_000;
const MAX_BATCHED_VALUE_BYTES = 1_500;

/** Bytes of events per batch: a batch ends after the event that crosses it, so it holds at most this and one event. */
const BATCH_BYTES = 4_000;

/**
 * The SQL of an event's payload, a JSON array: the origin (the writing
 * backend's), the type, the queue, the job's id, `at` (epoch ms), then the
 * type's own fields (`runAt`; `attempt`; `attempt` and the progress;
 * `attempt`, `retryAt` and the error; `attempt` and the error). A progress
 * or error over {@link MAX_EVENT_VALUE_BYTES} is left out of the array.
 * Arguments are SQL expressions; `value` is JSON text.
 */
export function eventPayload(
  origin: string,
  type: JobEventType,
  queue: string,
  id: string,
  at: string,
  fields: readonly string[] = [],
  value?: string,
  maxValueBytes: number = MAX_EVENT_VALUE_BYTES,
): string {
  // Parameters in json_build_array have no type of their own: name it.
  const head = [`${origin}::text`, `'${type}'`, `${queue}::text`, id, at, ...fields].join(', ');
  if (value === undefined) return `json_build_array(${head})::text`;
  return `CASE WHEN octet_length(${value}) <= ${maxValueBytes}
      THEN json_build_array(${head}, (${value})::json) ELSE json_build_array(${head}) END::text`;
}

/** {@link eventPayload} for an event sent in a batch: a smaller value fits. */
export function batchedEventPayload(
  origin: string,
  type: JobEventType,
  queue: string,
  id: string,
  at: string,
  fields: readonly string[] = [],
  value?: string,
): string {
  return eventPayload(origin, type, queue, id, at, fields, value, MAX_BATCHED_VALUE_BYTES);
}

/**
 * The SELECT that publishes a statement's events on `channel` (SQL
 * expressions; `events` selects one payload per row, in order): as JSON
 * arrays of events, one notification per batch of about
 * {@link BATCH_BYTES}, so a claim of ten jobs is one entry of the
 * notification queue, not ten. Its rows are the notifications sent.
 */
export function publishedEvents(channel: string, events: string): string {
  return `SELECT pg_notify(${channel}, b.batch) FROM (
      SELECT '[' || string_agg(n.p, ',' ORDER BY n.k) || ']' AS batch, n.chunk FROM (
        SELECT e.p, e.k, (sum(octet_length(e.p) + 1) OVER (ORDER BY e.k) - octet_length(e.p) - 1) / ${BATCH_BYTES} AS chunk
        FROM (SELECT p, row_number() OVER () AS k FROM (${events}) x(p)) e) n
      GROUP BY n.chunk ORDER BY n.chunk) b`;
}

/** Where a backend's statements publish their events, and the origin they tag them with. */
export interface PgEventTag {
  readonly channel: string;
  readonly origin: string;
}

/** A payload as parsed: `[origin, type, queue, jobId, at, ...fields]`. */
type Payload = [string, JobEventType, string, string, number, ...unknown[]];

/** What the listener reads of a job when a notification left its progress or error out. */
interface JobDetails {
  readonly progress: string | null;
  readonly errors: readonly StoredJobError[];
}

/**
 * The job events of one backend's queues: the hubs its own changes are
 * emitted into, the origin its statements tag their notifications with,
 * and the listening side that hands other backends' events (those of
 * every process on the schema) to the hubs of the queues they name.
 * Events are delivered in the order their transactions committed; one
 * whose value had to be read from the job holds back the ones after it.
 */
export class PgQueueEvents implements ChannelHandler, PgEventTag {
  /** This backend's tag on the events it publishes: its own come back through NOTIFY and are dropped. */
  readonly origin: string = randomBytes(9).toString('base64url');
  readonly channel: string;
  readonly logger: BerthLogger;
  private readonly hubs = new Map<string, JobEventHub>();
  /** Queues whose hub has subscribers: the events channel is listened to while there is one. */
  private subscriptions = 0;
  /** Deliveries waiting for a job's read, in order; undefined when none waits. */
  private backlog: Promise<void> | undefined;
  private waiting = 0;

  constructor(
    private readonly context: PgBackendContext,
    private readonly listener: PgQueueListener,
    /** Reads a job's progress and errors: `$1` id, `$2` queue. */
    private readonly detailsSql: string,
  ) {
    this.channel = eventChannelOf(context.schema);
    this.logger = context.logger ?? consoleLogger;
  }

  /** The hub of queue `name`. */
  hub(name: string): JobEventHub {
    let hub = this.hubs.get(name);
    if (hub === undefined) {
      hub = new JobEventHub(name, this.logger, { start: () => this.subscribed(), stop: () => this.unsubscribed() });
      this.hubs.set(name, hub);
    }
    return hub;
  }

  /** A queue's hub gained its first subscriber: LISTEN with the first of them. */
  private subscribed(): void {
    this.subscriptions += 1;
    if (this.subscriptions === 1) this.listener.listen(this.channel, this);
  }

  /** A queue's hub lost its last subscriber: UNLISTEN with the last of them. */
  private unsubscribed(): void {
    this.subscriptions -= 1;
    if (this.subscriptions === 0) this.listener.unlisten(this.channel);
  }

  notified(text: string): void {
    let parsed: Payload | Payload[];
    try {
      parsed = JSON.parse(text) as Payload | Payload[];
    } catch (error) {
      this.logger.warn('berth: a job event notification was not JSON; it is ignored', { error });
      return;
    }
    // A batch is an array of events; a single event starts with its origin.
    if (!Array.isArray(parsed[0])) {
      this.deliver(parsed as Payload, text);
      return;
    }
    const batch = parsed as Payload[];
    if (batch[0]?.[0] === this.origin) return;
    for (const payload of batch) this.deliver(payload, text);
  }

  /** Hands one event to its queue's hub, in order (`text` is the notification's, to look for dates cheaply). */
  private deliver(payload: Payload, text: string): void {
    const [origin, type, queue] = payload;
    if (origin === this.origin) return;
    const hub = this.hubs.get(queue);
    if (hub === undefined || !hub.wants(type)) return;
    const event = this.eventOf(payload, text);
    if (this.backlog === undefined && event !== undefined) {
      hub.emit(event);
      return;
    }
    this.waiting += 1;
    this.backlog = (this.backlog ?? Promise.resolve())
      .then(async () => {
        const complete = event ?? (await this.completed(payload));
        if (complete !== undefined) hub.emit(complete);
      })
      .catch((error: unknown) => {
        this.logger.warn(`berth: a ${type} event of queue ${queue} could not be read; it is skipped`, {
          error,
          queue,
          jobId: payload[3],
        });
      })
      .finally(() => {
        this.waiting -= 1;
        if (this.waiting === 0) this.backlog = undefined;
      });
  }

  lost(error: unknown): void {
    this.logger.warn(
      `berth: the connection listening for job events of schema ${this.context.schema} failed; events of other processes are missed until it listens again`,
      { error },
    );
  }

  resumed(): void {
    this.logger.warn(
      `berth: listening for job events of schema ${this.context.schema} again; events of other processes sent meanwhile were missed`,
    );
  }

  /** The event of a payload, or `undefined` when its progress or error was left out. */
  private eventOf(payload: Payload, text: string): JobEvent | undefined {
    const [, type, queue, jobId, atMs, ...fields] = payload;
    const at = new Date(atMs);
    const base = { queue, jobId, at };
    switch (type) {
      case 'enqueued':
        return { type, ...base, runAt: new Date(fields[0] as number) };
      case 'started':
      case 'completed':
      case 'expired':
        return { type, ...base, attempt: fields[0] as number };
      case 'progress': {
        if (fields.length < 2) return undefined;
        // A Date in the progress is encoded ({ $date }): decode only when the text holds one.
        const progress = text.includes('"$date"') ? fromJsonValue(fields[1]) : fields[1];
        return { type, ...base, attempt: fields[0] as number, progress: progress as DocumentValue };
      }
      case 'failed':
        if (fields.length < 3) return undefined;
        return {
          type,
          ...base,
          attempt: fields[0] as number,
          retryAt: new Date(fields[1] as number),
          error: jobErrorOf(fields[2] as StoredJobError),
        };
      case 'dead':
        if (fields.length < 2) return undefined;
        return { type, ...base, attempt: fields[0] as number, error: jobErrorOf(fields[1] as StoredJobError) };
      default:
        return { type, ...base };
    }
  }

  /** The event of a payload that left its value out, completed from the job (skipped when the job is gone). */
  private async completed(payload: Payload): Promise<JobEvent | undefined> {
    const [, type, queue, jobId, atMs, ...fields] = payload;
    const attempt = fields[0] as number;
    const pool = await readyPool(this.context);
    const [row] = await pool.query<JobDetails>(this.detailsSql, [jobId, queue]);
    if (row === undefined) return undefined;
    const base = { queue, jobId, at: new Date(atMs), attempt };
    if (type === 'progress') {
      if (row.progress === null) return undefined;
      return { type, ...base, progress: decodeDocument<DocumentValue>(row.progress) };
    }
    const stored = row.errors.findLast((error) => error.attempt === attempt);
    if (stored === undefined) return undefined;
    const error: JobError = jobErrorOf(stored);
    if (type === 'failed') return { type, ...base, retryAt: new Date(fields[1] as number), error };
    return { type: 'dead', ...base, error };
  }
}

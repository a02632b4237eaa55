import {
  type BerthLogger,
  consoleLogger,
  isBerthError,
  type JobState,
  type JobStats,
  type OperationEvent,
  type OperationStart,
  type SettleAndClaimResult,
} from '@berth/core';
import {
  type Attributes,
  type Context,
  type Counter,
  context,
  type Histogram,
  type Meter,
  type MeterProvider,
  metrics,
  type Span,
  SpanKind,
  SpanStatusCode,
  type Tracer,
  type TracerProvider,
  trace,
} from '@opentelemetry/api';
import {
  ATTR_BERTH_JOB_ATTEMPT,
  ATTR_BERTH_JOB_OUTCOME,
  ATTR_BERTH_JOB_STATE,
  ATTR_DB_COLLECTION_NAME,
  ATTR_DB_OPERATION_NAME,
  ATTR_DB_QUERY_TEXT,
  ATTR_DB_RESPONSE_RETURNED_ROWS,
  ATTR_DB_SYSTEM_NAME,
  ATTR_ERROR_TYPE,
  ATTR_MESSAGING_BATCH_MESSAGE_COUNT,
  ATTR_MESSAGING_DESTINATION_NAME,
  ATTR_MESSAGING_MESSAGE_ID,
  ATTR_MESSAGING_OPERATION_NAME,
  ATTR_MESSAGING_OPERATION_TYPE,
  ATTR_MESSAGING_SYSTEM,
  DB_DURATION_BUCKETS,
  MESSAGING_DURATION_BUCKETS,
  METRIC_BERTH_JOB_OUTCOMES,
  METRIC_BERTH_QUEUE_JOBS,
  METRIC_DB_CLIENT_OPERATION_DURATION,
  METRIC_MESSAGING_CLIENT_OPERATION_DURATION,
  METRIC_MESSAGING_PROCESS_DURATION,
  messagingType,
  systemName,
} from './semantic-conventions.js';

/** The name this package reports as its tracer and meter (the instrumentation scope). */
const SCOPE = '@berth/opentelemetry';

/**
 * Options of {@link instrumentWithOpenTelemetry} and
 * {@link subscribeOpenTelemetry}.
 *
 * ### Examples
 * ```ts
 * import type { OpenTelemetryOptions } from '@berth/opentelemetry';
 * import type { JobQueue } from '@berth/core';
 *
 * declare const mails: JobQueue<string>;
 * const options: OpenTelemetryOptions = { queues: [mails], captureQueries: false };
 * ```
 */
export interface OpenTelemetryOptions {
  /** Where spans go (default: the global tracer provider, `trace.getTracerProvider()`). */
  readonly tracerProvider?: TracerProvider | undefined;
  /** Where metrics go (default: the global meter provider, `metrics.getMeterProvider()`). */
  readonly meterProvider?: MeterProvider | undefined;
  /**
   * Queues whose depth (`stats()`, by state) is read at each metric
   * collection (default none): queue objects, or, for
   * `instrumentWithOpenTelemetry`, queue names of the backend it wraps.
   */
  readonly queues?: readonly (string | QueueDepthSource)[] | undefined;
  /**
   * Put the filter and sort of queries on spans as `db.query.text` (JSON)
   * (default `false`: filters hold application values, such as emails).
   */
  readonly captureQueries?: boolean | undefined;
  /** Hears about queues whose `stats()` failed during a collection (default `console`). */
  readonly logger?: BerthLogger | undefined;
}

/**
 * What the queue depth gauge reads of a queue: any `JobQueue` (from
 * `backend.queue(name)`) is one.
 *
 * ### Examples
 * ```ts
 * import type { QueueDepthSource } from '@berth/opentelemetry';
 * import { MemoryBackend } from '@berth/adapter-memory';
 *
 * const source: QueueDepthSource = new MemoryBackend().queue('mails');
 * ```
 */
export interface QueueDepthSource {
  readonly name: string;
  stats(): Promise<JobStats>;
}

/** One operation between its start and its end. */
interface Open {
  readonly span: Span;
  readonly context: Context;
  readonly started: number;
}

/** The error's `error.type`: a Berth error's code, else the error's class name. */
function errorType(error: unknown): string {
  if (isBerthError(error)) return error.code;
  if (error instanceof Error) return error.name || error.constructor.name;
  return '_OTHER';
}

function spanKind(start: OperationStart): SpanKind {
  switch (messagingType(start)) {
    case 'send':
      return SpanKind.PRODUCER;
    case 'process':
      return SpanKind.CONSUMER;
    case 'receive':
    case 'settle':
      return SpanKind.CLIENT;
    default:
      return start.operation === 'work' || start.operation === 'transaction' ? SpanKind.INTERNAL : SpanKind.CLIENT;
  }
}

/** The span name: `{operation} {target}`, or `{messaging.operation.name} {queue}`, or the operation alone. */
function spanName(start: OperationStart): string {
  return start.target === '' ? start.operation : `${start.operation} ${start.target}`;
}

/** The attributes known when an operation begins; they are also the metric attributes. */
function startAttributes(start: OperationStart): Attributes {
  const system = systemName(start.backend);
  if (start.kind === 'queue') {
    const attributes: Attributes = {
      [ATTR_MESSAGING_SYSTEM]: system,
      [ATTR_MESSAGING_DESTINATION_NAME]: start.target,
      [ATTR_MESSAGING_OPERATION_NAME]: start.operation,
    };
    const type = messagingType(start);
    if (type !== undefined) attributes[ATTR_MESSAGING_OPERATION_TYPE] = type;
    return attributes;
  }
  const attributes: Attributes = { [ATTR_DB_SYSTEM_NAME]: system, [ATTR_DB_OPERATION_NAME]: start.operation };
  if (start.target !== '') attributes[ATTR_DB_COLLECTION_NAME] = start.target;
  return attributes;
}

function queryText(start: OperationStart): string | undefined {
  if (start.where === undefined && start.orderBy === undefined) return undefined;
  try {
    return JSON.stringify({ where: start.where, orderBy: start.orderBy });
  } catch {
    return undefined;
  }
}

const BATCHES = new Set(['enqueueMany', 'importJobs', 'dequeueMany', 'settleAndClaim']);
/** The reads whose rows are rows returned (`db.response.returned_rows`); a write's count is not. */
const READS = new Set([
  'get',
  'getEntry',
  'getMany',
  'find',
  'findPage',
  'findOne',
  'findEntries',
  'findEntriesPage',
  'iterate',
  'iterateEntries',
  'countBy',
]);
const STATES: readonly JobState[] = ['waiting', 'active', 'completed', 'dead', 'cancelled'];

/**
 * Turns Berth's operation events into spans and metrics. Both entry points
 * feed one of these: `instrument()` hooks or the diagnostics channels.
 */
export class OperationTelemetry {
  private readonly tracer: Tracer;
  private readonly meter: Meter;
  private readonly open = new Map<number, Open>();
  private readonly dbDuration: Histogram;
  private readonly messagingDuration: Histogram;
  private readonly processDuration: Histogram;
  private readonly outcomes: Counter;
  private readonly captureQueries: boolean;
  private readonly stopQueueDepth: () => void;

  constructor(
    options: OpenTelemetryOptions,
    /** The queue depth sources, `options.queues` with names resolved. */
    queues: readonly QueueDepthSource[],
  ) {
    this.tracer = (options.tracerProvider ?? trace.getTracerProvider()).getTracer(SCOPE);
    this.meter = (options.meterProvider ?? metrics.getMeterProvider()).getMeter(SCOPE);
    this.captureQueries = options.captureQueries === true;
    this.dbDuration = this.meter.createHistogram(METRIC_DB_CLIENT_OPERATION_DURATION, {
      description: 'Duration of database client operations.',
      unit: 's',
      advice: { explicitBucketBoundaries: DB_DURATION_BUCKETS },
    });
    this.messagingDuration = this.meter.createHistogram(METRIC_MESSAGING_CLIENT_OPERATION_DURATION, {
      description: 'Duration of messaging operation initiated by a producer or consumer client.',
      unit: 's',
      advice: { explicitBucketBoundaries: MESSAGING_DURATION_BUCKETS },
    });
    this.processDuration = this.meter.createHistogram(METRIC_MESSAGING_PROCESS_DURATION, {
      description: 'Duration of processing operation.',
      unit: 's',
      advice: { explicitBucketBoundaries: MESSAGING_DURATION_BUCKETS },
    });
    this.outcomes = this.meter.createCounter(METRIC_BERTH_JOB_OUTCOMES, {
      description: 'Jobs settled, by outcome: completed, failed (the handler threw), retried, dead.',
      unit: '{job}',
    });
    this.stopQueueDepth = this.observeQueues(queues, options.logger ?? consoleLogger);
  }

  /** Opens the operation's span, under its parent operation or else the active context. */
  start(start: OperationStart): void {
    const parent = start.parentId === undefined ? undefined : this.open.get(start.parentId);
    const parentContext = parent?.context ?? context.active();
    const attributes = startAttributes(start);
    if (start.jobId !== undefined) attributes[ATTR_MESSAGING_MESSAGE_ID] = start.jobId;
    if (start.attempt !== undefined) attributes[ATTR_BERTH_JOB_ATTEMPT] = start.attempt;
    if (this.captureQueries) {
      const text = queryText(start);
      if (text !== undefined) attributes[ATTR_DB_QUERY_TEXT] = text;
    }
    const span = this.tracer.startSpan(spanName(start), { kind: spanKind(start), attributes }, parentContext);
    this.open.set(start.id, { span, context: trace.setSpan(parentContext, span), started: performance.now() });
  }

  /** Ends the operation's span and records its duration and, for settlements, the jobs' outcomes. */
  end(event: OperationEvent): void {
    const open = this.open.get(event.id);
    this.open.delete(event.id);
    const attributes = startAttributes(event);
    if (event.ok) {
      this.countOutcomes(event, attributes);
    } else {
      attributes[ATTR_ERROR_TYPE] = errorType(event.error);
      if (event.operation === 'handle') this.count('failed', attributes);
    }
    if (open !== undefined) {
      const span = open.span;
      if (event.ok) {
        if (event.rows !== undefined) {
          if (event.kind === 'repository' && READS.has(event.operation))
            span.setAttribute(ATTR_DB_RESPONSE_RETURNED_ROWS, event.rows);
          else if (BATCHES.has(event.operation)) span.setAttribute(ATTR_MESSAGING_BATCH_MESSAGE_COUNT, event.rows);
        }
      } else {
        span.setAttribute(ATTR_ERROR_TYPE, attributes[ATTR_ERROR_TYPE] as string);
        if (event.error instanceof Error) span.recordException(event.error);
        span.setStatus({
          code: SpanStatusCode.ERROR,
          message: event.error instanceof Error ? event.error.message : String(event.error),
        });
      }
      span.end();
    }
    this.recordDuration(event, attributes);
  }

  /** Stops reading queue depths. Spans still open are ended by their operations. */
  close(): void {
    this.stopQueueDepth();
  }

  private recordDuration(event: OperationEvent, attributes: Attributes): void {
    // A worker's lifetime is not an operation's duration.
    if (event.operation === 'work') return;
    const seconds = event.durationMs / 1_000;
    if (event.kind !== 'queue') this.dbDuration.record(seconds, attributes);
    else if (event.operation === 'handle') this.processDuration.record(seconds, attributes);
    else this.messagingDuration.record(seconds, attributes);
  }

  private countOutcomes(event: OperationEvent, attributes: Attributes): void {
    if (event.kind !== 'queue') return;
    if (event.operation === 'complete') this.count('completed', attributes);
    else if (event.operation === 'fail') this.count(event.result === 'dead' ? 'dead' : 'retried', attributes);
    else if (event.operation === 'settleAndClaim') {
      const outcomes = (event.result as SettleAndClaimResult<unknown> | undefined)?.outcomes ?? [];
      for (const outcome of outcomes) {
        if (outcome.state === 'completed') this.count('completed', attributes);
        else if (outcome.state === 'waiting') this.count('retried', attributes);
        else if (outcome.state === 'dead') this.count('dead', attributes);
      }
    }
  }

  private count(outcome: 'completed' | 'failed' | 'retried' | 'dead', attributes: Attributes): void {
    this.outcomes.add(1, {
      [ATTR_MESSAGING_SYSTEM]: attributes[ATTR_MESSAGING_SYSTEM],
      [ATTR_MESSAGING_DESTINATION_NAME]: attributes[ATTR_MESSAGING_DESTINATION_NAME],
      [ATTR_BERTH_JOB_OUTCOME]: outcome,
    });
  }

  private observeQueues(queues: readonly QueueDepthSource[], logger: BerthLogger): () => void {
    if (queues.length === 0) return () => undefined;
    const gauge = this.meter.createObservableGauge(METRIC_BERTH_QUEUE_JOBS, {
      description: 'Jobs in a queue, by state, read from the queue at each collection.',
      unit: '{job}',
    });
    const callback = async (result: { observe(value: number, attributes: Attributes): void }) => {
      await Promise.all(
        queues.map(async (queue) => {
          let stats: JobStats;
          try {
            stats = await queue.stats();
          } catch (error) {
            logger.warn(`berth opentelemetry: stats() of queue ${queue.name} failed`, {
              error,
              queue: queue.name,
            });
            return;
          }
          for (const state of STATES) {
            result.observe(stats[state], {
              [ATTR_MESSAGING_DESTINATION_NAME]: queue.name,
              [ATTR_BERTH_JOB_STATE]: state,
            });
          }
        }),
      );
    };
    gauge.addCallback(callback);
    return () => gauge.removeCallback(callback);
  }
}

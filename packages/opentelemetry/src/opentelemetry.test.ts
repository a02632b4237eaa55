import { MemoryBackend } from '@berth/adapter-memory';
import { SqliteBackend } from '@berth/adapter-sqlite';
import { type Backend, createBackend, isBerthError, publishOperations } from '@berth/core';
import { context, SpanKind, SpanStatusCode } from '@opentelemetry/api';
import { AsyncLocalStorageContextManager } from '@opentelemetry/context-async-hooks';
import {
  AggregationTemporality,
  type DataPoint,
  type Histogram,
  InMemoryMetricExporter,
  MeterProvider,
  PeriodicExportingMetricReader,
} from '@opentelemetry/sdk-metrics';
import {
  BasicTracerProvider,
  InMemorySpanExporter,
  type ReadableSpan,
  SimpleSpanProcessor,
} from '@opentelemetry/sdk-trace-base';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { instrumentWithOpenTelemetry } from './instrument-with-opentelemetry.js';
import { subscribeOpenTelemetry } from './subscribe-opentelemetry.js';

// The tests' own context manager, so a span made active with context.with()
// is seen as the parent of the operations run inside it.
const contextManager = new AsyncLocalStorageContextManager();
beforeAll(() => {
  context.setGlobalContextManager(contextManager.enable());
});
afterAll(() => {
  context.disable();
});

function telemetry() {
  const spans = new InMemorySpanExporter();
  const tracerProvider = new BasicTracerProvider({ spanProcessors: [new SimpleSpanProcessor(spans)] });
  const exporter = new InMemoryMetricExporter(AggregationTemporality.CUMULATIVE);
  const reader = new PeriodicExportingMetricReader({ exporter, exportIntervalMillis: 3_600_000 });
  const meterProvider = new MeterProvider({ readers: [reader] });
  return {
    tracerProvider,
    meterProvider,
    spans: () => spans.getFinishedSpans(),
    /** Collects now; the points of metric `name`. */
    async points(name: string): Promise<DataPoint<unknown>[]> {
      exporter.reset();
      await reader.forceFlush();
      const found = exporter
        .getMetrics()
        .flatMap((resource) => resource.scopeMetrics)
        .flatMap((scope) => scope.metrics)
        .filter((metric) => metric.descriptor.name === name);
      return found.flatMap((metric) => metric.dataPoints as DataPoint<unknown>[]);
    },
    async shutdown() {
      await meterProvider.shutdown();
      await tracerProvider.shutdown();
    },
  };
}

function named(spans: readonly ReadableSpan[], name: string): ReadableSpan {
  const span = spans.find((candidate) => candidate.name === name);
  if (span === undefined) throw new Error(`no span ${name} in ${spans.map((s) => s.name).join(', ')}`);
  return span;
}

function parentOf(span: ReadableSpan): string | undefined {
  return span.parentSpanContext?.spanId;
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

describe.each([
  ['memory', 'memory', () => new MemoryBackend()],
  ['sqlite', 'sqlite', () => new SqliteBackend({ filename: ':memory:' })],
] as const)('instrumentWithOpenTelemetry on a %s backend', (_name, system, open) => {
  it('makes database client spans, transactions with their operations as children, error spans with the Berth code', async () => {
    const otel = telemetry();
    const backend = instrumentWithOpenTelemetry(open(), otel);
    const players = backend.repository<{ id: string; email: string; level: number }>('players');
    await players.insert({ id: 'a', email: 'ada@example.com', level: 3 });
    expect(await players.find({ where: { email: 'ada@example.com' } })).toHaveLength(1);
    const missing = await players.update('nobody', { $set: { level: 1 } }).catch((error: unknown) => error);
    expect(isBerthError(missing, 'NOT_FOUND')).toBe(true);
    await backend.transaction(async (tx) => {
      await tx.repository('players').get('a');
      await tx.queue('mails').enqueue('hello');
    });
    await backend.close();
    const spans = otel.spans();

    const insert = named(spans, 'insert players');
    expect(insert.kind).toBe(SpanKind.CLIENT);
    expect(insert.attributes).toStrictEqual({
      'db.system.name': system,
      'db.collection.name': 'players',
      'db.operation.name': 'insert',
    });
    const find = named(spans, 'find players');
    expect(find.attributes).toMatchObject({ 'db.operation.name': 'find', 'db.response.returned_rows': 1 });
    // The filter holds an email: no attribute carries it unless captureQueries is set.
    expect(JSON.stringify(spans.map((span) => span.attributes))).not.toContain('ada@example.com');

    const update = named(spans, 'update players');
    expect(update.status.code).toBe(SpanStatusCode.ERROR);
    expect(update.attributes['error.type']).toBe('NOT_FOUND');
    expect(update.events.map((event) => event.name)).toStrictEqual(['exception']);

    const transaction = named(spans, 'transaction');
    expect(transaction.kind).toBe(SpanKind.INTERNAL);
    const get = named(spans, 'get players');
    const enqueue = named(spans, 'enqueue mails');
    expect(parentOf(get)).toBe(transaction.spanContext().spanId);
    expect(parentOf(enqueue)).toBe(transaction.spanContext().spanId);
    expect(get.spanContext().traceId).toBe(transaction.spanContext().traceId);
    expect(enqueue.kind).toBe(SpanKind.PRODUCER);
    expect(enqueue.attributes).toStrictEqual({
      'messaging.system': system,
      'messaging.destination.name': 'mails',
      'messaging.operation.name': 'enqueue',
      'messaging.operation.type': 'send',
    });
    expect(parentOf(insert)).toBeUndefined();

    const durations = await otel.points('db.client.operation.duration');
    const inserts = durations.find((point) => point.attributes['db.operation.name'] === 'insert');
    expect(inserts?.attributes).toStrictEqual({
      'db.system.name': system,
      'db.collection.name': 'players',
      'db.operation.name': 'insert',
    });
    expect((inserts?.value as Histogram | undefined)?.count).toBe(1);
    const failed = durations.find((point) => point.attributes['db.operation.name'] === 'update');
    expect(failed?.attributes['error.type']).toBe('NOT_FOUND');
    await otel.shutdown();
  });

  it('follows a worker: work, then one process span per job with its settlement; counts outcomes and reads queue depth', async () => {
    const otel = telemetry();
    const logged: unknown[][] = [];
    const logger = {
      warn: (...args: unknown[]) => logged.push(args),
      error: (...args: unknown[]) => logged.push(args),
    };
    const backend = instrumentWithOpenTelemetry(open(), { ...otel, queues: ['mails'], logger });
    const mails = backend.queue<string>('mails');
    await mails.enqueue('ok');
    await mails.enqueue('bad', { maxAttempts: 1 });
    await mails.enqueue('later', { delayMs: 60_000 });
    const worker = mails.work(
      (job) => {
        if (job.payload === 'bad') throw new Error('cannot send');
      },
      { pollIntervalMs: 5 },
    );
    for (
      let waited = 0;
      waited < 2_000 && (await mails.stats()).waiting + (await mails.stats()).active > 1;
      waited += 10
    ) {
      await sleep(10);
    }
    await sleep(20);
    await worker.close();
    const spans = otel.spans();

    const work = named(spans, 'work mails');
    expect(work.kind).toBe(SpanKind.INTERNAL);
    const handles = spans.filter((span) => span.name === 'handle mails');
    expect(handles).toHaveLength(2);
    for (const handle of handles) {
      expect(handle.kind).toBe(SpanKind.CONSUMER);
      expect(parentOf(handle)).toBe(work.spanContext().spanId);
      expect(handle.attributes).toMatchObject({
        'messaging.operation.type': 'process',
        'messaging.message.id': expect.any(String),
        'berth.job.attempt': 1,
      });
    }
    const failedHandle = handles.find((span) => span.status.code === SpanStatusCode.ERROR);
    expect(failedHandle?.attributes['error.type']).toBe('Error');
    // Settlements are children of their job's process span, or travel in a settleAndClaim under work.
    const settlements = spans.filter((span) => span.attributes['messaging.operation.type'] === 'settle');
    for (const settlement of settlements) {
      expect(handles.map((handle) => handle.spanContext().spanId)).toContain(parentOf(settlement));
    }
    for (const claim of spans.filter((span) => span.attributes['messaging.operation.type'] === 'receive')) {
      expect(parentOf(claim)).toBe(work.spanContext().spanId);
    }

    const outcomes = await otel.points('berth.job.outcomes');
    const byOutcome = Object.fromEntries(outcomes.map((point) => [point.attributes['berth.job.outcome'], point.value]));
    expect(byOutcome).toStrictEqual({ completed: 1, failed: 1, dead: 1 });
    for (const point of outcomes) {
      expect(point.attributes).toMatchObject({ 'messaging.system': system, 'messaging.destination.name': 'mails' });
    }

    const depth = await otel.points('berth.queue.jobs');
    const byState = Object.fromEntries(depth.map((point) => [point.attributes['berth.job.state'], point.value]));
    expect(byState).toStrictEqual({ waiting: 1, active: 0, completed: 1, dead: 1, cancelled: 0 });
    expect(depth[0]?.attributes['messaging.destination.name']).toBe('mails');

    const processing = await otel.points('messaging.process.duration');
    expect(processing.reduce((sum, point) => sum + (point.value as Histogram).count, 0)).toBe(2);
    await backend.close();
    // Closing the backend stops reading its queues: collecting afterwards (the SDK's shutdown) logs nothing.
    await otel.points('berth.queue.jobs');
    await otel.shutdown();
    expect(logged).toStrictEqual([]);
  });
});

describe('subscribeOpenTelemetry', () => {
  it('follows every publishing backend with no wrapper, under the caller’s active span, until stopped', async () => {
    const otel = telemetry();
    const stop = subscribeOpenTelemetry(otel);
    const backend: Backend = await createBackend('memory:');
    const sqlite = publishOperations(new SqliteBackend({ filename: ':memory:' }));
    const tracer = otel.tracerProvider.getTracer('test');
    await tracer.startActiveSpan('request', async (request) => {
      await backend.repository('players').count();
      await sqlite.repository('players').count();
      request.end();
    });
    stop();
    await backend.repository('players').count();
    await backend.close();
    await sqlite.close();
    const spans = otel.spans();
    const request = named(spans, 'request');
    const counts = spans.filter((span) => span.name === 'count players');
    expect(counts.map((span) => span.attributes['db.system.name'])).toStrictEqual(['memory', 'sqlite']);
    for (const count of counts) expect(parentOf(count)).toBe(request.spanContext().spanId);
    expect(spans.map((span) => span.name)).toStrictEqual(['connect', 'count players', 'count players', 'request']);
    await otel.shutdown();
  });

  it('puts filters on spans as db.query.text only when asked', async () => {
    const otel = telemetry();
    const stop = subscribeOpenTelemetry({ ...otel, captureQueries: true });
    const backend = await createBackend('memory:');
    await backend.repository('players').find({ where: { email: 'ada@example.com' }, orderBy: 'email' });
    stop();
    await backend.close();
    expect(named(otel.spans(), 'find players').attributes['db.query.text']).toBe(
      '{"where":{"email":"ada@example.com"},"orderBy":"email"}',
    );
    await otel.shutdown();
  });
});

describe('administration operations', () => {
  it('reports importJobs as a messaging send with its batch size, and the other four as database operations', async () => {
    const otel = telemetry();
    const backend = instrumentWithOpenTelemetry(new MemoryBackend(), otel);
    const now = new Date();
    const job = {
      id: 'j1',
      queue: 'elsewhere',
      payload: 'x',
      state: 'waiting' as const,
      priority: 0,
      attempts: 0,
      maxAttempts: 3,
      runAt: now,
      dedupeKey: undefined,
      leaseMs: 30_000,
      errors: [],
      result: undefined,
      progress: undefined,
      timeoutMs: undefined,
      createdAt: now,
      updatedAt: now,
      finishedAt: undefined,
      leaseExpiresAt: undefined,
    };
    await backend.queue('mails').importJobs([job, { ...job, id: 'j2' }]);
    await backend
      .repository('notes')
      .importEntries([{ document: { id: 'n' }, meta: { version: 3, createdAt: now, updatedAt: now } }]);
    await backend.collections();
    await backend.queues();
    await backend.migrate();
    await backend.close();
    const spans = otel.spans();
    const imported = named(spans, 'importJobs mails');
    expect(imported.kind).toBe(SpanKind.PRODUCER);
    expect(imported.attributes).toMatchObject({
      'messaging.operation.type': 'send',
      'messaging.destination.name': 'mails',
      'messaging.batch.message_count': 2,
    });
    expect(named(spans, 'importEntries notes').attributes).toMatchObject({
      'db.operation.name': 'importEntries',
      'db.collection.name': 'notes',
    });
    for (const operation of ['collections', 'queues', 'migrate']) {
      const span = named(spans, operation);
      expect(span.kind).toBe(SpanKind.CLIENT);
      expect(span.attributes['db.operation.name']).toBe(operation);
    }
    await otel.shutdown();
  });
});

describe('options', () => {
  it('refuse queue names where there is no backend to read them from, and names on a backend without queues', () => {
    expect(() => subscribeOpenTelemetry({ queues: ['mails'] })).toThrow(/pass the queue object of "mails"/);
    const repositoriesOnly = { ...new MemoryBackend(), kind: 'memory', queue: undefined } as unknown as MemoryBackend;
    expect(() => instrumentWithOpenTelemetry(repositoriesOnly, { queues: ['mails'] })).toThrow(/has no queues/);
  });
});

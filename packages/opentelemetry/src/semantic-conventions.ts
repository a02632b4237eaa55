// The attribute and metric names this package writes, from the OpenTelemetry
// semantic conventions 1.37.0: database spans and `db.client.operation.duration`
// are stable (since 1.33.0); messaging spans and metrics are in development.
// Written out rather than imported: @opentelemetry/semantic-conventions asks
// that names of unstable conventions be copied, not imported.

import type { OperationStart } from '@berth/core';

export const ATTR_DB_SYSTEM_NAME = 'db.system.name';
export const ATTR_DB_COLLECTION_NAME = 'db.collection.name';
export const ATTR_DB_OPERATION_NAME = 'db.operation.name';
export const ATTR_DB_RESPONSE_RETURNED_ROWS = 'db.response.returned_rows';
export const ATTR_DB_QUERY_TEXT = 'db.query.text';
export const ATTR_ERROR_TYPE = 'error.type';
export const ATTR_MESSAGING_SYSTEM = 'messaging.system';
export const ATTR_MESSAGING_DESTINATION_NAME = 'messaging.destination.name';
export const ATTR_MESSAGING_OPERATION_NAME = 'messaging.operation.name';
export const ATTR_MESSAGING_OPERATION_TYPE = 'messaging.operation.type';
export const ATTR_MESSAGING_MESSAGE_ID = 'messaging.message.id';
export const ATTR_MESSAGING_BATCH_MESSAGE_COUNT = 'messaging.batch.message_count';
/** Berth's own: which attempt of the job a `handle` span is (1 for the first delivery). */
export const ATTR_BERTH_JOB_ATTEMPT = 'berth.job.attempt';
/** Berth's own: the job state a queue depth point counts. */
export const ATTR_BERTH_JOB_STATE = 'berth.job.state';
/** Berth's own: what became of a job (`completed`, `failed`, `retried`, `dead`). */
export const ATTR_BERTH_JOB_OUTCOME = 'berth.job.outcome';

export const METRIC_DB_CLIENT_OPERATION_DURATION = 'db.client.operation.duration';
export const METRIC_MESSAGING_CLIENT_OPERATION_DURATION = 'messaging.client.operation.duration';
export const METRIC_MESSAGING_PROCESS_DURATION = 'messaging.process.duration';
export const METRIC_BERTH_QUEUE_JOBS = 'berth.queue.jobs';
export const METRIC_BERTH_JOB_OUTCOMES = 'berth.job.outcomes';

/** The bucket boundaries the conventions advise for `db.client.operation.duration`, in seconds. */
export const DB_DURATION_BUCKETS: number[] = [0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1, 5, 10];
/** The bucket boundaries the conventions advise for the messaging durations, in seconds. */
export const MESSAGING_DURATION_BUCKETS: number[] = [
  0.005, 0.01, 0.025, 0.05, 0.075, 0.1, 0.25, 0.5, 0.75, 1, 2.5, 5, 7.5, 10,
];

/** Well-known `db.system.name` values for Berth's backend kinds; any other kind is used as it is. */
const SYSTEMS: Readonly<Record<string, string>> = { postgres: 'postgresql', sqlite: 'sqlite', redis: 'redis' };

/** The `db.system.name` (and `messaging.system`) of a backend kind. */
export function systemName(backend: string): string {
  return SYSTEMS[backend] ?? backend;
}

/** `messaging.operation.type` of each queue operation that has one. */
const MESSAGING_TYPES: Readonly<Record<string, 'send' | 'receive' | 'process' | 'settle'>> = {
  enqueue: 'send',
  enqueueMany: 'send',
  // A restore puts messages into the queue, as enqueue does (`berth copy --queues`).
  importJobs: 'send',
  dequeue: 'receive',
  dequeueMany: 'receive',
  settleAndClaim: 'receive',
  handle: 'process',
  complete: 'settle',
  fail: 'settle',
  release: 'settle',
};

export function messagingType(start: OperationStart): 'send' | 'receive' | 'process' | 'settle' | undefined {
  return start.kind === 'queue' ? MESSAGING_TYPES[start.operation] : undefined;
}

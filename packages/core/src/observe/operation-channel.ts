import { channel } from 'node:diagnostics_channel';
import type { QueueBackend, RepositoryBackend } from '../backend/backend.js';
import { type InstrumentHooks, instrument, type OperationEvent, type OperationStart } from './instrument.js';
import { PROBE_OPTIONS, type ProbeOptions } from './probe-options.js';

/**
 * The `node:diagnostics_channel` channel on which Berth publishes each
 * operation as it begins: the message is an {@link OperationStart}.
 *
 * ### Examples
 * ```ts
 * import { subscribe, unsubscribe } from 'node:diagnostics_channel';
 * import { OPERATION_START_CHANNEL, type OperationStart } from '@berth/core';
 *
 * const onStart = (message: unknown) => {
 *   const start = message as OperationStart;
 *   console.log('begins', start.id, start.target, start.operation);
 * };
 * subscribe(OPERATION_START_CHANNEL, onStart);
 * unsubscribe(OPERATION_START_CHANNEL, onStart);
 * ```
 */
export const OPERATION_START_CHANNEL = 'berth:operation:start';

/**
 * The `node:diagnostics_channel` channel on which Berth publishes each
 * operation once it has ended, failed or not: the message is an
 * {@link OperationEvent} with the `id` of its start.
 *
 * ### Examples
 * ```ts
 * import { subscribe } from 'node:diagnostics_channel';
 * import { OPERATION_END_CHANNEL, type OperationEvent } from '@berth/core';
 *
 * subscribe(OPERATION_END_CHANNEL, (message) => {
 *   const end = message as OperationEvent;
 *   if (!end.ok) console.log('failed', end.target, end.operation, end.error);
 * });
 * ```
 */
export const OPERATION_END_CHANNEL = 'berth:operation:end';

const started = channel(OPERATION_START_CHANNEL);
const ended = channel(OPERATION_END_CHANNEL);

/** Ids of published operations: unique in the process, so subscribers can match starts and ends of every backend. */
let lastId = 0;

const probeOptions: ProbeOptions = {
  observed: () => started.hasSubscribers || ended.hasSubscribers,
  nextId: () => {
    lastId += 1;
    return lastId;
  },
};

const channelHooks: InstrumentHooks & { readonly [PROBE_OPTIONS]: ProbeOptions } = {
  onStart: (start: OperationStart) => started.publish(start),
  onOperation: (end: OperationEvent) => ended.publish(end),
  [PROBE_OPTIONS]: probeOptions,
};

/** Backends `publishOperations` returned, so publishing twice does not report twice. */
const publishing = new WeakSet<object>();

/**
 * The backend, with its operations published on
 * {@link OPERATION_START_CHANNEL} and {@link OPERATION_END_CHANNEL}, exactly
 * as {@link instrument} reports them to `onStart` and `onOperation` (the same
 * operations, nesting and fields; ids unique in the process). `createBackend`
 * and `createBackendsFromEnv` return backends that publish already; call it
 * on a backend you construct yourself (`new SqliteBackend(…)`). Calling it on
 * a backend that publishes returns that backend.
 *
 * While no channel has a subscriber the wrapper only forwards: each
 * operation costs one `hasSubscribers` check. A subscriber sees the
 * operations that begin after it subscribed (a worker started before it is
 * not followed).
 *
 * ### Examples
 * ```ts
 * import { subscribe } from 'node:diagnostics_channel';
 * import { MemoryBackend } from '@berth/adapter-memory';
 * import { OPERATION_END_CHANNEL, publishOperations } from '@berth/core';
 *
 * subscribe(OPERATION_END_CHANNEL, (message) => console.log(message));
 * await using backend = publishOperations(new MemoryBackend());
 * await backend.repository('players').count();
 * ```
 */
export function publishOperations<B extends RepositoryBackend | QueueBackend>(backend: B): B {
  if (publishing.has(backend)) return backend;
  const published = instrument(backend, channelHooks);
  publishing.add(published);
  return published;
}

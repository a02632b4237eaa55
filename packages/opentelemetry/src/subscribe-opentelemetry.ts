import { subscribe, unsubscribe } from 'node:diagnostics_channel';
import {
  OPERATION_END_CHANNEL,
  OPERATION_START_CHANNEL,
  type OperationEvent,
  type OperationStart,
  ValidationError,
} from '@berth/core';
import { type OpenTelemetryOptions, OperationTelemetry } from './operation-telemetry.js';

/**
 * Turns the operations of every backend that publishes them (each one from
 * `createBackend`, or passed to `publishOperations`) into spans and
 * metrics, with no change to the backends. Returns the function that stops
 * it (unsubscribes, and stops reading queue depths).
 *
 * ### Examples
 * ```ts
 * import { createBackend } from '@berth/core';
 * import { subscribeOpenTelemetry } from '@berth/opentelemetry';
 *
 * const stop = subscribeOpenTelemetry();
 * const backend = await createBackend('memory:');
 * await backend.repository('players').count();
 * await backend.close();
 * stop();
 * ```
 */
export function subscribeOpenTelemetry(options: OpenTelemetryOptions = {}): () => void {
  const queues = (options.queues ?? []).map((queue) => {
    if (typeof queue === 'string') {
      throw new ValidationError(
        `queues: pass the queue object of "${queue}" (there is no backend to name it in)`,
        'queues',
      );
    }
    return queue;
  });
  const telemetry = new OperationTelemetry(options, queues);
  const onStart = (message: unknown): void => telemetry.start(message as OperationStart);
  const onEnd = (message: unknown): void => telemetry.end(message as OperationEvent);
  subscribe(OPERATION_START_CHANNEL, onStart);
  subscribe(OPERATION_END_CHANNEL, onEnd);
  return () => {
    unsubscribe(OPERATION_START_CHANNEL, onStart);
    unsubscribe(OPERATION_END_CHANNEL, onEnd);
    telemetry.close();
  };
}

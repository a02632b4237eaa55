import { subscribe, unsubscribe } from 'node:diagnostics_channel';
import {
  consoleLogger,
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
  const logger = options.logger ?? consoleLogger;
  let failed = false;
  // A subscriber that throws is an uncaught exception for Node: never let one escape.
  const guarded =
    <M>(handle: (message: M) => void) =>
    (message: unknown): void => {
      try {
        handle(message as M);
      } catch (error) {
        if (failed) return;
        failed = true;
        logger.error('berth opentelemetry: turning an operation into telemetry failed; later failures are ignored', {
          error,
        });
      }
    };
  const onStart = guarded((start: OperationStart) => telemetry.start(start));
  const onEnd = guarded((end: OperationEvent) => telemetry.end(end));
  subscribe(OPERATION_START_CHANNEL, onStart);
  subscribe(OPERATION_END_CHANNEL, onEnd);
  return () => {
    unsubscribe(OPERATION_START_CHANNEL, onStart);
    unsubscribe(OPERATION_END_CHANNEL, onEnd);
    telemetry.close();
  };
}

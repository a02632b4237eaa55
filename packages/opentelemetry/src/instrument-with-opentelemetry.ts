import { instrument, type QueueBackend, type RepositoryBackend, ValidationError } from '@berth/core';
import { type OpenTelemetryOptions, OperationTelemetry, type QueueDepthSource } from './operation-telemetry.js';

/** `options.queues`, names read from `backend` (uninstrumented, so reading depths makes no spans). */
function depthSources(backend: RepositoryBackend | QueueBackend, options: OpenTelemetryOptions): QueueDepthSource[] {
  return (options.queues ?? []).map((queue) => {
    if (typeof queue !== 'string') return queue;
    if (!('queue' in backend) || typeof backend.queue !== 'function') {
      throw new ValidationError(`queues: ${backend.kind} backend has no queues (got "${queue}")`, 'queues');
    }
    return backend.queue(queue);
  });
}

/**
 * Wraps one backend so that each of its operations becomes a span and is
 * counted in the metrics (see the package README for names and
 * attributes). Built on core's `instrument()`: the wrapper has the backend's
 * whole type, and telemetry never makes an operation fail.
 *
 * ### Examples
 * ```ts
 * import { MemoryBackend } from '@berth/adapter-memory';
 * import { instrumentWithOpenTelemetry } from '@berth/opentelemetry';
 *
 * // Spans and metrics go to the global providers the OpenTelemetry SDK registered.
 * await using backend = instrumentWithOpenTelemetry(new MemoryBackend(), { queues: ['mails'] });
 * await backend.repository('players').count();
 * ```
 */
export function instrumentWithOpenTelemetry<B extends RepositoryBackend | QueueBackend>(
  backend: B,
  options: OpenTelemetryOptions = {},
): B {
  const telemetry = new OperationTelemetry(options, depthSources(backend, options));
  return instrument(backend, {
    onStart: (start) => telemetry.start(start),
    onOperation: (event) => {
      telemetry.end(event);
      // A closed backend has no depths to read: a collection after it (an SDK shutdown) would only log failures.
      if (event.kind === 'backend' && event.operation === 'close' && event.ok) telemetry.close();
    },
    logger: options.logger,
  });
}

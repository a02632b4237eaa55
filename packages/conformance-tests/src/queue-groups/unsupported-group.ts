import type { QueueBackend } from '@berth/core';
import { type ConformanceGroup, defineQueueGroup, type QueueConformanceContext } from '../harness.js';
import { expectQueueRefused } from './queue-assertions.js';

/**
 * An adapter that declares no queues (`capabilities.queue.level` `none`) refuses `backend.queue()` with
 * `UNSUPPORTED`.
 *
 * ### Examples
 * ```ts
 * import type { QueueBackend } from '@berth/core';
 * import { type ConformanceOptions, queueUnsupportedGroup, registerGroup } from '@berth/conformance-tests';
 *
 * declare const options: ConformanceOptions<QueueBackend>; // what your adapter passes to queueConformance
 * registerGroup(queueUnsupportedGroup, options);
 * ```
 */
export const queueUnsupportedGroup: ConformanceGroup<QueueBackend, QueueConformanceContext> = defineQueueGroup(
  'queue-unsupported',
  [
    {
      name: 'an adapter without queues refuses backend.queue() with UNSUPPORTED, at once or on first use',
      requires: (capabilities) => capabilities.queue.level === 'none',
      async run(context) {
        await expectQueueRefused(context.backend, context.queueName('q'), 'UNSUPPORTED');
      },
    },
  ],
);

import type { QueueBackend } from '@berth/core';
import { type ConformanceGroup, defineQueueGroup, type QueueConformanceContext } from '../harness.js';
import { expectQueueRefused } from './queue-assertions.js';

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

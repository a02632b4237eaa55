import type { Capabilities, DocumentValue } from '@berth/core';
import { MAX_DOCUMENT_BYTES, MAX_NESTING_DEPTH } from '@berth/core/adapter';
import { expect } from 'vitest';
import { expectBerthError } from '../groups/assertions.js';
import { sizedValue } from '../groups/limits-cases.js';
import { type ConformanceGroup, defineQueueGroup, type QueueConformanceContext } from '../harness.js';
import { dequeueNow, hasQueue, jobOf, jobStats, NO_JOBS } from './queue-assertions.js';

/** The payload and result size limit the adapter declares (16 MiB unless it says less). */
function declaredMaxPayloadBytes(capabilities: Capabilities): number {
  return capabilities.queue.maxPayloadBytes ?? MAX_DOCUMENT_BYTES;
}

/** A payload (or result) of exactly `bytes` bytes of UTF-8 JSON, Dates counted as stored. */
function sizedPayload(bytes: number): DocumentValue {
  return sizedValue(bytes, (filler) => ({ at: new Date(0), text: filler }));
}

/** A payload `levels` deep (the payload object is level 1). */
function nestedPayload(levels: number): DocumentValue {
  let value: DocumentValue = { d: 1 };
  for (let level = 1; level < levels; level++) value = { d: value };
  return value;
}

/**
 * Payload and result limits: exactly `capabilities.queue.maxPayloadBytes` round-trips, one byte more or
 * nesting past the limit is `VALIDATION`.
 *
 * ### Examples
 * ```ts
 * import type { QueueBackend } from '@berth/core';
 * import { type ConformanceOptions, queuePayloadLimitsGroup, registerGroup } from '@berth/conformance-tests';
 *
 * declare const options: ConformanceOptions<QueueBackend>; // what your adapter passes to queueConformance
 * registerGroup(queuePayloadLimitsGroup, options);
 * ```
 */
export const queuePayloadLimitsGroup: ConformanceGroup<QueueConformanceContext['backend'], QueueConformanceContext> =
  defineQueueGroup('payload limits', [
    {
      name: 'a payload or result of exactly capabilities.queue.maxPayloadBytes round-trips; one byte more is VALIDATION and changes nothing',
      requires: hasQueue,
      async run(context) {
        const max = declaredMaxPayloadBytes(context.capabilities);
        expect(max).toBeLessThanOrEqual(MAX_DOCUMENT_BYTES);
        const queue = context.queue<DocumentValue>();
        await expectBerthError(queue.enqueue(sizedPayload(max + 1)), 'VALIDATION', { path: 'payload' });
        await expectBerthError(
          queue.enqueueMany([{ payload: 'fine' }, { payload: sizedPayload(max + 1) }]),
          'VALIDATION',
        );
        expect(await queue.stats()).toStrictEqual(NO_JOBS);

        const { id } = await queue.enqueue(sizedPayload(max));
        const lease = await dequeueNow(queue);
        expect(lease.job.payload).toStrictEqual(sizedPayload(max));
        await expectBerthError(queue.complete(lease, sizedPayload(max + 1)), 'VALIDATION', { path: 'result' });
        expect(await queue.stats()).toStrictEqual(jobStats({ active: 1 }));
        await queue.complete(lease, sizedPayload(max));
        expect((await jobOf(queue, id)).result).toStrictEqual(sizedPayload(max));
      },
    },
    {
      name: 'a payload or result nested deeper than MAX_NESTING_DEPTH (even 100 000 levels) is VALIDATION naming its path',
      requires: hasQueue,
      async run(context) {
        const queue = context.queue<DocumentValue>();
        const path = ['payload', ...Array.from({ length: MAX_NESTING_DEPTH }, () => 'd')].join('.');
        await expectBerthError(queue.enqueue(nestedPayload(MAX_NESTING_DEPTH + 1)), 'VALIDATION', { path });
        await expectBerthError(queue.enqueue(nestedPayload(100_000)), 'VALIDATION');
        expect(await queue.stats()).toStrictEqual(NO_JOBS);
        await queue.enqueue(nestedPayload(MAX_NESTING_DEPTH));
        const lease = await dequeueNow(queue);
        expect(lease.job.payload).toStrictEqual(nestedPayload(MAX_NESTING_DEPTH));
        await expectBerthError(queue.complete(lease, nestedPayload(100_000)), 'VALIDATION');
        expect(await queue.stats()).toStrictEqual(jobStats({ active: 1 }));
      },
    },
  ]);

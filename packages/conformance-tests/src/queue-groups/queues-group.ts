import type { QueueBackend } from '@berth/core';
import { expect } from 'vitest';
import { compareCodePoints, expectBerthError, invalid } from '../groups/assertions.js';
import { type ConformanceGroup, defineQueueGroup, type QueueConformanceContext } from '../harness.js';
import { jobInState } from './admin-fixtures.js';
import { hasQueue } from './queue-assertions.js';

const QUEUE_NAME = /^[A-Za-z][A-Za-z0-9_]{0,62}$/;

/** The listing, checked (sorted, each once, queue names only), restricted to `names`. */
async function listedAmong(backend: QueueBackend, names: readonly string[]): Promise<string[]> {
  const listed = await backend.queues();
  expect(listed, 'queues() is sorted by code point').toStrictEqual([...listed].sort(compareCodePoints));
  expect(new Set(listed).size, 'queues() lists each queue once').toBe(listed.length);
  for (const name of listed) expect(name, 'a listed name is a queue name (no internal key)').toMatch(QUEUE_NAME);
  return listed.filter((name) => names.includes(name));
}

function named(context: QueueConformanceContext, prefix: string): string {
  return context.queueName(prefix);
}

/**
 * `backend.queues()`: the queues that hold jobs in any state or schedules,
 * from any backend on the storage, sorted by code point; a queue only opened
 * is not listed. Also `migrate()` on a connected queue backend.
 *
 * ### Examples
 * ```ts
 * import type { QueueBackend } from '@berth/core';
 * import { type ConformanceOptions, queueListGroup, registerGroup } from '@berth/conformance-tests';
 *
 * declare const options: ConformanceOptions<QueueBackend>; // what your adapter passes to queueConformance
 * registerGroup(queueListGroup, options);
 * ```
 */
export const queueListGroup: ConformanceGroup<QueueBackend, QueueConformanceContext> = defineQueueGroup('queues', [
  {
    name: 'lists queues with jobs in any state or schedules only, sorted; not a queue only opened',
    requires: hasQueue,
    async run(context) {
      const { backend } = context;
      const states = ['waiting', 'active', 'completed', 'dead', 'cancelled'] as const;
      const byState = states.map((state) => ({ state, name: named(context, `s${state}`) }));
      for (const { state, name } of byState) await jobInState(backend.queue<string>(name), state, state);
      const scheduled = named(context, 'Scheduled');
      await backend.queue<string>(scheduled).putSchedule({
        name: 'nightly',
        spec: { everyMs: 60_000 },
        payload: 'tick',
        jobOptions: {},
        missed: 'once',
        overlap: 'allow',
        paused: true,
        nextRunAt: new Date(Date.now() + 3_600_000),
      });
      const opened = named(context, 'opened');
      expect(await backend.queue(opened).stats()).toMatchObject({ waiting: 0 });
      const expected = [...byState.map(({ name }) => name), scheduled].sort(compareCodePoints);
      expect(await listedAmong(backend, [...expected, opened])).toStrictEqual(expected);
    },
  },
  {
    name: 'lists a queue filled through another backend on the same storage',
    requires: hasQueue,
    async run(context) {
      const name = named(context, 'shared');
      if (context.openSameStorage === undefined) {
        await context.backend.queue<string>(name).enqueue('one');
        expect(await listedAmong(context.backend, [name])).toStrictEqual([name]);
        return;
      }
      const second = await context.openSameStorage();
      await second.queue<string>(name).enqueue('from the other backend');
      expect(await listedAmong(context.backend, [name])).toStrictEqual([name]);
    },
  },
  {
    name: 'queues() and migrate() check their options; migrate resolves { applied: [] } twice',
    async run(context) {
      expect(await context.backend.migrate()).toStrictEqual({ applied: [] });
      expect(await context.backend.migrate()).toStrictEqual({ applied: [] });
      await expectBerthError(context.backend.queues(invalid({ signal: 'x' })), 'VALIDATION');
      await expectBerthError(context.backend.queues({ signal: AbortSignal.abort() }), 'ABORTED');
      await expectBerthError(context.backend.migrate({ signal: AbortSignal.abort() }), 'ABORTED');
    },
  },
]);

import { afterEach, describe, expect, it, vi } from 'vitest';
import { isBerthError } from '../errors.js';
import { RecordingLogger } from '../testing/recording-logger.js';
import { JobEventHub } from './event-hub.js';
import type { JobEvent, JobEventType, QueueEventsOptions, SubscribeOptions } from './job-events.js';

function event(type: 'enqueued' | 'released' | 'cancelled', jobId: string): JobEvent {
  const at = new Date(0);
  return type === 'enqueued' ? { type, queue: 'q', jobId, at, runAt: at } : { type, queue: 'q', jobId, at };
}

function expectValidation(action: () => unknown): void {
  try {
    action();
  } catch (error) {
    expect(isBerthError(error, 'VALIDATION'), String(error)).toBe(true);
    return;
  }
  expect.unreachable('expected a VALIDATION error');
}

afterEach(() => {
  vi.restoreAllMocks();
});

describe('JobEventHub.wants', () => {
  it('is false with no subscriber, true for the types someone wants, and false again after they leave', () => {
    const hub = new JobEventHub('q');
    expect(hub.wants('enqueued')).toBe(false);
    const stopAll = hub.subscribe(() => undefined);
    const stopSome = hub.subscribe(() => undefined, { types: ['completed'] });
    expect(hub.wants('expired')).toBe(true);
    stopAll();
    expect(hub.wants('expired')).toBe(false);
    expect(hub.wants('completed')).toBe(true);
    stopSome();
    stopSome();
    expect(hub.wants('completed')).toBe(false);
    const stopEmpty = hub.subscribe(() => undefined, { types: [] });
    expect(hub.wants('completed')).toBe(false);
    stopEmpty();
  });
});

describe('JobEventHub.subscribe', () => {
  it('delivers each event to the listeners that want its type, in subscription order', () => {
    const hub = new JobEventHub('q');
    const seen: string[] = [];
    hub.subscribe((e) => seen.push(`all:${e.type}`));
    hub.subscribe((e) => seen.push(`cancelled:${e.type}`), { types: ['cancelled'] });
    hub.emit(event('enqueued', 'a'));
    hub.emit(event('cancelled', 'a'));
    expect(seen).toEqual(['all:enqueued', 'all:cancelled', 'cancelled:cancelled']);
  });

  it('reports a throwing listener to the logger it was given, and nothing to the console', () => {
    const logger = new RecordingLogger();
    const hub = new JobEventHub('q', logger);
    const printed = vi.spyOn(console, 'error').mockImplementation(() => undefined);
    const bug = new Error('bug');
    hub.subscribe(() => {
      throw bug;
    });
    hub.emit(event('enqueued', 'a'));
    expect(logger.lines).toStrictEqual([
      { level: 'error', message: 'berth: a listener of queue q events threw', details: { error: bug, queue: 'q' } },
    ]);
    expect(printed).not.toHaveBeenCalled();
    printed.mockRestore();
  });

  it('reports a throwing listener to console.error, keeps it subscribed and still calls the others', () => {
    const hub = new JobEventHub('q');
    const reported = vi.spyOn(console, 'error').mockImplementation(() => undefined);
    let calls = 0;
    hub.subscribe(() => {
      calls += 1;
      throw new Error('bug');
    });
    const seen: JobEvent[] = [];
    hub.subscribe((e) => seen.push(e));
    hub.emit(event('enqueued', 'a'));
    hub.emit(event('enqueued', 'b'));
    expect(calls).toBe(2);
    expect(seen).toHaveLength(2);
    expect(reported).toHaveBeenCalledTimes(2);
  });

  it('refuses a listener that is not a function and types that are not event types', () => {
    const hub = new JobEventHub('q');
    expectValidation(() => hub.subscribe('listener' as unknown as () => void));
    for (const types of [['gap'], ['done'], 'enqueued', [undefined], { 0: 'enqueued' }]) {
      expectValidation(() => hub.subscribe(() => undefined, { types } as unknown as SubscribeOptions));
    }
    expectValidation(() => hub.subscribe(() => undefined, 'x' as unknown as SubscribeOptions));
    expect(hub.wants('enqueued')).toBe(false);
  });
});

describe('JobEventHub listening', () => {
  it('starts with the first subscription (subscribe or events) and stops when the last ends, once each', () => {
    const calls: string[] = [];
    const hub = new JobEventHub('q', undefined, { start: () => calls.push('start'), stop: () => calls.push('stop') });
    const first = hub.subscribe(() => undefined);
    const controller = new AbortController();
    hub.events({ signal: controller.signal });
    expect(calls).toEqual(['start']);
    first();
    first();
    expect(calls).toEqual(['start']);
    controller.abort();
    expect(calls).toEqual(['start', 'stop']);
    expect(() => hub.subscribe(() => undefined, { types: ['nope' as 'enqueued'] })).toThrow();
    expect(calls).toEqual(['start', 'stop']);
    hub.subscribe(() => undefined)();
    expect(calls).toEqual(['start', 'stop', 'start', 'stop']);
  });
});

describe('JobEventHub.events', () => {
  it('yields buffered events in order, then waits for the next one', async () => {
    const hub = new JobEventHub('q');
    const iterator = hub.events();
    hub.emit(event('enqueued', 'a'));
    hub.emit(event('released', 'a'));
    expect((await iterator.next()).value).toMatchObject({ type: 'enqueued', jobId: 'a' });
    expect((await iterator.next()).value).toMatchObject({ type: 'released', jobId: 'a' });
    const pending = iterator.next();
    hub.emit(event('cancelled', 'b'));
    expect((await pending).value).toMatchObject({ type: 'cancelled', jobId: 'b' });
    await iterator.return?.();
  });

  it('drops the oldest past bufferSize and yields one gap counting them before the rest', async () => {
    const hub = new JobEventHub('q');
    const iterator = hub.events({ bufferSize: 2 });
    for (const id of ['a', 'b', 'c', 'd', 'e']) hub.emit(event('enqueued', id));
    const gap = (await iterator.next()).value;
    expect(gap).toMatchObject({ type: 'gap', queue: 'q', dropped: 3 });
    expect((await iterator.next()).value).toMatchObject({ jobId: 'd' });
    expect((await iterator.next()).value).toMatchObject({ jobId: 'e' });
    hub.emit(event('enqueued', 'f'));
    expect((await iterator.next()).value).toMatchObject({ jobId: 'f' });
    await iterator.return?.();
  });

  it('ends when the signal aborts, resolving a pending next, and unsubscribes', async () => {
    const hub = new JobEventHub('q');
    const controller = new AbortController();
    const iterator = hub.events({ signal: controller.signal, types: ['enqueued'] });
    expect(hub.wants('enqueued')).toBe(true);
    expect(hub.wants('released')).toBe(false);
    const pending = iterator.next();
    controller.abort();
    expect(await pending).toEqual({ value: undefined, done: true });
    expect(hub.wants('enqueued')).toBe(false);
    hub.emit(event('enqueued', 'late'));
    expect((await iterator.next()).done).toBe(true);
  });

  it('with an already aborted signal ends at once and never subscribes', async () => {
    const hub = new JobEventHub('q');
    const iterator = hub.events({ signal: AbortSignal.abort() });
    expect(hub.wants('enqueued')).toBe(false);
    hub.emit(event('enqueued', 'a'));
    expect((await iterator.next()).done).toBe(true);
  });

  it('return() discards the buffer, ends the iterator and unsubscribes; breaking a for await does the same', async () => {
    const hub = new JobEventHub('q');
    const iterator = hub.events();
    hub.emit(event('enqueued', 'a'));
    hub.emit(event('enqueued', 'b'));
    expect(await iterator.return?.()).toEqual({ value: undefined, done: true });
    expect((await iterator.next()).done).toBe(true);
    expect(hub.wants('enqueued')).toBe(false);
    const looped = hub.events();
    hub.emit(event('enqueued', 'c'));
    hub.emit(event('enqueued', 'd'));
    const seen: string[] = [];
    for await (const item of looped) {
      if (item.type !== 'gap') seen.push(item.jobId);
      break;
    }
    expect(seen).toEqual(['c']);
    expect(hub.wants('enqueued')).toBe(false);
  });

  it('refuses a bufferSize outside 1 to 1 000 000 and unknown types, subscribing nothing', () => {
    const hub = new JobEventHub('q');
    for (const bufferSize of [0, -1, 1.5, 1_000_001, Number.NaN, '10']) {
      expectValidation(() => hub.events({ bufferSize } as unknown as QueueEventsOptions));
    }
    expectValidation(() => hub.events({ types: ['gap' as JobEventType] }));
    expect(hub.wants('enqueued')).toBe(false);
  });
});

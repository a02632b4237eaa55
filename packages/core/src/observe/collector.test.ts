import { describe, expect, it } from 'vitest';
import { isBerthError, NotFoundError } from '../errors.js';
import { createCollector, formatReport } from './collector.js';
import type { OperationEvent } from './instrument.js';

function event(overrides: Partial<OperationEvent> = {}): OperationEvent {
  return {
    id: 1,
    backend: 'memory',
    target: 'players',
    kind: 'repository',
    operation: 'find',
    durationMs: 1,
    ok: true,
    transaction: false,
    ...overrides,
  };
}

describe('createCollector', () => {
  it('counts, errors and nearest-rank percentiles per operation, most total time first', () => {
    const collector = createCollector();
    for (let ms = 1; ms <= 100; ms++) collector.hooks.onOperation?.(event({ durationMs: ms }));
    collector.hooks.onOperation?.(event({ operation: 'get', durationMs: 2, ok: false, error: new Error('x') }));
    collector.hooks.onOperation?.(event({ kind: 'queue', target: 'players', operation: 'get', durationMs: 3 }));
    const { operations } = collector.report();
    expect(operations).toEqual([
      {
        backend: 'memory',
        target: 'players',
        kind: 'repository',
        operation: 'find',
        count: 100,
        errors: 0,
        totalMs: 5050,
        p50Ms: 50,
        p95Ms: 95,
        p99Ms: 99,
        maxMs: 100,
      },
      expect.objectContaining({ kind: 'queue', operation: 'get', count: 1, errors: 0, p50Ms: 3, p99Ms: 3 }),
      expect.objectContaining({ kind: 'repository', operation: 'get', count: 1, errors: 1, maxMs: 2 }),
    ]);
  });

  it('keeps a bounded sample whose percentiles still describe every duration', () => {
    const collector = createCollector({ maxSamplesPerOperation: 200 });
    for (let index = 0; index < 20_000; index++) {
      collector.hooks.onOperation?.(event({ durationMs: (index % 100) + 1 }));
    }
    const [find] = collector.report().operations;
    expect(find?.count).toBe(20_000);
    expect(find?.maxMs).toBe(100);
    // A uniform sample of 200 from 1..100: the median lands near 50, the p99 near the top.
    expect(find?.p50Ms).toBeGreaterThan(30);
    expect(find?.p50Ms).toBeLessThan(70);
    expect(find?.p95Ms).toBeGreaterThanOrEqual(find?.p50Ms ?? Number.NaN);
    expect(find?.p99Ms).toBeGreaterThanOrEqual(find?.p95Ms ?? Number.NaN);
    expect(find?.p99Ms).toBeGreaterThan(85);
  });

  it('keeps the slowest operations, slowest first, without the values of their queries', () => {
    const collector = createCollector({ slowest: 3 });
    const missing = new NotFoundError('players p9 not found', { collection: 'players', id: 'p9' });
    const durations = [5, 40, 1, 30, 50, 2];
    for (const durationMs of durations) {
      collector.hooks.onOperation?.(
        event({
          durationMs,
          where: { email: 'ada@example.com', level: { $gte: 3 } },
          orderBy: { field: 'name', direction: 'desc' },
        }),
      );
    }
    collector.hooks.onOperation?.(
      event({ operation: 'update', durationMs: 45, ok: false, error: missing, transaction: true }),
    );
    const { slowest } = collector.report();
    expect(slowest.map((entry) => entry.durationMs)).toEqual([50, 45, 40]);
    expect(slowest[0]).toMatchObject({
      operation: 'find',
      transaction: false,
      query: 'find where { email: ?, level: { $gte: ? } } orderBy name desc',
    });
    expect(slowest[0]?.at).toBeInstanceOf(Date);
    expect(slowest[1]).toMatchObject({
      operation: 'update',
      transaction: true,
      error: 'NOT_FOUND: players p9 not found',
    });
    expect(JSON.stringify(slowest)).not.toContain('ada@example.com');
  });

  it('suggests one index per query shape: equality fields, then sort fields, then one range field', () => {
    const collector = createCollector();
    const { onOperation, onRepository } = collector.hooks;
    onRepository?.({ backend: 'memory', collection: 'players', indexes: [{ field: 'level', type: 'number' }] });
    onRepository?.({ backend: 'memory', collection: 'players', indexes: [] });
    // Sorted only: the types come from the documents later queries return.
    onOperation?.(event({ operation: 'iterate', orderBy: ['name', { field: 'joinedAt', direction: 'desc' }] }));
    const result = [{ id: 'a', name: 'Ada', joinedAt: new Date(0), guild: 'north', level: 3 }];
    for (let index = 0; index < 3; index++) {
      onOperation?.(
        event({ where: { guild: 'north', level: { $gt: 2 }, id: { $in: ['a'] } }, orderBy: 'name', result }),
      );
    }
    onOperation?.(event({ operation: 'count', where: { $or: [{ 'stats.rank': { $lt: 3 } }, { guild: 'south' }] } }));
    // Conditions an index cannot serve, and operations that run no query, suggest nothing.
    onOperation?.(event({ where: { $not: { banned: true }, nick: { $ne: 'x' }, tags: { $contains: 'a' } } }));
    onOperation?.(event({ where: { email: { $exists: true }, role: { $nin: ['admin'] } } }));
    onOperation?.(event({ operation: 'explain', where: { secret: 1 } }));
    onOperation?.(event({ kind: 'queue', target: 'mails', operation: 'get', where: { secret: 1 } }));
    // The primary key serves an equality on id, whatever else the filter says.
    onOperation?.(event({ where: { id: 'a', score: { $gt: 1 } } }));
    // An invalid filter failed its operation: nothing to learn from it.
    onOperation?.(event({ ok: false, where: { bad: { $regex: 'x' } } as never }));

    const suggestions = collector.report().indexSuggestions;
    expect(
      suggestions.map((entry) => [entry.collection, entry.fields, entry.filterCount, entry.sortCount, entry.index]),
    ).toEqual([
      [
        'players',
        ['guild', 'name', 'level'],
        3,
        3,
        {
          fields: [
            { field: 'guild', type: 'string' },
            { field: 'name', type: 'string' },
            { field: 'level', type: 'number' },
          ],
        },
      ],
      ['players', ['guild'], 1, 0, { field: 'guild', type: 'string' }],
      [
        'players',
        ['name', 'joinedAt'],
        0,
        1,
        {
          fields: [
            { field: 'name', type: 'string' },
            { field: 'joinedAt', type: 'date' },
          ],
        },
      ],
      ['players', ['stats.rank'], 1, 0, { field: 'stats.rank', type: 'number' }],
    ]);
    expect(suggestions[0]).toMatchObject({
      backend: 'memory',
      field: 'guild',
      example: 'find where { guild: ?, level: { $gt: ? }, id: { $in: ? } } orderBy name',
    });
    expect(suggestions[0]?.totalMs).toBe(3);
  });

  it('leaves the definition out while a field type is unknown, and learns it from a later result', () => {
    const collector = createCollector();
    const { onOperation } = collector.hooks;
    onOperation?.(event({ orderBy: { field: 'profile.nick', direction: 'desc' }, result: [] }));
    onOperation?.(event({ operation: 'findOne', orderBy: 'profile.nick', result: null }));
    expect(collector.report().indexSuggestions).toEqual([
      expect.objectContaining({ fields: ['profile.nick'], sortCount: 2 }),
    ]);
    expect('index' in (collector.report().indexSuggestions[0] ?? {})).toBe(false);
    onOperation?.(
      event({
        operation: 'findPage',
        orderBy: 'profile.nick',
        result: { items: [{ id: 'x', profile: { nick: 'é' } }] },
      }),
    );
    expect(collector.report().indexSuggestions[0]?.index).toEqual({ field: 'profile.nick', type: 'string' });
  });

  it('takes value types from operands of every kind, and a declared compound index covers its leading fields', () => {
    const collector = createCollector();
    const { onOperation, onRepository } = collector.hooks;
    onOperation?.(event({ where: { active: true, at: { $gte: new Date(0) } } }));
    onOperation?.(event({ where: { big: { $lt: 2 ** 60 }, tiny: 5e-324 } }));
    onOperation?.(event({ where: { 'a.b': { $in: ['x', 'y'] }, name: { $startsWith: 'Ad' } } }));
    onOperation?.(event({ where: { session: 's1' }, orderBy: 'at' }));
    // Filtered and sorted counts twice; equal use is ordered by the fields.
    expect(collector.report().indexSuggestions.map((entry) => entry.index)).toEqual([
      {
        fields: [
          { field: 'session', type: 'string' },
          { field: 'at', type: 'date' },
        ],
      },
      { field: 'a.b', type: 'string' },
      {
        fields: [
          { field: 'active', type: 'boolean' },
          { field: 'at', type: 'date' },
        ],
      },
      {
        fields: [
          { field: 'tiny', type: 'number' },
          { field: 'big', type: 'number' },
        ],
      },
    ]);
    // A compound declaration (the shape of issue 9's compound indexes) covers [session, at] and [session].
    onRepository?.({
      backend: 'memory',
      collection: 'players',
      indexes: [
        {
          fields: [
            { field: 'session', type: 'string' },
            { field: 'at', type: 'date' },
          ],
        } as never,
      ],
    });
    onOperation?.(event({ where: { session: 's2' } }));
    expect(collector.report().indexSuggestions.map((entry) => entry.fields)).toEqual([
      ['a.b'],
      ['active', 'at'],
      ['tiny', 'big'],
    ]);
  });

  it('checks declarations when reporting, and keeps them across reset', () => {
    const collector = createCollector();
    const { onOperation, onRepository } = collector.hooks;
    onOperation?.(event({ where: { guild: 'north' } }));
    onOperation?.(event({ target: 'guilds', where: { guild: 'north' } }));
    expect(collector.report().indexSuggestions.map((entry) => entry.collection)).toEqual(['guilds', 'players']);
    onRepository?.({ backend: 'memory', collection: 'players', indexes: [{ field: 'guild', type: 'string' }] });
    expect(collector.report().indexSuggestions.map((entry) => entry.collection)).toEqual(['guilds']);

    collector.reset();
    expect(collector.report()).toMatchObject({ operations: [], slowest: [], indexSuggestions: [] });
    onOperation?.(event({ where: { guild: 'north' } }));
    expect(collector.report().indexSuggestions).toEqual([]);
  });

  it('formats a readable report', () => {
    const collector = createCollector();
    expect(collector.format()).toContain('(none)');
    collector.hooks.onOperation?.(event({ durationMs: 12.5, rows: 3, where: { guild: 'north' } }));
    collector.hooks.onOperation?.(event({ target: '', kind: 'backend', operation: 'health', durationMs: 0.5 }));
    const text = formatReport(collector.report());
    const lines = text.split('\n');
    expect(lines[1]).toMatch(
      /^backend\s+kind\s+target\s+operation\s+count\s+errors\s+p50 ms\s+p95 ms\s+p99 ms\s+max ms\s+total ms$/,
    );
    expect(lines[2]).toMatch(
      /^memory\s+repository\s+players\s+find\s+1\s+0\s+12\.50\s+12\.50\s+12\.50\s+12\.50\s+12\.50$/,
    );
    expect(lines[3]).toMatch(/^memory\s+backend\s+-\s+health\s+1\s+0\s+0\.50/);
    expect(text).toContain('Slowest operations');
    expect(text).toContain('Index suggestions');
    expect(text).toMatch(/memory\s+players\s+guild string\s+1\s+0\s+12\.50\s+find where \{ guild: \? \}/);
    expect(text).toContain('players: {"field":"guild","type":"string"}');
    expect(collector.format(collector.report())).toBe(text);
  });

  it('rejects invalid options', () => {
    for (const options of [{ slowest: 0 }, { maxSamplesPerOperation: 1.5 }, { slowest: -1 }]) {
      let error: unknown;
      try {
        createCollector(options);
      } catch (caught) {
        error = caught;
      }
      expect(isBerthError(error, 'VALIDATION')).toBe(true);
    }
  });
});

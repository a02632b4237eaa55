import { describe, expect, expectTypeOf, it } from 'vitest';
import type { Repository } from '../repository/repository.js';
import { validationPath } from '../testing/validation-path.js';
import type { Document, Entry } from '../values/document.js';
import { getQueryValue, parseFieldPath, parseQueryPath } from '../values/names.js';
import { matchesFilter, parseFilter } from './filter.js';
import type { Filter } from './query.js';
import { evaluateEntries, prepareQuery } from './query-plan.js';
import { normalizeOrderBy, sortEntries } from './sort.js';

const at = (ms: number) => new Date(Date.UTC(2026, 0, 1) + ms);
const meta = { version: 1, createdAt: at(0), updatedAt: at(5) };

describe('metadata paths', () => {
  it('are exactly $createdAt and $updatedAt, in queries only', () => {
    expect(parseQueryPath('$createdAt')).toStrictEqual(['$createdAt']);
    expect(parseQueryPath('$updatedAt')).toStrictEqual(['$updatedAt']);
    expect(parseQueryPath('a.b')).toStrictEqual(['a', 'b']);
    for (const path of [
      '$createdat',
      '$UpdatedAt',
      '$version',
      '$id',
      '$',
      '$createdAt.x',
      'a.$createdAt',
      '$__proto__',
    ]) {
      expect(
        validationPath(() => parseQueryPath(path)),
        path,
      ).toBe(path);
    }
    // Updates, countBy and indexes parse with parseFieldPath, which refuses them.
    expect(validationPath(() => parseFieldPath('$createdAt'))).toBe('$createdAt');
    expect(validationPath(() => normalizeOrderBy({ field: '$n' }))).toBe('$n');
  });

  it('take Dates with the comparison, list and $exists operators, and nothing else', () => {
    expect(parseFilter({ $createdAt: at(1) })).toMatchObject({ kind: 'eq', path: ['$createdAt'] });
    expect(parseFilter({ $updatedAt: { $gte: at(1), $lt: at(2) } })).toMatchObject({ kind: 'and' });
    for (const bad of [
      { $createdAt: 1 },
      { $createdAt: '2026-01-01T00:00:00.000Z' },
      { $createdAt: null },
      { $createdAt: {} },
      { $createdAt: new Date(Number.NaN) },
      { $createdAt: { $gt: 0 } },
      { $createdAt: { $in: [at(1), 'x'] } },
      { $createdAt: { $nin: [null] } },
      { $createdAt: { $startsWith: '2026' } },
      { $createdAt: { $contains: at(1) } },
      { $createdAt: { $exists: 1 } },
      { $updatedAt: { $regex: 'x' } },
    ]) {
      expect(
        validationPath(() => parseFilter(bad)),
        JSON.stringify(bad),
      ).not.toBeUndefined();
    }
  });

  it('are read from the metadata, to the millisecond, and never silently missing', () => {
    expect(matchesFilter({ id: 'a' }, { $updatedAt: { $gt: at(4) } }, meta)).toBe(true);
    expect(matchesFilter({ id: 'a' }, { $updatedAt: { $gt: at(5) } }, meta)).toBe(false);
    expect(matchesFilter({ id: 'a' }, { $updatedAt: { $gte: at(5) } }, meta)).toBe(true);
    expect(matchesFilter({ id: 'a' }, { $createdAt: at(0), $updatedAt: { $ne: at(0) } }, meta)).toBe(true);
    expect(matchesFilter({ id: 'a' }, { $createdAt: { $exists: false } }, meta)).toBe(false);
    expect(matchesFilter({ id: 'a' }, { $not: { $createdAt: { $in: [at(0)] } } }, meta)).toBe(false);
    expect(validationPath(() => matchesFilter({ id: 'a' }, { $createdAt: at(0) }))).toBe('$createdAt');
    expect(validationPath(() => getQueryValue({ id: 'a' }, ['$updatedAt'], undefined))).toBe('$updatedAt');
    expect(getQueryValue({ id: 'a', $updatedAt: 'x' }, ['$updatedAt'], meta)).toBe(meta.updatedAt);
  });

  it('sort chronologically, ties by id, with cursors that continue across pages', () => {
    const entries = [
      { document: { id: 'b' }, meta: { version: 1, createdAt: at(1), updatedAt: at(9) } },
      { document: { id: 'a' }, meta: { version: 1, createdAt: at(1), updatedAt: at(8) } },
      { document: { id: 'c' }, meta: { version: 1, createdAt: at(0), updatedAt: at(10) } },
      { document: { id: 'd' }, meta: { version: 1, createdAt: at(2), updatedAt: at(8) } },
    ];
    const ids = (items: readonly { document: { id: string } }[]) => items.map((entry) => entry.document.id);
    expect(ids(sortEntries(entries, '$createdAt'))).toStrictEqual(['c', 'a', 'b', 'd']);
    expect(ids(sortEntries(entries, { field: '$updatedAt', direction: 'desc' }))).toStrictEqual(['c', 'b', 'a', 'd']);
    const walked: string[] = [];
    let cursor: string | undefined;
    do {
      const page = evaluateEntries(entries, prepareQuery({ orderBy: '$createdAt', limit: 1, cursor }));
      walked.push(...ids(page.items));
      cursor = page.nextCursor ?? undefined;
    } while (cursor !== undefined);
    expect(walked).toStrictEqual(['c', 'a', 'b', 'd']);
  });

  it('refuse a cursor that holds anything but a Date for a metadata key', () => {
    const forged = btoa(JSON.stringify({ q: prepareQuery({ orderBy: '$createdAt' }).fingerprint, v: [5], i: 'a' }));
    expect(validationPath(() => prepareQuery({ orderBy: '$createdAt', cursor: forged.replaceAll('=', '') }))).toBe(
      'cursor',
    );
  });
});

interface Note extends Document {
  text: string;
}

describe('metadata types', () => {
  it('type returnEntry writes as entries and the rest as documents', () => {
    const typed = (notes: Repository<Note>, note: Note) => ({
      inserted: notes.insert({ text: 'a' }, { returnEntry: true }),
      plain: notes.insert({ text: 'a' }),
      off: notes.replace(note, { returnEntry: false }),
      upserted: notes.upsert(note, { returnEntry: true, expectedVersion: 1 }),
      updated: notes.update(note.id, { text: 'b' }, { returnEntry: true }),
      either: notes.update(note.id, { text: 'b' }, { returnEntry: Math.random() > 0.5 }),
      entries: notes.findEntries({ orderBy: '$createdAt' }),
    });
    type Calls = ReturnType<typeof typed>;
    expectTypeOf<Calls['inserted']>().toEqualTypeOf<Promise<Entry<Note>>>();
    expectTypeOf<Calls['plain']>().toEqualTypeOf<Promise<Note>>();
    expectTypeOf<Calls['off']>().toEqualTypeOf<Promise<Note>>();
    expectTypeOf<Calls['upserted']>().toEqualTypeOf<Promise<Entry<Note>>>();
    expectTypeOf<Calls['updated']>().toEqualTypeOf<Promise<Entry<Note>>>();
    expectTypeOf<Calls['either']>().toEqualTypeOf<Promise<Note | Entry<Note>>>();
    expectTypeOf<Calls['entries']>().toEqualTypeOf<Promise<Entry<Note>[]>>();
  });

  it('type metadata conditions with Date operands', () => {
    const good: Filter = { $updatedAt: { $gte: at(0), $in: [at(1)] }, $createdAt: at(2) };
    // @ts-expect-error metadata compares Dates, not epoch milliseconds
    const milliseconds: Filter = { $updatedAt: { $gte: 5 } };
    // @ts-expect-error $startsWith does not apply to metadata
    const prefix: Filter = { $createdAt: { $startsWith: '2026' } };
    expect([good, milliseconds, prefix]).toHaveLength(3);
  });
});

/**
 * Numbers in filters, sorts and countBy against raw better-sqlite3 doing the
 * same query with json_extract. Berth compares numbers as the doubles
 * JavaScript holds: safe integers as SQLite reads them, every other number
 * through the JS function `berth_number` (see the adapter's
 * sqlite-query-compiler.ts), so a query on a float field calls into
 * JavaScript once per row or more. The integer cases are the control: the
 * same query shape without those calls.
 */
import type { SqliteBackend } from '@berth/adapter-sqlite';
import type Database from 'better-sqlite3';
import type { BenchSuite } from './harness.js';
import { type Hero, hero } from './heroes.js';
import { fillRepository, RawTable, rawType, rawValue } from './sqlite-tables.js';

interface Priced extends Hero {
  /** 0 to 1000 with two decimals, 99% of them not integers. */
  readonly price: number;
  /** Ten values, 0.25 to 4.75, none an integer. */
  readonly rating: number;
}

function priced(i: number): Priced {
  return { ...hero(i), price: ((i * 7919) % 100_003) / 100, rating: (i % 10) / 2 + 0.25 };
}

/** Width of a price range: about 100 of the 10 000 documents. */
const RANGE = 10;

function rangeStart(i: number): number {
  return (i % 99) * RANGE;
}

/**
 * Throws unless both sides answer alike (documents by id in order, groups
 * by value), so a case never compares different work.
 */
async function expectSameAnswer(suite: string, berth: () => Promise<unknown[]>, raw: () => unknown[]): Promise<void> {
  const key = (item: unknown): string => {
    const { id, value, count } = item as { id?: string; value?: unknown; count?: number };
    return id ?? `${String(value)}:${count}`;
  };
  const sides = [(await berth()).map(key), raw().map(key)];
  // Groups come in no promised order.
  if (suite.includes('countBy')) for (const side of sides) side.sort();
  if (JSON.stringify(sides[0]) !== JSON.stringify(sides[1]) || sides[0]?.length === 0) {
    throw new Error(`${suite}: Berth and raw better-sqlite3 answer differently`);
  }
}

/** The raw side's answers, prepared once per table. */
function rawQueries(table: RawTable<Priced>) {
  const sorted = (field: string) =>
    table.documentsOf<[]>(`SELECT id, doc FROM {table} ORDER BY ${rawValue(field)} ASC, id ASC LIMIT 50`);
  const groups = (field: string) => {
    const statement = table.db.prepare<[], { value: number; count: number }>(
      `SELECT ${rawValue(field)} AS value, count(*) AS count FROM "${table.name}" GROUP BY 1`,
    );
    return () => statement.all();
  };
  return {
    byPrice: sorted('price'),
    byLevel: sorted('level'),
    priceRange: table.documentsOf<[number, number]>(
      `SELECT id, doc FROM {table} WHERE (${rawType('price')} IN ('integer', 'real') AND ${rawValue('price')} >= ? AND ${rawValue('price')} < ?) ORDER BY id ASC`,
    ),
    ratings: groups('rating'),
    levels: groups('level'),
  };
}

export function sqliteNumberSuites(backend: SqliteBackend, raw: Database.Database): BenchSuite[] {
  const prices = backend.repository<Priced>('bench_prices', { indexes: [{ field: 'guild', type: 'string' }] });
  const indexedPrices = backend.repository<Priced>('bench_prices_indexed', {
    indexes: [
      { field: 'guild', type: 'string' },
      { field: 'price', type: 'number' },
    ],
  });
  const rawPrices = new RawTable(raw, 'bench_prices', priced);
  const rawIndexedPrices = new RawTable(raw, 'bench_prices_indexed', priced, ['guild', 'price']);
  const plain = rawQueries(rawPrices);
  const indexed = rawQueries(rawIndexedPrices);
  const fillPrices = () => fillRepository(prices, priced);
  const fillIndexedPrices = () => fillRepository(indexedPrices, priced);

  /** A suite of the raw query against Berth's, both answering alike. */
  const suite = (
    name: string,
    [rawTable, rawRun]: readonly [RawTable<Priced>, (i: number) => unknown[]],
    [fill, berthRun]: readonly [() => Promise<void>, (i: number) => Promise<unknown[]>],
    berthName = 'sqlite find',
  ): BenchSuite => ({
    name,
    cases: [
      { name: 'raw better-sqlite3', baseline: true, setup: () => rawTable.fill(), run: rawRun },
      {
        name: berthName,
        setup: async () => {
          await fill();
          await expectSameAnswer(
            name,
            () => berthRun(0),
            () => rawRun(0),
          );
        },
        run: berthRun,
      },
    ],
  });
  const range = (i: number) => ({ price: { $gte: rangeStart(i), $lt: rangeStart(i) + RANGE } });

  return [
    suite(
      'sqlite find sorted by float, limit 50 (10 000 docs)',
      [rawPrices, () => plain.byPrice()],
      [fillPrices, () => prices.find({ orderBy: 'price', limit: 50 })],
    ),
    suite(
      'sqlite find sorted by integer, limit 50 (10 000 docs)',
      [rawPrices, () => plain.byLevel()],
      [fillPrices, () => prices.find({ orderBy: 'level', limit: 50 })],
    ),
    suite(
      'sqlite find float range, no index (~100 of 10 000)',
      [rawPrices, (i) => plain.priceRange(rangeStart(i), rangeStart(i) + RANGE)],
      [fillPrices, (i) => prices.find({ where: range(i) })],
    ),
    suite(
      'sqlite find float range, indexed (~100 of 10 000)',
      [rawIndexedPrices, (i) => indexed.priceRange(rangeStart(i), rangeStart(i) + RANGE)],
      [fillIndexedPrices, (i) => indexedPrices.find({ where: range(i) })],
    ),
    suite(
      'sqlite countBy float (10 groups, 10 000 docs)',
      [rawPrices, () => plain.ratings()],
      [fillPrices, () => prices.countBy('rating')],
      'sqlite countBy',
    ),
    suite(
      'sqlite countBy integer (100 groups, 10 000 docs)',
      [rawPrices, () => plain.levels()],
      [fillPrices, () => prices.countBy('level')],
      'sqlite countBy',
    ),
  ];
}

import type { OrderBy, Query, Repository } from '@berth/core';
import { matchesFilter, sortDocuments } from '@berth/core/adapter';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { MemoryBackend } from './memory-backend.js';

// The memory planner keeps every declared index sorted in the reference
// order: `explain` says which region of which index a query reads, and
// whether the walk is in sort order and stops at the limit.

interface Revision {
  id: string;
  sessionId: string;
  at: Date;
  points?: unknown;
}

const backend = new MemoryBackend();
let revisions: Repository<Revision>;
const stored: Revision[] = [];

beforeAll(async () => {
  revisions = backend.repository<Revision>('revisions', {
    indexes: [
      { field: 'points', type: 'number' },
      {
        fields: [
          { field: 'sessionId', type: 'string' },
          { field: 'at', type: 'date' },
        ],
      },
    ],
  });
  const points: unknown[] = [0, 5e-324, 1e308, 2 ** 53, 2 ** 53 + 2, -1, 'a', 'A', 'a ', 'á', null, true, [1]];
  for (let n = 0; n < 300; n++) {
    const value = points[n % points.length];
    stored.push({
      id: `r${String(299 - n).padStart(3, '0')}`,
      sessionId: ['s1', 'S1', 's1 '][n % 3] as string,
      at: new Date(Date.UTC(2024, 0, 1) + (n % 41) * 60_000),
      ...(n % 11 === 0 ? {} : { points: value }),
    });
  }
  await revisions.insertMany(stored);
});
afterAll(() => backend.close());

async function expectReference(query: Query<Revision>): Promise<void> {
  const matching = stored.filter((revision) => matchesFilter(revision, query.where ?? {}));
  const start = query.offset ?? 0;
  const expected = sortDocuments(matching, query.orderBy as OrderBy).slice(
    start,
    query.limit === undefined ? undefined : start + query.limit,
  );
  expect((await revisions.find(query)).map((revision) => revision.id)).toEqual(expected.map((revision) => revision.id));
}

describe('memory explain', () => {
  const plans: [string, Query<Revision>, string, RegExp][] = [
    [
      'a top-N walks the sorted index backwards and stops after the limit',
      { orderBy: { field: 'points', direction: 'desc' }, limit: 10 },
      'revisions_points_idx',
      /sorted index on points, in sort order \(backwards\), stops after the limit/,
    ],
    [
      'a range on an indexed field reads its region',
      { where: { points: { $gt: 2 ** 53 } } },
      'revisions_points_idx',
      /range on points/,
    ],
    [
      'a compound index serves an equality prefix and a sort',
      { where: { sessionId: 'S1' }, orderBy: 'at', limit: 5 },
      'revisions_sessionId__at_idx',
      /equality on sessionId, in sort order \(forwards\), stops after the limit/,
    ],
    [
      'a compound index serves an equality prefix and a range',
      { where: { sessionId: 's1 ', at: { $gte: new Date(Date.UTC(2024, 0, 1, 0, 20)) } } },
      'revisions_sessionId__at_idx',
      /equality on sessionId, range on at/,
    ],
  ];
  for (const [label, query, index, detail] of plans) {
    it(`${label}, with the reference's results`, async () => {
      const plan = await revisions.explain(query);
      expect(plan).toMatchObject({ strategy: 'index', index });
      expect(plan.detail).toMatch(detail);
      await expectReference(query);
    });
  }

  it('scans for a sort on an unindexed field or a sort the index does not hold', async () => {
    for (const query of [
      { orderBy: 'id', limit: 5 },
      { orderBy: [{ field: 'points' }, { field: 'sessionId' }], limit: 5 },
      { where: { at: { $gt: new Date(0) } }, orderBy: 'at', limit: 5 },
    ] satisfies Query<Revision>[]) {
      const plan = await revisions.explain(query);
      expect(plan.detail, JSON.stringify(query)).not.toMatch(/in sort order/);
      await expectReference(query);
    }
  });
});

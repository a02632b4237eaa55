import { comparePositions, type JobPosition } from '@berth/core/adapter';
import { describe, expect, it } from 'vitest';
import { JobIndex } from './memory-job-index.js';

interface Entry extends JobPosition {
  readonly n: number;
}

/** A small deterministic generator, so a failure can be replayed. */
function random(seed: number): () => number {
  let state = seed;
  return () => {
    state = (state * 1_103_515_245 + 12_345) % 2_147_483_648;
    return state / 2_147_483_648;
  };
}

function sorted(entries: Iterable<Entry>): Entry[] {
  return [...entries].sort(comparePositions);
}

describe('JobIndex', () => {
  it('matches a sorted array under random inserts, removes and walks from random positions', () => {
    for (const seed of [1, 2, 3]) {
      const next = random(seed);
      const index = new JobIndex<Entry>();
      const live = new Set<Entry>();
      let counter = 0;
      for (let step = 0; step < 6_000; step++) {
        const roll = next();
        if (roll < 0.55 || live.size === 0) {
          // Mostly growing times, sometimes an old one (a retried job), ids that tie on time.
          const createdAt = roll < 0.45 ? 1_000 + Math.floor(step / 3) : Math.floor(next() * 2_000);
          const entry = {
            createdAt,
            id: `id${String(Math.floor(next() * 1_000)).padStart(4, '0')}-${counter++}`,
            n: step,
          };
          index.insert(entry);
          live.add(entry);
        } else {
          const all = [...live];
          // Mostly the oldest (a dequeue), otherwise any.
          const victim = (roll < 0.8 ? sorted(all)[0] : all[Math.floor(next() * all.length)]) as Entry;
          index.remove(victim);
          live.delete(victim);
        }
        if (step % 500 === 0 || step === 5_999) {
          const expected = sorted(live);
          expect(index.size).toBe(expected.length);
          expect([...index.ascending(undefined)]).toStrictEqual(expected);
          expect([...index.descending(undefined)]).toStrictEqual([...expected].reverse());
          for (let probe = 0; probe < 20; probe++) {
            const at: JobPosition =
              next() < 0.5 && expected.length > 0
                ? (expected[Math.floor(next() * expected.length)] as Entry)
                : { createdAt: Math.floor(next() * 3_000), id: `id${Math.floor(next() * 1_000)}` };
            expect([...index.ascending(at)]).toStrictEqual(expected.filter((entry) => comparePositions(entry, at) > 0));
            expect([...index.descending(at)]).toStrictEqual(
              expected.filter((entry) => comparePositions(entry, at) < 0).reverse(),
            );
          }
        }
      }
    }
  });

  it('stays sorted across chunk splits and emptied chunks', () => {
    const next = random(7);
    const index = new JobIndex<Entry>();
    const live: Entry[] = [];
    // Appends fill chunks in order; inserts in the middle split them; removals empty some.
    for (let n = 0; n < 3_000; n++) live.push({ createdAt: n, id: 'a', n });
    for (let n = 0; n < 3_000; n++) live.push({ createdAt: Math.floor(next() * 3_000), id: `b${n}`, n: 3_000 + n });
    for (const entry of live) index.insert(entry);
    for (let n = 0; n < 4_000; n++) {
      const [victim] = live.splice(n < 1_000 ? 0 : Math.floor(next() * live.length), 1);
      index.remove(victim as Entry);
    }
    const expected = sorted(live);
    expect([...index.ascending(undefined)]).toStrictEqual(expected);
    expect([...index.descending(undefined)]).toStrictEqual([...expected].reverse());
    const middle = expected[1_000] as Entry;
    expect([...index.ascending(middle)]).toStrictEqual(expected.slice(1_001));
    expect([...index.descending(middle)]).toStrictEqual(expected.slice(0, 1_000).reverse());
  });

  it('ignores removing an entry it does not hold, even one equal in position', () => {
    const index = new JobIndex<Entry>();
    const entry = { createdAt: 1, id: 'a', n: 1 };
    index.insert(entry);
    index.remove({ createdAt: 1, id: 'a', n: 2 });
    index.remove({ createdAt: 0, id: 'z', n: 3 });
    expect([...index.ascending(undefined)]).toStrictEqual([entry]);
    index.remove(entry);
    expect(index.size).toBe(0);
    expect([...index.ascending({ createdAt: 0, id: '' })]).toStrictEqual([]);
    expect([...index.descending({ createdAt: 9, id: '' })]).toStrictEqual([]);
  });
});

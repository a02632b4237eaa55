/**
 * The memory repository's `upsert` against unstorage's memory driver, what
 * users would pick for a key-value store of documents instead. Both replace
 * one of 10 000 stored heroes per call, and both copy what they store:
 *
 * - unstorage `setItem` copies the value as JSON text (`JSON.stringify`,
 *   Dates become strings, nothing is checked) and resolves to nothing;
 * - Berth `upsert` validates the document against every value rule, copies
 *   it canonically, bumps its version and timestamps, commits, and resolves
 *   to a copy of what it stored (which the caller may change freely).
 *
 * Target (issue 9): `upsert` without indexes within 1.5× of unstorage.
 */
import type { RepositoryBackend } from '@berth/core';
import { createStorage } from 'unstorage';
import memoryDriver from 'unstorage/drivers/memory';
import type { BenchSuite } from './harness.js';
import { type Hero, hero, heroId, SIZE } from './heroes.js';

const heroes = Array.from({ length: SIZE }, (_, i) => hero(i));

export function memoryUpsertSuites(backend: RepositoryBackend): BenchSuite[] {
  const storage = createStorage<Hero>({ driver: memoryDriver() });
  const plain = backend.repository<Hero>('bench_upsert');
  const indexed = backend.repository<Hero>('bench_upsert_indexed', { indexes: [{ field: 'guild', type: 'string' }] });
  const at = (i: number): Hero => heroes[i % SIZE] as Hero;

  return [
    {
      name: 'upsert (replacing, 10 000 docs)',
      cases: [
        {
          name: 'unstorage memory setItem',
          baseline: true,
          setup: async () => {
            for (const document of heroes) await storage.setItem(`heroes:${document.id}`, document);
          },
          run: (i) => storage.setItem(`heroes:${heroId(i % SIZE)}`, at(i)),
        },
        {
          name: 'memory upsert',
          setup: () => plain.upsertMany(heroes),
          run: (i) => plain.upsert(at(i)),
        },
        {
          name: 'memory upsert (guild index)',
          setup: () => indexed.upsertMany(heroes),
          run: (i) => indexed.upsert(at(i)),
        },
      ],
    },
  ];
}

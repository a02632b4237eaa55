/**
 * The memory adapter against a plain `Map` doing the equivalent work: copy
 * on write, copy on read (what the adapter must do so callers cannot mutate
 * stored state), a hand-kept secondary index for indexed lookups. The ratio
 * is the cost of validation, metadata, the query model and the async API,
 * against the copying cost of `structuredClone`, which is slow for small
 * objects: a ratio below 1 means the adapter's own copy beats it.
 */
import type { Repository, RepositoryBackend } from '@berth/core';
import type { BenchSuite } from './harness.js';
import { GUILDS, type Hero, hero, heroId, SIZE } from './heroes.js';

interface StoredHero {
  document: Hero;
  version: number;
  updatedAt: Date;
}

/** A `Map` store that copies like the adapter does and keeps the guild index by hand. */
class MapStore {
  readonly rows = new Map<string, StoredHero>();
  readonly byGuild = new Map<string, string[]>();

  insert(document: Hero): Hero {
    if (this.rows.has(document.id)) throw new Error(`duplicate ${document.id}`);
    const stored = structuredClone(document);
    this.rows.set(stored.id, { document: stored, version: 1, updatedAt: new Date() });
    const ids = this.byGuild.get(stored.guild);
    if (ids === undefined) this.byGuild.set(stored.guild, [stored.id]);
    else ids.push(stored.id);
    return structuredClone(stored);
  }

  get(id: string): Hero | null {
    const row = this.rows.get(id);
    return row === undefined ? null : structuredClone(row.document);
  }

  incrementLevel(id: string): Hero {
    const row = this.rows.get(id);
    if (row === undefined) throw new Error(`missing ${id}`);
    const document = { ...structuredClone(row.document), level: row.document.level + 1 };
    this.rows.set(id, { document, version: row.version + 1, updatedAt: new Date() });
    return structuredClone(document);
  }

  findByGuild(guild: string): Hero[] {
    return (this.byGuild.get(guild) ?? []).flatMap((id) => {
      const row = this.rows.get(id);
      return row === undefined ? [] : [structuredClone(row.document)];
    });
  }

  findLevelAtLeast(level: number): Hero[] {
    const found: Hero[] = [];
    for (const row of this.rows.values()) if (row.document.level >= level) found.push(structuredClone(row.document));
    return found.sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
  }
}

/** Fills once; suites that read share one preloaded store. */
function fill(store: MapStore): void {
  if (store.rows.size > 0) return;
  for (let i = 0; i < SIZE; i += 1) store.insert(hero(i));
}

export async function fillRepository(repository: Repository<Hero>): Promise<void> {
  if (await repository.exists()) return;
  const documents = Array.from({ length: SIZE }, (_, i) => hero(i));
  for (let start = 0; start < SIZE; start += 1000) await repository.insertMany(documents.slice(start, start + 1000));
}

/** The suites, each on fresh collections of `backend`. */
export function memoryRepositorySuites(backend: RepositoryBackend): BenchSuite[] {
  const indexes = [{ field: 'guild', type: 'string' } as const];
  const inserted = backend.repository<Hero>('bench_insert', { indexes });
  const heroes = backend.repository<Hero>('bench_heroes', { indexes });
  const updated = backend.repository<Hero>('bench_update', { indexes });
  const insertStore = new MapStore();
  const readStore = new MapStore();
  const updateStore = new MapStore();

  return [
    {
      name: 'insert',
      cases: [
        { name: 'Map.set(structuredClone)', baseline: true, run: (i) => insertStore.insert(hero(i)) },
        { name: 'memory insert', run: (i) => inserted.insert(hero(i)) },
      ],
    },
    {
      name: 'get by id',
      cases: [
        {
          name: 'Map.get + clone',
          baseline: true,
          setup: () => fill(readStore),
          run: (i) => readStore.get(heroId(i % SIZE)),
        },
        { name: 'memory get', setup: () => fillRepository(heroes), run: (i) => heroes.get(heroId(i % SIZE)) },
      ],
    },
    {
      name: 'update $inc',
      cases: [
        {
          name: 'Map clone + set',
          baseline: true,
          setup: () => fill(updateStore),
          run: (i) => updateStore.incrementLevel(heroId(i % SIZE)),
        },
        {
          name: 'memory update $inc',
          setup: () => fillRepository(updated),
          run: (i) => updated.update(heroId(i % SIZE), { $inc: { level: 1 } }),
        },
      ],
    },
    {
      name: 'find indexed eq (100 hits)',
      cases: [
        {
          name: 'Map index + clone',
          baseline: true,
          setup: () => fill(readStore),
          run: (i) => readStore.findByGuild(`guild-${i % GUILDS}`),
        },
        {
          name: 'memory find',
          setup: () => fillRepository(heroes),
          run: (i) => heroes.find({ where: { guild: `guild-${i % GUILDS}` } }),
        },
      ],
    },
    {
      name: 'find scan (level >= 98)',
      cases: [
        {
          name: 'Map scan + clone + sort',
          baseline: true,
          setup: () => fill(readStore),
          run: () => readStore.findLevelAtLeast(98),
        },
        {
          name: 'memory find',
          setup: () => fillRepository(heroes),
          run: () => heroes.find({ where: { level: { $gte: 98 } } }),
        },
      ],
    },
  ];
}

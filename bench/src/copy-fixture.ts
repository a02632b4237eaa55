/**
 * The sources of the `berth copy` benchmark: a SQLite file, and a `file:`
 * document of the same customers, each written through its Berth backend
 * (so it holds Berth's tables or document format, metadata and declared
 * index, as a real application's would).
 */
import * as memory from '@berth/adapter-memory';
import * as sqlite from '@berth/adapter-sqlite';
import { type Backend, createBackend, type Document, type IndexDefinition } from '@berth/core';

/** The benchmark's name, which BENCH_ONLY matches (here so run.ts can test it without loading every adapter). */
export const COPY_SUITE = 'berth copy';

/** The collection the benchmark copies. */
export const COPY_COLLECTION = 'customers';

/** A customer: a few scalar fields, a nested object two levels deep, a Date, a list; about 400 bytes of JSON. */
export interface Customer extends Document {
  readonly name: string;
  readonly email: string;
  readonly country: string;
  readonly plan: 'free' | 'team' | 'enterprise';
  readonly score: number;
  readonly active: boolean;
  readonly tags: readonly string[];
  readonly address: {
    readonly street: string;
    readonly city: string;
    readonly postcode: string;
    readonly geo: { readonly lat: number; readonly lng: number };
  };
  readonly preferences: { readonly locale: string; readonly newsletter: boolean; readonly theme: string };
  readonly signedUpAt: Date;
  readonly notes: string;
}

/** The index the source declares (and a copy must carry over): customers by country. */
const COPY_INDEXES: readonly IndexDefinition<Customer>[] = [{ field: 'country', type: 'string' }];

const COUNTRIES = ['DE', 'FR', 'GB', 'US', 'JP', 'BR', 'IN', 'NG', 'SE', 'ES', 'IT', 'CA'] as const;
const PLANS = ['free', 'team', 'enterprise'] as const;
const CITIES = ['Lyon', 'Köln', 'Osaka', 'Recife', 'Pune', 'Lagos', 'Malmö', 'Sevilla', 'Torino', 'Québec'] as const;

export function customerId(i: number): string {
  return `c${String(i).padStart(8, '0')}`;
}

/** The `i`-th customer: deterministic, so every run copies the same bytes. */
export function customer(i: number): Customer {
  const city = CITIES[i % CITIES.length] ?? 'Lyon';
  return {
    id: customerId(i),
    name: `Customer Number ${i}`,
    email: `customer.${i}@example.com`,
    country: COUNTRIES[i % COUNTRIES.length] ?? 'DE',
    plan: PLANS[(i * 7) % PLANS.length] ?? 'free',
    score: ((i * 7919) % 10_000) / 100,
    active: i % 5 !== 0,
    tags: i % 3 === 0 ? ['beta', 'newsletter'] : ['newsletter'],
    address: {
      street: `${(i % 200) + 1} Long Street Name Avenue`,
      city,
      postcode: String(10_000 + (i % 89_999)),
      geo: { lat: ((i % 18_000) - 9_000) / 100, lng: ((i % 36_000) - 18_000) / 100 },
    },
    preferences: { locale: i % 2 === 0 ? 'en-GB' : 'fr-FR', newsletter: i % 4 !== 0, theme: 'dark' },
    signedUpAt: new Date(Date.UTC(2020, 0, 1) + i * 60_000),
    notes: `Account ${i} moved from the legacy billing system; keep the invoices of the first year on paper.`,
  };
}

/** Documents per `insertMany` while seeding. */
const SEED_BATCH = 1_000;

/** Opens a `sqlite:` or `file:` URL (the adapters passed in, so nothing is looked up at run time). */
async function openSource(url: string): Promise<Backend> {
  const backend = await createBackend(url, { adapters: [sqlite, memory] });
  await backend.connect();
  return backend;
}

/** Writes `count` customers through Berth into the new source at `url`; returns a document's JSON size. */
export async function seedSource(url: string, count: number): Promise<{ readonly bytesPerDocument: number }> {
  const backend = await openSource(url);
  try {
    const customers = backend.repository<Customer>(COPY_COLLECTION, { indexes: [...COPY_INDEXES] });
    for (let start = 0; start < count; start += SEED_BATCH) {
      const batch: Customer[] = [];
      for (let i = start; i < Math.min(count, start + SEED_BATCH); i += 1) batch.push(customer(i));
      await customers.insertMany(batch);
    }
  } finally {
    await backend.close();
  }
  return { bytesPerDocument: JSON.stringify(customer(count >> 1)).length };
}

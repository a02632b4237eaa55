/** What the document benchmarks share: the seed-shaped fixture, an RSS sampler, the median. */
import { stat } from 'node:fs/promises';
import { Worker } from 'node:worker_threads';
import { DocumentBackend, FileDocumentStore } from '@berth/adapter-memory';

/** One entity of the seed shape: a player with a few nested fields (about 190 bytes of JSON). */
function player(i: number): Record<string, unknown> {
  return {
    name: `player number ${i}`,
    level: i % 100,
    gold: i * 3,
    tags: ['founder', i % 2 === 0 ? 'even' : 'odd'],
    stats: { hp: 100 + (i % 50), mp: 50, strength: 12, agility: i % 20 },
    joined: '2026-01-01T00:00:00.000Z',
  };
}

/** Writes a document of about `mb` MB through the backend itself, so it holds Berth's metadata too. */
export async function writeFixture(path: string, mb: number): Promise<number> {
  const perEntity = JSON.stringify({ p00000000: player(0) }).length + 60; // + its [version, createdAt, updatedAt]
  const count = Math.ceil((mb * 1_000_000) / perEntity);
  const backend = new DocumentBackend({ store: new FileDocumentStore(path), debounceMs: 60_000 });
  const players = backend.repository<{ id: string }>('players');
  for (let start = 0; start < count; start += 10_000) {
    const batch = [];
    for (let i = start; i < Math.min(count, start + 10_000); i += 1) {
      batch.push({ id: `p${String(i).padStart(8, '0')}`, ...player(i) });
    }
    await players.insertMany(batch);
  }
  await backend.close();
  return (await stat(path)).size;
}

/** Samples the process's RSS from a worker thread; `phase` measures the peak growth while `work` runs. */
export function rssSampler(): { phase<T>(work: () => Promise<T>): Promise<[T, number]>; stop(): Promise<number> } {
  const peak = new BigInt64Array(new SharedArrayBuffer(8));
  const worker = new Worker(
    `const { workerData } = require('node:worker_threads');
     const peak = workerData; const tick = new Int32Array(new SharedArrayBuffer(4));
     for (;;) {
       const rss = BigInt(process.memoryUsage.rss());
       if (rss > Atomics.load(peak, 0)) Atomics.store(peak, 0, rss);
       Atomics.wait(tick, 0, 0, 1);
     }`,
    { eval: true, workerData: peak },
  );
  return {
    async phase(work) {
      const start = process.memoryUsage.rss();
      Atomics.store(peak, 0, BigInt(start));
      const result = await work();
      await new Promise((resolve) => setTimeout(resolve, 5)); // one more sample after the last allocation
      return [result, Math.max(0, Number(Atomics.load(peak, 0)) - start)];
    },
    stop: () => worker.terminate(),
  };
}

export function median(values: readonly number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const middle = Math.floor(sorted.length / 2);
  return sorted.length % 2 === 1
    ? (sorted[middle] ?? Number.NaN)
    : ((sorted[middle - 1] ?? 0) + (sorted[middle] ?? 0)) / 2;
}

/**
 * The "upsert" suite's memory case against unstorage again, timed by CPU
 * time (`process.cpuUsage`, which counts the garbage collector's helper
 * threads too) as well as by the wall clock: on a shared machine the wall
 * clock mostly measures the neighbours. Runs alternate between the two, each
 * run replacing `OPS` of 10 000 stored heroes; the ratio is taken per run.
 *
 *   pnpm --filter @berth/bench exec tsx --conditions=@berth/source src/memory-upsert-cpu.ts
 *   RUNS=9 OPS=50000 pnpm --filter @berth/bench exec tsx --conditions=@berth/source src/memory-upsert-cpu.ts
 */
import { createBackend } from '@berth/core';
import { createStorage } from 'unstorage';
import memoryDriver from 'unstorage/drivers/memory';
import { type Hero, hero, heroId, SIZE } from './heroes.js';

const OPS = Number(process.env.OPS ?? 100_000);
const RUNS = Number(process.env.RUNS ?? 7);

const heroes = Array.from({ length: SIZE }, (_, i) => hero(i));
const at = (i: number): Hero => heroes[i % SIZE] as Hero;
const backend = await createBackend('memory:');
const storage = createStorage<Hero>({ driver: memoryDriver() });
const repository = backend.repository<Hero>('bench_upsert');
for (const document of heroes) await storage.setItem(`heroes:${document.id}`, document);
await repository.upsertMany(heroes);

const unstorage = (i: number) => storage.setItem(`heroes:${heroId(i % SIZE)}`, at(i));
const berth = (i: number) => repository.upsert(at(i));

/** One run: wall and CPU time in ms. */
async function measure(run: (i: number) => Promise<unknown>): Promise<{ wall: number; cpu: number }> {
  const cpuStart = process.cpuUsage();
  const wallStart = performance.now();
  for (let i = 0; i < OPS; i++) await run(i);
  const wall = performance.now() - wallStart;
  const cpu = process.cpuUsage(cpuStart);
  return { wall, cpu: (cpu.user + cpu.system) / 1000 };
}

const perOp = (ms: number): string => `${((ms * 1000) / OPS).toFixed(2)} µs`;
const median = (values: readonly number[]): number =>
  [...values].sort((a, b) => a - b)[values.length >> 1] ?? Number.NaN;
const summary = (values: readonly number[]): string =>
  `${median(values).toFixed(2)}x (${Math.min(...values).toFixed(2)}–${Math.max(...values).toFixed(2)})`;

try {
  await measure(unstorage);
  await measure(berth);
  const wallRatios: number[] = [];
  const cpuRatios: number[] = [];
  for (let run = 1; run <= RUNS; run++) {
    const peer = await measure(unstorage);
    const ours = await measure(berth);
    wallRatios.push(ours.wall / peer.wall);
    cpuRatios.push(ours.cpu / peer.cpu);
    console.log(
      `run ${run}: unstorage ${perOp(peer.wall)} wall, ${perOp(peer.cpu)} CPU; memory upsert ${perOp(ours.wall)} wall, ${perOp(ours.cpu)} CPU`,
    );
  }
  console.log(
    `memory upsert / unstorage setItem over ${RUNS} runs: wall ${summary(wallRatios)}, CPU ${summary(cpuRatios)}`,
  );
} finally {
  await backend.close();
}

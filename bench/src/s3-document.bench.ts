/**
 * The S3 document backend (`S3DocumentBackend`) on a real S3 endpoint:
 *
 * - PUTs per N writes: N writes inside one debounce window, and writes spread
 *   over several windows, counted by an SDK middleware on the client passed in;
 * - load and save of a 1 MB and a 10 MB document beside the raw SDK
 *   (`GetObject` + `JSON.parse`; `JSON.stringify` + `PutObject`), with the
 *   peak RSS growth of each phase (measured in this process, so it includes
 *   whatever the heap had to grow by, not only the phase's own garbage);
 * - in-memory operation rates against `MemoryBackend`: an operation does not
 *   touch S3 until a save, so they should be near 1x.
 *
 * Without `S3_ENDPOINT` (with `S3_ACCESS_KEY_ID`, `S3_SECRET_ACCESS_KEY`) it
 * starts the S3 package's private Ceph RADOS Gateway (about 12 s).
 *
 *   BENCH_ONLY='^s3 document' pnpm bench
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { CreateBucketCommand, GetObjectCommand, PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { MemoryBackend } from '@berth/adapter-memory';
import { S3DocumentBackend } from '@berth/adapter-s3-document';
// The bench is private and runs from source: it starts the gateway exactly as the package's tests do.
import { CephGateway } from '../../packages/adapter-s3-document/src/fixtures/ceph-gateway.js';
import { formatSizeRows, type LoadSaveResult, rssSampler, type SizeRow, sizeRows } from './document-helpers.js';
import { type BenchOptions, type CaseResult, formatTable, runSuites } from './harness.js';
import { GUILDS, type Hero, hero, heroId, SIZE } from './heroes.js';
import { fillRepository } from './memory-repository.bench.js';

export const S3_DOCUMENT_SUITE = 's3 document';

const BUCKET = `berth-bench-${process.pid}`;
const CASES = ['GetObject/PutObject + JSON', 'S3DocumentBackend'] as const;
type CaseName = (typeof CASES)[number];

interface Endpoint {
  readonly endpoint: string;
  readonly credentials: { readonly accessKeyId: string; readonly secretAccessKey: string };
}

/** A client configured as the adapter configures its own, with a count of the PutObjects it sends. */
function countingClient(endpoint: Endpoint): { readonly client: S3Client; readonly puts: () => number } {
  const client = new S3Client({
    ...endpoint,
    region: 'us-east-1',
    forcePathStyle: true,
    requestChecksumCalculation: 'WHEN_REQUIRED',
    responseChecksumValidation: 'WHEN_REQUIRED',
  });
  let puts = 0;
  client.middlewareStack.add(
    (next, context) => (args) => {
      if (context.commandName === 'PutObjectCommand') puts += 1;
      return next(args);
    },
    { step: 'initialize', name: 'countPuts' },
  );
  return { client, puts: () => puts };
}

export interface PutsRow {
  readonly scenario: string;
  readonly writes: number;
  readonly puts: number;
}

/** Runs `write(n)` for each write, `pauseMs(n)` apart, then waits for the debounced saves and counts the PUTs. */
async function countPuts(
  endpoint: Endpoint,
  scenario: string,
  config: { readonly debounceMs: number; readonly maxWaitMs: number },
  writes: number,
  pauseMs: (n: number) => number,
): Promise<PutsRow> {
  const { client, puts } = countingClient(endpoint);
  const backend = new S3DocumentBackend({ client, bucket: BUCKET, key: `puts-${scenario}-${writes}.json`, ...config });
  await backend.connect();
  const items = backend.repository<{ id: string; n: number }>('items');
  for (let n = 0; n < writes; n += 1) {
    await items.insert({ id: `i${n}`, n });
    const pause = pauseMs(n);
    if (pause > 0) await sleep(pause);
  }
  await sleep(config.debounceMs * 3); // the last window closes and its save completes
  const row = { scenario, writes, puts: puts() };
  await backend.close();
  if (puts() !== row.puts) throw new Error(`${scenario}: close() saved again after the debounced save`);
  client.destroy();
  return row;
}

async function putsPerWrites(endpoint: Endpoint): Promise<PutsRow[]> {
  const oneWindow = { debounceMs: 300, maxWaitMs: 60_000 };
  const rows: PutsRow[] = [];
  for (const writes of [1, 100, 10_000]) rows.push(await countPuts(endpoint, 'one window', oneWindow, writes, () => 0));
  // 5 bursts of 100 writes, 600 ms apart: each burst is its own window.
  rows.push(await countPuts(endpoint, '5 bursts', oneWindow, 500, (n) => (n % 100 === 99 ? 600 : 0)));
  // A write every 10 ms for about 3 s: the debounce never fires, maxWaitMs (500 ms) bounds each save.
  rows.push(await countPuts(endpoint, 'steady, maxWaitMs 500', { debounceMs: 300, maxWaitMs: 500 }, 300, () => 10));
  return rows;
}

/** Loads the object, updates one player, saves it: the raw SDK, or the backend. */
async function loadAndSave(
  caseName: CaseName,
  client: S3Client,
  key: string,
  timed: (work: () => Promise<unknown>) => Promise<LoadSaveResult['load']>,
): Promise<LoadSaveResult> {
  if (caseName === 'S3DocumentBackend') {
    const backend = new S3DocumentBackend({ client, bucket: BUCKET, key, debounceMs: 60_000 });
    const load = await timed(() => backend.connect());
    await backend.repository<{ id: string; level: number }>('players').update('p00000001', { $set: { level: 7 } });
    const save = await timed(() => backend.flush());
    await backend.close();
    return { load, save };
  }
  let document: { players: Record<string, { level: number }> } | undefined;
  const load = await timed(async () => {
    const object = await client.send(new GetObjectCommand({ Bucket: BUCKET, Key: key }));
    document = JSON.parse((await object.Body?.transformToString()) ?? '{}') as typeof document;
  });
  const target = document?.players.p00000001;
  if (target !== undefined) target.level = 7;
  const save = await timed(() =>
    client.send(new PutObjectCommand({ Bucket: BUCKET, Key: key, Body: JSON.stringify(document) })),
  );
  return { load, save };
}

export type S3SizeRow = SizeRow<CaseName>;

/** Medians over `runs` rounds per size, the cases alternating; each case on its own copy of the object. */
async function documentSizes(endpoint: Endpoint, runs: number): Promise<S3SizeRow[]> {
  const { client } = countingClient(endpoint);
  const sampler = rssSampler();
  const directory = mkdtempSync(join(tmpdir(), 'berth-bench-s3-document-'));
  try {
    return await sizeRows(directory, CASES, runs, async (fixture, mb) => {
      const body = readFileSync(fixture);
      const key = (name: CaseName) => `size-${mb}mb-${CASES.indexOf(name)}.json`;
      for (const name of CASES) await client.send(new PutObjectCommand({ Bucket: BUCKET, Key: key(name), Body: body }));
      return (name) => loadAndSave(name, client, key(name), sampler.timed);
    });
  } finally {
    rmSync(directory, { recursive: true, force: true });
    await sampler.stop();
    client.destroy();
  }
}

/** The memory adapter's suites, the S3-backed backend beside `MemoryBackend`, both loaded with the same heroes. */
function rateSuites(memory: MemoryBackend, s3: S3DocumentBackend) {
  const indexes = [{ field: 'guild', type: 'string' } as const];
  const sides = [
    { label: 'memory', backend: memory, baseline: true },
    { label: 's3 document', backend: s3, baseline: false },
  ].map((side) => ({
    ...side,
    heroes: side.backend.repository<Hero>('bench_heroes', { indexes }),
    inserted: side.backend.repository<Hero>('bench_insert', { indexes }),
  }));
  const suite = (name: string, run: (side: (typeof sides)[number], i: number) => unknown) => ({
    name: `${S3_DOCUMENT_SUITE} ${name}`,
    cases: sides.map((side) => ({
      name: `${side.label} ${name}`,
      baseline: side.baseline,
      setup: () => fillRepository(side.heroes),
      run: (i: number) => run(side, i),
    })),
  });
  return [
    suite('get by id', (side, i) => side.heroes.get(heroId(i % SIZE))),
    suite('insert', (side, i) => side.inserted.insert(hero(SIZE + i))),
    suite('update $inc', (side, i) => side.heroes.update(heroId(i % SIZE), { $inc: { level: 1 } })),
    suite('find indexed eq', (side, i) => side.heroes.find({ where: { guild: `guild-${i % GUILDS}` } })),
  ];
}

async function operationRates(endpoint: Endpoint, options: BenchOptions): Promise<CaseResult[]> {
  const { client, puts } = countingClient(endpoint);
  const memory = new MemoryBackend();
  const s3 = new S3DocumentBackend({
    client,
    bucket: BUCKET,
    key: 'rates.json',
    debounceMs: 600_000,
    maxWaitMs: 600_000,
  });
  await s3.connect();
  try {
    const results = await runSuites(rateSuites(memory, s3), options);
    if (puts() !== 0) throw new Error('the S3 document backend saved during the in-memory suites');
    return results;
  } finally {
    await memory.close();
    await s3.close();
    client.destroy();
  }
}

export interface S3DocumentReport {
  readonly endpoint: 'S3_ENDPOINT' | 'local Ceph RADOS Gateway';
  readonly puts: readonly PutsRow[];
  readonly sizes: readonly S3SizeRow[];
  readonly rates: readonly CaseResult[];
}

/** Starts the local gateway unless `S3_ENDPOINT` is set, runs the three measurements, stops it. */
export async function s3DocumentBench(
  options: BenchOptions,
  runs: number,
  onProgress: (name: string) => void,
): Promise<{ readonly json: S3DocumentReport; readonly text: string }> {
  const external = process.env.S3_ENDPOINT;
  const gateway = external === undefined ? await CephGateway.start() : undefined;
  const endpoint: Endpoint = {
    endpoint: external ?? (gateway as CephGateway).endpoint,
    credentials:
      external === undefined
        ? { accessKeyId: 'test', secretAccessKey: 'test' }
        : { accessKeyId: process.env.S3_ACCESS_KEY_ID ?? '', secretAccessKey: process.env.S3_SECRET_ACCESS_KEY ?? '' },
  };
  try {
    const { client } = countingClient(endpoint);
    await client.send(new CreateBucketCommand({ Bucket: BUCKET }));
    client.destroy();
    const puts = await putsPerWrites(endpoint);
    onProgress(`${S3_DOCUMENT_SUITE} PUTs per writes`);
    const sizes = await documentSizes(endpoint, runs);
    onProgress(`${S3_DOCUMENT_SUITE} 1 MB and 10 MB load and save`);
    const rates = await operationRates(endpoint, options);
    onProgress(`${S3_DOCUMENT_SUITE} in-memory operations`);
    const json: S3DocumentReport = {
      endpoint: external === undefined ? 'local Ceph RADOS Gateway' : 'S3_ENDPOINT',
      puts,
      sizes,
      rates,
    };
    return { json, text: formatReport(json) };
  } finally {
    await gateway?.stop();
  }
}

function formatReport(report: S3DocumentReport): string {
  const lines = [
    `${S3_DOCUMENT_SUITE}: PUTs per writes (${report.endpoint}; debounceMs 300, maxWaitMs 60000 unless said)`,
    'scenario                 writes    PUTs   writes/PUT',
    ...report.puts.map((row) =>
      [
        row.scenario.padEnd(24),
        String(row.writes).padEnd(9),
        String(row.puts).padEnd(6),
        (row.writes / row.puts).toFixed(0),
      ].join(' '),
    ),
    '',
    formatSizeRows(
      `${S3_DOCUMENT_SUITE}: load, and save after one update (median of ${report.sizes[0]?.runs ?? 0} runs; peak = RSS growth during the phase, in this process)`,
      report.sizes,
    ),
    '',
    `${S3_DOCUMENT_SUITE}: in-memory operations against MemoryBackend (no save during them)`,
    formatTable(report.rates),
  ];
  return lines.join('\n');
}

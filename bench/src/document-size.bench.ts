/**
 * Loading and saving a 1 MB and a 10 MB JSON document on the file store:
 * the document-backed backend (`DocumentBackend` on `FileDocumentStore`)
 * beside the plain way (`readFile` + `JSON.parse`; `JSON.stringify` +
 * `writeFile` of a temporary file, fsync, rename, as the file store does),
 * and the backend with `compression: 'gzip'` on a gzip copy of the file.
 *
 * Each measurement runs in a fresh child process, so one case's garbage and
 * heap growth never count against another: it times the load, then one
 * update and the save, and a worker thread samples the process's RSS every
 * millisecond (it keeps sampling while the main thread is busy parsing).
 * Peak memory is the highest RSS during a phase minus the RSS when it
 * started. Cases alternate, run by run; medians over the runs are reported.
 *
 *   BENCH_ONLY='^document size' pnpm bench
 *   BENCH_DOCUMENT_RUNS=5 BENCH_ONLY='^document size' pnpm bench
 */
import { fork } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { open, readFile, rename } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { gzipSync } from 'node:zlib';
import { DocumentBackend, FileDocumentStore } from '@berth/adapter-memory';
import { formatSizeRows, type LoadSaveResult, rssSampler, type SizeRow, sizeRows } from './document-helpers.js';

export const DOCUMENT_SIZE_SUITE = 'document size';

const CHILD_FLAG = '--document-size-child';
const CASES = ['JSON.parse/stringify + fs', 'DocumentBackend (file)', 'DocumentBackend (file, gzip)'] as const;
type CaseName = (typeof CASES)[number];

async function rawWrite(path: string, text: string): Promise<void> {
  const temporary = `${path}.tmp`;
  const handle = await open(temporary, 'w');
  try {
    await handle.writeFile(text);
    await handle.sync();
  } finally {
    await handle.close();
  }
  await rename(temporary, path);
}

/** Runs in the child: load, update one entity, save; prints the result as JSON. */
async function child(caseName: CaseName, path: string): Promise<void> {
  const sampler = rssSampler();
  const { timed } = sampler;
  let result: LoadSaveResult;
  if (caseName !== 'JSON.parse/stringify + fs') {
    const compression = caseName === 'DocumentBackend (file, gzip)' ? 'gzip' : 'none';
    const backend = new DocumentBackend({ store: new FileDocumentStore(path), debounceMs: 60_000, compression });
    const players = backend.repository<{ id: string; level: number }>('players');
    const load = await timed(() => backend.connect());
    await players.update('p00000001', { $set: { level: 7 } });
    const save = await timed(() => backend.flush());
    await backend.close();
    result = { load, save };
  } else {
    let document: { players: Record<string, { level: number }> } | undefined;
    const load = await timed(async () => {
      document = JSON.parse(await readFile(path, 'utf8')) as typeof document;
    });
    const target = document?.players.p00000001;
    if (target !== undefined) target.level = 7;
    const save = await timed(() => rawWrite(path, JSON.stringify(document)));
    result = { load, save };
  }
  await sampler.stop();
  process.send?.(result);
}

function runChild(caseName: CaseName, path: string): Promise<LoadSaveResult> {
  return new Promise((resolve, reject) => {
    const process_ = fork(fileURLToPath(import.meta.url), [CHILD_FLAG, caseName, path], {
      execArgv: process.execArgv,
    });
    let result: LoadSaveResult | undefined;
    process_.on('message', (message) => {
      result = message as LoadSaveResult;
    });
    process_.on('error', reject);
    process_.on('exit', (code) => {
      if (code === 0 && result !== undefined) resolve(result);
      else reject(new Error(`document size child (${caseName}) exited with ${code}`));
    });
  });
}

export type DocumentSizeRow = SizeRow<CaseName>;

/** Medians of `runs` child processes per case and size (every case saves what it loaded with one entity changed, so its file keeps its size). */
export async function documentSizeBench(
  runs: number,
  onProgress: (name: string) => void = () => undefined,
): Promise<{ readonly rows: DocumentSizeRow[]; readonly text: string }> {
  const directory = mkdtempSync(join(tmpdir(), 'berth-bench-document-size-'));
  try {
    const rows = await sizeRows(directory, CASES, runs, async (fixture) => {
      // Each case works on its own copy (the gzip case on a gzip one), since each saves what it loaded.
      const paths = new Map<CaseName, string>(
        CASES.map((name, index) => {
          const path = `${fixture}.${index}`;
          const text = readFileSync(fixture);
          writeFileSync(path, name === 'DocumentBackend (file, gzip)' ? gzipSync(text) : text);
          return [name, path];
        }),
      );
      return (name) => runChild(name, paths.get(name) ?? fixture);
    });
    for (const row of rows) onProgress(`${DOCUMENT_SIZE_SUITE} ${(row.sizeBytes / 1e6).toFixed(1)} MB / ${row.case}`);
    return { rows, text: formatDocumentSize(rows) };
  } finally {
    rmSync(directory, { recursive: true, force: true });
  }
}

function formatDocumentSize(rows: readonly DocumentSizeRow[]): string {
  return formatSizeRows(
    `${DOCUMENT_SIZE_SUITE}: load, and save after one update, on the file store (median of ${rows[0]?.runs ?? 0} runs, each in a fresh process; peak = RSS growth during the phase)`,
    rows,
  );
}

if (process.argv[2] === CHILD_FLAG) await child(process.argv[3] as CaseName, process.argv[4] ?? '');

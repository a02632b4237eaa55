/**
 * `copyBackends()` from `@berth/cli` called in-process, run as a child
 * process of the `berth copy` benchmark: the engine of the command without
 * the command around it (no argument parsing, no progress output), with a
 * checkpoint file and the final verification as the command has them. It
 * times the call alone and prints `copy-ms <ms>` last, so the benchmark can
 * tell the copy's rate from the process's start-up.
 *
 *   tsx copy-library.ts <from-url> <to-url>
 */
import { join } from 'node:path';
import * as memory from '@berth/adapter-memory';
import * as postgres from '@berth/adapter-postgres';
import * as redis from '@berth/adapter-redis';
import * as sqlite from '@berth/adapter-sqlite';
import { copyBackends } from '@berth/cli';
import { type Backend, createBackend } from '@berth/core';

async function open(url: string): Promise<Backend> {
  const backend = await createBackend(url, { adapters: [memory, sqlite, postgres, redis] });
  await backend.connect();
  return backend;
}

/** Copies everything from `fromUrl` to `toUrl`; resolves to the milliseconds `copyBackends` took. */
async function copy(fromUrl: string, toUrl: string): Promise<number> {
  const from = await open(fromUrl);
  try {
    const to = await open(toUrl);
    try {
      const started = performance.now();
      const report = await copyBackends({ from, to, checkpointPath: join(process.cwd(), 'copy-checkpoint.json') });
      const ms = performance.now() - started;
      if (report.mismatches.length > 0) throw new Error(`verification failed: ${report.mismatches.join('; ')}`);
      return ms;
    } finally {
      await to.close();
    }
  } finally {
    await from.close();
  }
}

const [, , fromUrl, toUrl] = process.argv;
if (fromUrl === undefined || toUrl === undefined) throw new Error('usage: copy-library.ts <from-url> <to-url>');
process.stdout.write(`copy-ms ${await copy(fromUrl, toUrl)}\n`);

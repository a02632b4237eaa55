import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { pathToFileURL } from 'node:url';
import type { Backend, BackendAdapter } from '@berth/core';
import { ADAPTER_PACKAGES, urlScheme } from '@berth/core/adapter';
import { CliError, EXIT } from '../cli-error.js';

// `berth migrate` needs a backend that has not connected: createBackend()
// connects, and a connect without migrations pending is exactly what the
// command must not require. So it builds the backend from the adapter
// module itself, found where createBackend would find it.

/** The backend for `url`, built by its adapter but not connected. */
export async function createUnconnectedBackend(url: string): Promise<Backend> {
  const scheme = urlScheme(url);
  const packageName = ADAPTER_PACKAGES[scheme];
  if (packageName === undefined) {
    throw new CliError(
      `no adapter handles "${scheme}:" URLs`,
      EXIT.usage,
      'use sqlite:./app.db, postgres://…, redis://…, file:./data.json or s3://bucket/key.json',
    );
  }
  const adapter = (await importFromCli(packageName)) ?? (await importFromWorkingDirectory(packageName));
  if (adapter === undefined) {
    throw new CliError(`"${scheme}:" URLs need ${packageName}`, EXIT.usage, `run: npm install ${packageName}`);
  }
  return adapter.createBackendFromUrl(url);
}

async function importFromCli(packageName: string): Promise<BackendAdapter | undefined> {
  try {
    return (await import(packageName)) as BackendAdapter;
  } catch (cause) {
    const code = (cause as { code?: unknown }).code;
    if (code === 'ERR_MODULE_NOT_FOUND' || code === 'MODULE_NOT_FOUND') return undefined;
    throw cause;
  }
}

async function importFromWorkingDirectory(packageName: string): Promise<BackendAdapter | undefined> {
  try {
    const require = createRequire(join(process.cwd(), 'noop.js'));
    // Every Berth package exports ./package.json, whatever conditions its entry point needs.
    const manifestPath = require.resolve(`${packageName}/package.json`);
    const manifest = require(manifestPath) as { exports?: { '.'?: { import?: string } } };
    const entry = manifest.exports?.['.']?.import;
    if (typeof entry !== 'string') return undefined;
    return (await import(pathToFileURL(join(dirname(manifestPath), entry)).href)) as BackendAdapter;
  } catch {
    return undefined;
  }
}

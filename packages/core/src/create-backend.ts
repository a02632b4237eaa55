import type { Backend } from './backend.js';
import { ConnectionError, ValidationError } from './errors.js';

/** What an adapter package exports for `createBackend` to find it. */
export interface BackendModule {
  createBackendFromUrl(url: URL): Backend | Promise<Backend>;
}

const ADAPTER_PACKAGES: Readonly<Record<string, string>> = {
  'memory:': '@berth/adapter-memory',
};

/**
 * Creates a backend from a URL, loading the adapter package on demand. Only
 * `memory:` is available so far; the others arrive with their adapters.
 *
 * ### Examples
 * ```ts
 * import { createBackend } from '@berth/core';
 *
 * const backend = await createBackend(process.env.BERTH_URL ?? 'memory:');
 * await backend.close();
 * ```
 */
export async function createBackend(url: string): Promise<Backend> {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch (cause) {
    throw new ValidationError(`backend URL ${JSON.stringify(url)} is not a URL; try "memory:"`, '', { cause });
  }
  const packageName = ADAPTER_PACKAGES[parsed.protocol];
  if (packageName === undefined) {
    throw new ValidationError(
      `no adapter for "${parsed.protocol}" URLs; supported: ${Object.keys(ADAPTER_PACKAGES).join(', ')}`,
      '',
    );
  }
  let module: BackendModule;
  try {
    module = (await import(packageName)) as BackendModule;
  } catch (cause) {
    throw new ConnectionError(`"${parsed.protocol}" URLs need ${packageName}: run \`npm install ${packageName}\``, {
      cause,
      retryable: false,
    });
  }
  const backend = await module.createBackendFromUrl(parsed);
  await backend.connect();
  return backend;
}

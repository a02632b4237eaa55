import { type Backend, type BackendAdapter, createBackend } from '@berth/core';
import { ADAPTER_PACKAGES, urlScheme } from '@berth/core/adapter';
import { CliError, EXIT } from './cli-error.js';

/**
 * Opens the backend at `url` for a command, importing the adapter package its
 * scheme needs from the CLI's own installation first (the application's
 * otherwise), and connects it unless `connect` is false (`berth migrate`
 * must not connect first). A missing adapter says what to install.
 */
export async function openBackend(
  url: string,
  { connect = true }: { readonly connect?: boolean } = {},
): Promise<Backend> {
  const scheme = urlScheme(url);
  const packageName = ADAPTER_PACKAGES[scheme];
  const adapters: BackendAdapter[] = [];
  if (packageName !== undefined) {
    try {
      adapters.push((await import(packageName)) as BackendAdapter);
    } catch (cause) {
      const code = (cause as { code?: unknown }).code;
      if (code !== 'ERR_MODULE_NOT_FOUND' && code !== 'MODULE_NOT_FOUND') throw cause;
      // createBackend looks in the working directory's node_modules next, and says what to install.
    }
  } else {
    throw new CliError(
      `no adapter handles "${scheme}:" URLs`,
      EXIT.usage,
      `use memory:, file:./data.json, sqlite:./app.db, postgres://…, redis://… or s3://bucket/key.json`,
    );
  }
  return createBackend(url, { adapters, connect });
}

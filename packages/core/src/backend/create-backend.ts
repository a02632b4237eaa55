import { ConnectionError, ValidationError } from '../errors.js';
// The one import of observe/ from backend/: the factory hands out backends that publish their operations.
import { publishOperations } from '../observe/operation-channel.js';
import { type BackendAdapter, checkAdapter, registeredAdapter, registeredSchemes } from './adapter-registry.js';
import type { Backend } from './backend.js';

/**
 * What an adapter package exports for `createBackend` to find it by package name.
 *
 * ### Examples
 * ```ts
 * import type { BackendModule } from '@berth/core';
 * import * as memory from '@berth/adapter-memory';
 *
 * const module: BackendModule = memory;
 * const backend = await module.createBackendFromUrl('memory:');
 * await backend.close();
 * ```
 */
export interface BackendModule {
  /** Builds a backend from the whole URL string (`sqlite:./app.db`, `postgres://…`). */
  createBackendFromUrl(url: string): Backend | Promise<Backend>;
}

/**
 * Options of {@link createBackend}.
 *
 * ### Examples
 * ```ts
 * import { createBackend, type CreateBackendOptions } from '@berth/core';
 * import * as sqlite from '@berth/adapter-sqlite';
 *
 * // A bundler keeps the adapter because it is imported, not looked up by name.
 * const options: CreateBackendOptions = { adapters: [sqlite] };
 * const backend = await createBackend('sqlite::memory:', options);
 * await backend.close();
 * ```
 */
export interface CreateBackendOptions {
  /**
   * Adapters to use before any other lookup, matched by their `schemes`: pass
   * the adapter modules themselves (`import * as sqlite from
   * '@berth/adapter-sqlite'`) when a bundler would not keep a package that is
   * only imported by name at run time.
   */
  readonly adapters?: readonly BackendAdapter[] | undefined;
  /**
   * Whether `createBackend` connects before it resolves (default `true`).
   * With `false` the backend connects on first use or on `connect()`; tools
   * use it to call `backend.migrate()` on a URL with `?migrate=false`, whose
   * `connect()` refuses while migrations are pending.
   */
  readonly connect?: boolean | undefined;
}

/**
 * The adapter package behind each URL scheme.
 *
 * ### Examples
 * ```ts
 * import { ADAPTER_PACKAGES } from '@berth/core/adapter';
 *
 * console.log(ADAPTER_PACKAGES.sqlite); // '@berth/adapter-sqlite'
 * ```
 */
export const ADAPTER_PACKAGES: Readonly<Record<string, string>> = {
  memory: '@berth/adapter-memory',
  file: '@berth/adapter-memory',
  sqlite: '@berth/adapter-sqlite',
  postgres: '@berth/adapter-postgres',
  postgresql: '@berth/adapter-postgres',
  redis: '@berth/adapter-redis',
  rediss: '@berth/adapter-redis',
  s3: '@berth/adapter-s3-document',
};

/**
 * The scheme of a backend URL: the letters before the first `:`.
 *
 * ### Examples
 * ```ts
 * import { urlScheme } from '@berth/core/adapter';
 *
 * urlScheme('postgres://localhost/app'); // 'postgres'
 * urlScheme('file:./data.json'); // 'file'
 * ```
 */
export function urlScheme(url: string): string {
  const match = /^([a-z][a-z0-9+.-]*):/i.exec(url);
  if (match === null) {
    throw new ValidationError(
      `backend URL ${JSON.stringify(url)} has no scheme; use memory:, file:./data.json, sqlite:./app.db, postgres://…, redis://… or s3://bucket/key.json`,
      'url',
    );
  }
  return (match[1] as string).toLowerCase();
}

function isModuleMissing(error: unknown, packageName: string): boolean {
  const code = (error as { code?: unknown })?.code;
  const message = String((error as { message?: unknown })?.message ?? '');
  return (code === 'ERR_MODULE_NOT_FOUND' || code === 'MODULE_NOT_FOUND') && message.includes(packageName);
}

/**
 * Loads an adapter package. First as core itself would import it (npm's flat
 * node_modules, or a workspace); then, for package managers that only let a
 * package see its own dependencies (pnpm), from the application's directory,
 * where the user installed it.
 */
async function loadAdapter(scheme: string, packageName: string): Promise<BackendModule> {
  try {
    return (await import(packageName)) as BackendModule;
  } catch (cause) {
    if (!isModuleMissing(cause, packageName)) throw cause;
    const fromApplication = await importFromWorkingDirectory(packageName);
    if (fromApplication !== undefined) return fromApplication;
    throw new ConnectionError(
      `"${scheme}:" URLs need ${packageName}: run \`npm install ${packageName}\`. ` +
        'If it is installed and the application is bundled (esbuild, webpack, Rollup), the bundle may have dropped it: ' +
        `pass it explicitly, createBackend(url, { adapters: [await import('${packageName}')] }), or registerAdapter() it at startup`,
      { cause, retryable: false },
    );
  }
}

async function importFromWorkingDirectory(packageName: string): Promise<BackendModule | undefined> {
  const processLike = (globalThis as { process?: { cwd(): string } }).process;
  if (processLike === undefined) return undefined;
  try {
    const { createRequire } = await import('node:module');
    const { dirname, join } = await import('node:path');
    const { pathToFileURL } = await import('node:url');
    const require = createRequire(join(processLike.cwd(), 'noop.js'));
    // Every Berth package exports ./package.json, so this resolves without
    // knowing which conditions the package's entry point needs.
    const manifestPath = require.resolve(`${packageName}/package.json`);
    const manifest = require(manifestPath) as { exports?: { '.'?: { import?: string } } };
    const entry = manifest.exports?.['.']?.import;
    if (typeof entry !== 'string') return undefined;
    return (await import(pathToFileURL(join(dirname(manifestPath), entry)).href)) as BackendModule;
  } catch {
    return undefined;
  }
}

/** The adapter for `scheme`: one passed in `adapters`, else a registered one, else the built-in package. */
async function findAdapter(scheme: string, adapters: readonly BackendAdapter[]): Promise<BackendModule> {
  const passed = adapters.find((adapter) => adapter.schemes.includes(scheme));
  if (passed !== undefined) return passed;
  const registered = registeredAdapter(scheme);
  if (registered !== undefined) return registered;
  const packageName = ADAPTER_PACKAGES[scheme];
  if (packageName === undefined) {
    const known = [...new Set([...adapters.flatMap((adapter) => adapter.schemes), ...registeredSchemes()])];
    const supported = [...new Set([...Object.keys(ADAPTER_PACKAGES), ...known])];
    throw new ValidationError(
      `no adapter for "${scheme}:" URLs; supported: ${supported.map((name) => `${name}:`).join(' ')}. ` +
        'A third-party adapter is passed as createBackend(url, { adapters: [adapter] }) or registered with registerAdapter()',
      'url',
    );
  }
  return loadAdapter(scheme, packageName);
}

function checkOptions(options: unknown): { adapters: readonly BackendAdapter[]; connect: boolean } {
  if (options === undefined) return { adapters: [], connect: true };
  if (typeof options !== 'object' || options === null) {
    throw new ValidationError('createBackend options must be an object', 'options');
  }
  const { adapters = [], connect = true } = options as CreateBackendOptions;
  if (!Array.isArray(adapters)) throw new ValidationError('adapters must be an array of adapter modules', 'adapters');
  for (const [index, adapter] of adapters.entries()) checkAdapter(adapter, `adapters.${index}`);
  if (typeof connect !== 'boolean') throw new ValidationError('connect must be true or false', 'connect');
  return { adapters, connect };
}

/**
 * Creates and connects a backend from a URL. The adapter for its scheme is,
 * in this order: one passed in `options.adapters`, one registered with
 * `registerAdapter`, or the Berth package for that scheme, imported on
 * demand. When that package is not installed, the error says which one to
 * install (and, for bundled applications, how to pass it explicitly). Local
 * paths stay relative to the working directory: `file:./data.json`,
 * `sqlite:./app.db`. The backend publishes its operations on
 * `node:diagnostics_channel` (see {@link publishOperations}). When connecting
 * fails, the backend is closed and the error thrown; `{ connect: false }`
 * resolves before connecting.
 *
 * ### Examples
 * ```ts
 * import { createBackend } from '@berth/core';
 *
 * const backend = await createBackend(process.env.BERTH_URL ?? 'memory:');
 * const players = backend.repository<{ id: string; name: string }>('players');
 * await players.insert({ name: 'Ada' });
 * await backend.close();
 * ```
 */
export async function createBackend(url: string, options?: CreateBackendOptions): Promise<Backend> {
  if (typeof url !== 'string') throw new ValidationError('backend URL must be a string', 'url');
  const { adapters, connect } = checkOptions(options);
  const scheme = urlScheme(url);
  const module = await findAdapter(scheme, adapters);
  const backend = publishOperations(await module.createBackendFromUrl(url));
  if (!connect) return backend;
  try {
    await backend.connect();
  } catch (error) {
    // The caller never gets the backend, so nothing else would release what it opened.
    await backend.close().catch(() => undefined);
    throw error;
  }
  return backend;
}

/**
 * The backends an application uses: one for repositories, one for queues (often the same).
 *
 * ### Examples
 * ```ts
 * import { type Backends, createBackendsFromEnv } from '@berth/core';
 *
 * const backends: Backends = await createBackendsFromEnv({ env: { BERTH_URL: 'memory:' } });
 * console.log(backends.backend === backends.queueBackend); // true: no BERTH_QUEUE_URL
 * await backends.close();
 * ```
 */
export interface Backends {
  /** From `BERTH_URL`. */
  readonly backend: Backend;
  /** From `BERTH_QUEUE_URL`, or the same object as `backend` when it is unset or equal. */
  readonly queueBackend: Backend;
  /** Closes both (once each). */
  close(): Promise<void>;
}

/**
 * Options of {@link createBackendsFromEnv}.
 *
 * ### Examples
 * ```ts
 * import { createBackendsFromEnv } from '@berth/core';
 *
 * const { backend, close } = await createBackendsFromEnv({ env: process.env, defaultUrl: 'file:./data.json' });
 * console.log(backend.kind);
 * await close();
 * ```
 */
export interface BackendsFromEnvOptions extends CreateBackendOptions {
  /** Where to read `BERTH_URL` and `BERTH_QUEUE_URL` (default `process.env`). */
  readonly env?: Readonly<Record<string, string | undefined>> | undefined;
  /** Used when `BERTH_URL` is unset (default `memory:`). */
  readonly defaultUrl?: string | undefined;
}

/**
 * Creates the application's backends from `BERTH_URL` (repositories) and
 * `BERTH_QUEUE_URL` (queues; defaults to the same backend), so data and jobs
 * can live on different engines without a code change.
 *
 * ### Examples
 * ```ts
 * import { createBackendsFromEnv } from '@berth/core';
 *
 * // BERTH_URL=file:./data.json BERTH_QUEUE_URL=memory: node app.js
 * const { backend, queueBackend, close } = await createBackendsFromEnv();
 * const players = backend.repository('players');
 * const mails = queueBackend.queue<{ to: string }>('mails');
 * await close();
 * ```
 */
export async function createBackendsFromEnv(options: BackendsFromEnvOptions = {}): Promise<Backends> {
  const env =
    options.env ?? (globalThis as { process?: { env: Record<string, string | undefined> } }).process?.env ?? {};
  const url = env.BERTH_URL || options.defaultUrl || 'memory:';
  const queueUrl = env.BERTH_QUEUE_URL || url;
  const adapters = { adapters: options.adapters };
  const backend = await createBackend(url, adapters);
  let queueBackend = backend;
  if (queueUrl !== url) {
    try {
      queueBackend = await createBackend(queueUrl, adapters);
    } catch (error) {
      await backend.close();
      throw error;
    }
  }
  return {
    backend,
    queueBackend,
    close: async () => {
      await backend.close();
      if (queueBackend !== backend) await queueBackend.close();
    },
  };
}

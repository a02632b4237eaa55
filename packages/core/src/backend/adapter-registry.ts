import { ValidationError } from '../errors.js';
import type { Backend } from './backend.js';

/**
 * An adapter `createBackend` can use without importing it by name: the
 * adapter package's module namespace (`import * as sqlite from
 * '@berth/adapter-sqlite'`, which exports both members) or any object of this
 * shape, such as a third-party adapter's.
 *
 * ### Examples
 * ```ts
 * import { type BackendAdapter, createBackend } from '@berth/core';
 * import * as memory from '@berth/adapter-memory';
 *
 * // Serve `mem:` URLs with the memory adapter.
 * const adapter: BackendAdapter = {
 *   schemes: ['mem'],
 *   createBackendFromUrl: (url) => memory.createBackendFromUrl(url.replace(/^mem:/, 'memory:')),
 * };
 * const backend = await createBackend('mem:', { adapters: [adapter] });
 * await backend.close();
 * ```
 */
export interface BackendAdapter {
  /** The URL schemes it handles, lowercase, without the colon (`['sqlite']`, `['mariadb']`). */
  readonly schemes: readonly string[];
  /** Builds a backend from the whole URL string (`sqlite:./app.db`, `mariadb://…`). */
  createBackendFromUrl(url: string): Backend | Promise<Backend>;
}

const SCHEME = /^[a-z][a-z0-9+.-]*$/;

/** Adapters registered with {@link registerAdapter}, by scheme. Lives in core only: importing an adapter registers nothing. */
const registry = new Map<string, BackendAdapter>();

/** Checks that `adapter` has the shape of a {@link BackendAdapter} and returns its schemes. */
export function checkAdapter(adapter: unknown, path = 'adapter'): readonly string[] {
  const candidate = adapter as Partial<BackendAdapter> | null | undefined;
  if (typeof candidate?.createBackendFromUrl !== 'function') {
    throw new ValidationError(`${path} must have a createBackendFromUrl(url) function`, path);
  }
  const schemes: unknown = candidate.schemes;
  if (!Array.isArray(schemes) || schemes.length === 0) {
    throw new ValidationError(`${path}.schemes must list the URL schemes it handles, like ['sqlite']`, path);
  }
  for (const scheme of schemes) {
    if (typeof scheme !== 'string' || !SCHEME.test(scheme)) {
      throw new ValidationError(
        `${path}.schemes: ${JSON.stringify(scheme)} is not a lowercase URL scheme without the colon`,
        `${path}.schemes`,
      );
    }
  }
  return schemes as readonly string[];
}

/**
 * Makes `createBackend` use `adapter` for its schemes, ahead of the built-in
 * lookup by package name. Registering is an explicit call (an adapter package
 * never registers itself on import). A scheme already registered to another
 * adapter is a `VALIDATION` error; registering the same adapter again changes
 * nothing. Returns a function that removes the registration.
 *
 * ### Examples
 * ```ts
 * import { type Backend, createBackend, registerAdapter } from '@berth/core';
 *
 * declare function connectMariadb(url: string): Backend;
 *
 * const unregister = registerAdapter({ schemes: ['mariadb'], createBackendFromUrl: connectMariadb });
 * const backend = await createBackend('mariadb://db.internal/app');
 * await backend.close();
 * unregister();
 * ```
 */
export function registerAdapter(adapter: BackendAdapter): () => void {
  const schemes = checkAdapter(adapter);
  for (const scheme of schemes) {
    const holder = registry.get(scheme);
    if (holder !== undefined && holder !== adapter) {
      throw new ValidationError(`"${scheme}:" is already registered to another adapter`, 'adapter.schemes');
    }
  }
  const added = schemes.filter((scheme) => !registry.has(scheme));
  for (const scheme of added) registry.set(scheme, adapter);
  return () => {
    for (const scheme of added) if (registry.get(scheme) === adapter) registry.delete(scheme);
  };
}

/** The adapter registered for `scheme`, if any. */
export function registeredAdapter(scheme: string): BackendAdapter | undefined {
  return registry.get(scheme);
}

/** Every registered scheme, for error messages. */
export function registeredSchemes(): string[] {
  return [...registry.keys()];
}

// The packages Berth publishes: every folder under packages/ whose manifest is
// not `"private": true`, read when called, so a new package is covered by the
// checks that use this (doc coverage, selective installs, typed consumers)
// without a list to keep. (typedoc.config.mjs, which TypeDoc loads as plain
// JavaScript, applies the same rule.)
import { readdirSync, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';

const root = resolve(import.meta.dirname, '..');

/** The fields of a package manifest the checks read. */
export interface Manifest {
  readonly name: string;
  readonly version: string;
  readonly private?: boolean;
  readonly exports?: Record<string, unknown>;
  readonly dependencies?: Record<string, string>;
  readonly peerDependencies?: Record<string, string>;
  readonly peerDependenciesMeta?: Record<string, { optional?: boolean }>;
}

export interface PublishedPackage {
  readonly name: string;
  /** The absolute path of the package's folder. */
  readonly directory: string;
  readonly manifest: Manifest;
}

/** Every published package, sorted by name. */
export function publishedPackages(): PublishedPackage[] {
  const found: PublishedPackage[] = [];
  for (const entry of readdirSync(join(root, 'packages'), { withFileTypes: true })) {
    if (!entry.isDirectory()) continue;
    const directory = join(root, 'packages', entry.name);
    let manifest: Manifest;
    try {
      manifest = JSON.parse(readFileSync(join(directory, 'package.json'), 'utf8')) as Manifest;
    } catch {
      continue; // Not a package (no package.json).
    }
    if (manifest.private !== true) found.push({ name: manifest.name, directory, manifest });
  }
  return found.sort((a, b) => a.name.localeCompare(b.name));
}

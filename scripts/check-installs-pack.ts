// What `pnpm check:installs` and `pnpm check:consumers` share: the list of
// published packages, `pnpm pack` of each into a temporary folder, and a
// scratch npm project that installs chosen packages from those tarballs only.
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readdirSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { type Manifest, publishedPackages } from './published-packages.js';

export const root: string = resolve(import.meta.dirname, '..');

export interface PackedPackage {
  readonly name: string;
  /** The workspace folder, for example `packages/core`. */
  readonly directory: string;
  readonly tarball: string;
  readonly tarballBytes: number;
  /** The manifest inside the tarball (workspace ranges replaced). */
  readonly manifest: Manifest;
}

export class CheckFailure extends Error {}

/** Runs a command; on a non-zero exit throws with its output. */
export function run(command: string, args: readonly string[], cwd: string, env?: NodeJS.ProcessEnv): string {
  const result = spawnSync(command, args, {
    cwd,
    env: env ?? process.env,
    encoding: 'utf8',
    maxBuffer: 256 * 1024 * 1024,
    timeout: 10 * 60_000,
  });
  if (result.status !== 0) {
    const output = `${result.stdout ?? ''}${result.stderr ?? ''}`.trim().split('\n').slice(-80).join('\n');
    const why = result.error === undefined ? `exit ${result.status ?? result.signal}` : result.error.message;
    throw new CheckFailure(`\`${command} ${args.join(' ')}\` in ${cwd} failed (${why}):\n${output}`);
  }
  return result.stdout;
}

/**
 * `pnpm pack` of every published package into a fresh temporary folder.
 * Needs `pnpm build` first: a package without its `dist` is refused here
 * rather than packed empty.
 */
export function packAll(): Map<string, PackedPackage> {
  const destination = mkdtempSync(join(tmpdir(), 'berth-packs-'));
  const published = publishedPackages();
  for (const { name, directory } of published) {
    try {
      statSync(join(directory, 'dist'));
    } catch {
      throw new CheckFailure(`${name} has no dist folder: run \`pnpm build\` first`);
    }
  }
  const filters = published.flatMap(({ name }) => ['--filter', name]);
  run('pnpm', ['--recursive', ...filters, 'pack', '--pack-destination', destination], root);
  const packed = new Map<string, PackedPackage>();
  for (const file of readdirSync(destination).filter((entry) => entry.endsWith('.tgz'))) {
    const tarball = join(destination, file);
    const manifest = JSON.parse(execFileSync('tar', ['-xzOf', tarball, 'package/package.json'], { encoding: 'utf8' }));
    const source = published.find(({ name }) => name === manifest.name);
    if (source === undefined) throw new CheckFailure(`pnpm pack made ${file}, of no published package`);
    packed.set(manifest.name, { ...source, tarball, tarballBytes: statSync(tarball).size, manifest });
  }
  const missing = published.filter(({ name }) => !packed.has(name)).map(({ name }) => name);
  if (missing.length > 0) throw new CheckFailure(`pnpm pack made no tarball for ${missing.join(', ')}`);
  return packed;
}

/** `names` and every @berth/* package they need (dependencies and required peers), recursively. */
export function berthClosure(packed: ReadonlyMap<string, PackedPackage>, names: readonly string[]): string[] {
  const seen = new Set<string>();
  const visit = (name: string): void => {
    if (seen.has(name)) return;
    const pack = packed.get(name);
    if (pack === undefined) throw new CheckFailure(`${name} is needed but is not a published workspace package`);
    seen.add(name);
    for (const dependency of requiredDependencies(pack.manifest))
      if (dependency.startsWith('@berth/')) visit(dependency);
  };
  for (const name of names) visit(name);
  return [...seen].sort();
}

function requiredDependencies(manifest: Manifest): string[] {
  const peers = Object.keys(manifest.peerDependencies ?? {}).filter(
    (name) => manifest.peerDependenciesMeta?.[name]?.optional !== true,
  );
  return [...Object.keys(manifest.dependencies ?? {}), ...peers];
}

/**
 * The third-party peer dependencies of `names` (the drivers, once they are
 * peers), with their ranges: a user installs them explicitly, so the scratch
 * project does too. `optional` adds the optional ones (types, for example).
 */
export function thirdPartyPeers(
  packed: ReadonlyMap<string, PackedPackage>,
  names: readonly string[],
  { optional = false }: { optional?: boolean } = {},
): Record<string, string> {
  const peers: Record<string, string> = {};
  for (const name of names) {
    const { manifest } = packed.get(name) as PackedPackage;
    for (const [peer, range] of Object.entries(manifest.peerDependencies ?? {})) {
      if (peer.startsWith('@berth/')) continue;
      if (!optional && manifest.peerDependenciesMeta?.[peer]?.optional === true) continue;
      peers[peer] = range;
    }
  }
  return peers;
}

/**
 * A fresh npm project in the OS temp folder (outside the workspace) whose
 * dependencies are the tarballs of `names` plus `extra` from the registry.
 * Every @berth/* name is also overridden to its tarball and the @berth scope
 * points at a closed port, so no @berth/* package can come from the registry.
 * `ignoreScripts` skips install scripts (native builds) where nothing runs.
 */
export function installScratchProject(
  packed: ReadonlyMap<string, PackedPackage>,
  label: string,
  names: readonly string[],
  extra: Record<string, string>,
  { ignoreScripts = false }: { ignoreScripts?: boolean } = {},
): string {
  const directory = mkdtempSync(join(tmpdir(), `berth-${label}-`));
  const overrides = Object.fromEntries([...packed.values()].map((pack) => [pack.name, `file:${pack.tarball}`]));
  const dependencies = { ...extra, ...Object.fromEntries(names.map((name) => [name, overrides[name] as string])) };
  writeFileSync(
    join(directory, 'package.json'),
    `${JSON.stringify({ name: `berth-${label}`, private: true, type: 'module', dependencies, overrides }, null, 2)}\n`,
  );
  writeFileSync(join(directory, '.npmrc'), '@berth:registry=http://127.0.0.1:9/\n');
  mkdirSync(join(directory, 'node_modules'), { recursive: true });
  const flags = ['--no-audit', '--no-fund', '--prefer-offline', '--loglevel=error'];
  run('npm', ['install', ...flags, ...(ignoreScripts ? ['--ignore-scripts'] : [])], directory);
  return directory;
}

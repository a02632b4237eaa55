// @ts-check
// TypeDoc (`pnpm run docs`): the API reference of every published package, read
// from the sources (no build needed), written to docs/api/ (git-ignored).
// The packages and their entry points come from packages/*/package.json by the rule of
// scripts/published-packages.ts (plain JavaScript cannot import it): a package that is not private is documented,
// one module per entry of its `exports` map, named as a user imports it.
import { readdirSync, readFileSync } from 'node:fs';

/** @type {string[]} */
const entryPoints = [];
/** TypeDoc's default module name (the path under packages/, without /index) → the import specifier. */
const moduleNames = {};
for (const directory of readdirSync('packages').sort()) {
  let manifest;
  try {
    manifest = JSON.parse(readFileSync(`packages/${directory}/package.json`, 'utf8'));
  } catch {
    continue; // Not a package.
  }
  if (manifest.private === true) continue;
  for (const [subpath, target] of Object.entries(manifest.exports ?? {})) {
    if (typeof target !== 'object' || target['@berth/source'] === undefined) continue;
    const source = target['@berth/source'].replace(/^\.\//, '');
    entryPoints.push(`packages/${directory}/${source}`);
    const defaultName = `${directory}/${source.replace(/\.ts$/, '').replace(/\/index$/, '')}`;
    moduleNames[defaultName] = subpath === '.' ? manifest.name : `${manifest.name}/${subpath.replace(/^\.\//, '')}`;
  }
}

/** @type {Partial<import('typedoc').TypeDocOptions>} */
export default {
  name: 'Berth',
  entryPoints,
  entryPointStrategy: 'resolve',
  tsconfig: 'tsconfig.json',
  // Type errors are `pnpm typecheck`'s to report; the reference only reads the declarations.
  skipErrorChecking: true,
  out: 'docs/api',
  // The root README links to the packages' folders, which mean nothing in the reference.
  readme: 'none',
  plugin: ['./scripts/typedoc-module-names.mjs'],
  moduleNames,
  // Source links point at the public repository, whatever the clone's remote is
  // (CI clones from a local path, which TypeDoc cannot turn into a URL); paths
  // are relative to packages/, the entry points' common folder.
  disableGit: true,
  gitRevision: 'main',
  sourceLinkTemplate: 'https://github.com/berth-dev/berth/blob/{gitRevision}/packages/{path}#L{line}',
  excludePrivate: true,
  excludeInternal: true,
  treatWarningsAsErrors: true,
};

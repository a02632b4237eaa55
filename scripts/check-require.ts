// Checks the export conditions of a built package under the running Node:
// every entry loads with import; with require() it loads where Node can
// require() ES modules (20.19+, 22.12+: the `module-sync` condition), and where
// it cannot (simulated with --no-experimental-require-module) require() throws
// the package's own error naming the Node versions that work.
//
// Run in a package folder, after `pnpm build`: `tsx ../../scripts/check-require.ts`.
// Node resolves the package's own name from inside its folder (self-reference
// through `exports`), so what loads is exactly what the manifest points to.

import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';

interface Manifest {
  readonly name: string;
  readonly exports: Record<string, unknown>;
}

const manifest = JSON.parse(readFileSync('package.json', 'utf8')) as Manifest;
const entries = Object.keys(manifest.exports)
  .filter((subpath) => subpath !== './package.json')
  .map((subpath) => manifest.name + subpath.slice(1));

function run(args: readonly string[]): { status: number | null; output: string } {
  const result = spawnSync(process.execPath, args, { encoding: 'utf8' });
  return { status: result.status, output: `${result.stdout}${result.stderr}` };
}

const canRequireEsm = (process.features as { require_module?: boolean }).require_module === true;
const problems: string[] = [];
for (const entry of entries) {
  const imported = run([
    '--input-type=module',
    '-e',
    `const m = await import('${entry}'); if (Object.keys(m).length === 0) process.exit(3);`,
  ]);
  if (imported.status !== 0) problems.push(`import('${entry}') failed:\n${imported.output}`);

  const required = run(['-e', `const m = require('${entry}'); if (Object.keys(m).length === 0) process.exit(3);`]);
  if (canRequireEsm && required.status !== 0) problems.push(`require('${entry}') failed:\n${required.output}`);

  const refused = run([...(canRequireEsm ? ['--no-experimental-require-module'] : []), '-e', `require('${entry}')`]);
  if (
    refused.status === 0 ||
    !refused.output.includes(`${manifest.name} is an ES module: require('${manifest.name}') needs Node >= 20.19`)
  ) {
    problems.push(`require('${entry}') without require(esm) did not throw the package's error:\n${refused.output}`);
  }
}

if (problems.length > 0) {
  console.error(`${manifest.name} on Node ${process.versions.node}:\n${problems.join('\n')}`);
  process.exit(1);
}
console.log(
  `${manifest.name} on Node ${process.versions.node}: ${entries.length} entries load with import${canRequireEsm ? ' and require()' : ''}; require() without require(esm) throws the package's error`,
);

// Checks that every file a package ships imports only what a user's install
// provides: the package itself, Node's built-in modules, and the package's
// dependencies and peer dependencies. A test fixture or self-test file that
// imports a devDependency (vitest, another adapter, a driver kept for tests)
// fails here instead of failing on a user's machine.
//
// Run in a package folder, after `pnpm build`: `tsx ../../scripts/check-packed-imports.ts`.
// The shipped files are the ones `npm pack --dry-run` lists (the `files` field).

import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { isBuiltin } from 'node:module';
import { resolve } from 'node:path';
import ts from 'typescript';

interface Manifest {
  readonly name: string;
  readonly dependencies?: Record<string, string>;
  readonly peerDependencies?: Record<string, string>;
  readonly optionalDependencies?: Record<string, string>;
}

interface PackedFile {
  readonly path: string;
}

const manifest = JSON.parse(readFileSync('package.json', 'utf8')) as Manifest;
const declared = new Set([
  manifest.name,
  ...Object.keys(manifest.dependencies ?? {}),
  ...Object.keys(manifest.peerDependencies ?? {}),
  ...Object.keys(manifest.optionalDependencies ?? {}),
]);

const packed = JSON.parse(
  execFileSync('npm', ['pack', '--dry-run', '--json', '--ignore-scripts'], { encoding: 'utf8' }),
) as readonly [{ readonly files: readonly PackedFile[] }];
const files = packed[0].files.map((file) => file.path);

function packageOf(specifier: string): string {
  const parts = specifier.split('/');
  return specifier.startsWith('@') ? `${parts[0]}/${parts[1]}` : (parts[0] ?? specifier);
}

// A declaration file that imports a package needs that package's types: its
// own, or an `@types/` package, which must then be declared beside it.
const compilerOptions: ts.CompilerOptions = {
  module: ts.ModuleKind.NodeNext,
  moduleResolution: ts.ModuleResolutionKind.NodeNext,
};
function typesProblem(specifier: string, containingFile: string): string | undefined {
  const { resolvedModule } = ts.resolveModuleName(
    specifier,
    containingFile,
    compilerOptions,
    ts.sys,
    undefined,
    undefined,
    ts.ModuleKind.ESNext,
  );
  if (resolvedModule === undefined) return 'its types do not resolve';
  const typesPackage = /node_modules\/(@types\/[^/]+)\//.exec(resolvedModule.resolvedFileName)?.[1];
  if (typesPackage !== undefined && !declared.has(typesPackage))
    return `its types come from ${typesPackage}, which is not declared`;
  return undefined;
}

const problems: string[] = [];
for (const path of files) {
  if (!/\.(c|m)?(j|t)s$/.test(path)) continue;
  const isDeclaration = /\.(c|m)?ts$/.test(path);
  const { importedFiles } = ts.preProcessFile(readFileSync(path, 'utf8'), true, true);
  for (const { fileName: specifier } of importedFiles) {
    if (specifier.startsWith('.') || specifier.startsWith('/') || isBuiltin(specifier)) continue;
    const name = packageOf(specifier);
    if (!declared.has(name)) {
      problems.push(`${path} imports ${specifier}: ${name} is not a dependency or peer dependency`);
    } else if (isDeclaration && name !== manifest.name) {
      const problem = typesProblem(specifier, resolve(path));
      if (problem !== undefined) problems.push(`${path} imports ${specifier}: ${problem}`);
    }
  }
}

if (problems.length > 0) {
  console.error(`${manifest.name}: shipped files import undeclared packages\n  ${problems.join('\n  ')}`);
  process.exit(1);
}
console.log(`${manifest.name}: the ${files.length} shipped files import only declared packages`);

import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const packageRoot = join(dirname(fileURLToPath(import.meta.url)), '..');
const manifest = JSON.parse(readFileSync(join(packageRoot, 'package.json'), 'utf8')) as {
  dependencies?: Record<string, string>;
  peerDependencies?: Record<string, string>;
};
const dependencies = Object.keys(manifest.dependencies ?? {});
// The driver and core are the application's own copies (peers); see CONTRIBUTING.md "Dependencies".
const declared = [...dependencies, ...Object.keys(manifest.peerDependencies ?? {})];

/** The packages the published sources import (tests and fixtures are not published). */
function importedPackages(): Set<string> {
  const names = new Set<string>();
  const source = join(packageRoot, 'src');
  for (const file of readdirSync(source)) {
    if (!file.endsWith('.ts') || file.endsWith('.test.ts')) continue;
    const text = readFileSync(join(source, file), 'utf8');
    // Import and export statements only, not the examples in TSDoc comments.
    for (const [, specifier] of text.matchAll(/^(?:import|export)\b[^;]*?from '([^'.][^']*)'/gm)) {
      if (specifier === undefined || specifier.startsWith('node:')) continue;
      const parts = specifier.split('/');
      names.add(specifier.startsWith('@') ? parts.slice(0, 2).join('/') : (parts[0] as string));
    }
  }
  return names;
}

/** Whether a package ships its own declarations: named in its manifest, or beside its entry point. */
function hasOwnTypes(name: string): boolean {
  // Where the package manager put this package's own dependencies.
  const root = join(packageRoot, 'node_modules', name);
  const own = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')) as Record<string, unknown>;
  if (own.types !== undefined || own.typings !== undefined) return true;
  if (JSON.stringify(own.exports ?? {}).includes('"types"')) return true;
  const entries = [own.module, own.main, 'index.js'].filter((entry): entry is string => typeof entry === 'string');
  return entries.some((entry) => existsSync(join(root, entry.replace(/\.c?js$/, '.d.ts'))));
}

describe('the published package', () => {
  // A consumer installs dependencies only: with a driver's types in
  // devDependencies, `skipLibCheck: false` fails (TS7016) and `native()` is `any`.
  it('depends (or peer-depends) on every package its sources import, and on the declarations of those that ship none', () => {
    for (const name of importedPackages()) {
      expect(declared, `${name} is imported`).toContain(name);
      if (!hasOwnTypes(name)) expect(dependencies, `${name} ships no declarations`).toContain(`@types/${name}`);
    }
  });
});

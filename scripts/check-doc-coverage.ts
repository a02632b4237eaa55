/**
 * Fails when a public export of a published package has no TSDoc example.
 *
 * The published packages are the directories under `packages/` whose
 * package.json is not `"private": true`, so a new package is covered without
 * an edit here. Their public exports are what the entry points of the
 * `exports` map export: each entry is read through its `@berth/source`
 * condition (the source file, so no build is needed), and re-exports
 * (`export *`, `export type *`, `export { x } from`) are followed with the
 * TypeScript compiler API to the declarations.
 *
 * An export is documented when one of its declarations carries a TSDoc
 * comment with an `### Examples` heading followed by a ```ts block (which
 * scripts/check-doc-examples.ts then type-checks). What counts is each
 * exported symbol (function, class, interface, type alias, enum, const): for
 * a class or an interface the symbol's own comment is enough, and its members
 * are not counted one by one. A port such as `Repository` has dozens of
 * methods; one example of the port in use shows more than a fragment per
 * method, and members keep their own TSDoc (without a required example) where
 * they need words. The same declaration exported under two names counts once
 * per name, as a reader of the reference meets each name.
 *
 *   pnpm check:doc-coverage            # summary, then every undocumented export; exit 1 if any
 *   pnpm check:doc-coverage --summary  # only the per-package summary, exit 1 if any
 *   pnpm check:doc-coverage --members  # also how many public members have TSDoc (informational)
 */
import { dirname, join, posix, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import ts from 'typescript';
import { publishedPackages } from './published-packages.js';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const EXAMPLES = /###\s+Examples[\s\S]*?```(ts|typescript)\b/;

interface Entry {
  readonly packageName: string;
  readonly subpath: string;
  readonly file: string;
}

interface Missing {
  readonly packageName: string;
  readonly name: string;
  readonly where: string;
}

/** Every entry point with a source file, of every package that is published. */
function publishedEntries(): Entry[] {
  const entries: Entry[] = [];
  for (const { name, directory, manifest } of publishedPackages()) {
    for (const [subpath, target] of Object.entries(manifest.exports ?? {})) {
      const source =
        typeof target === 'object' && target !== null
          ? (target as Record<string, unknown>)['@berth/source']
          : undefined;
      if (typeof source !== 'string') continue;
      entries.push({ packageName: name, subpath, file: join(directory, source) });
    }
  }
  return entries;
}

/** The compiler options of the repository's own type-check, so `@berth/*` imports resolve to sources. */
function compilerOptions(): ts.CompilerOptions {
  const configPath = join(root, 'tsconfig.json');
  const parsed = ts.getParsedCommandLineOfConfigFile(
    configPath,
    {},
    {
      ...ts.sys,
      onUnRecoverableConfigFileDiagnostic: (diagnostic) => {
        throw new Error(ts.flattenDiagnosticMessageText(diagnostic.messageText, '\n'));
      },
    },
  );
  if (parsed === undefined) throw new Error(`Cannot read ${configPath}`);
  return { ...parsed.options, noEmit: true };
}

function documented(declaration: ts.Declaration): boolean {
  // `getJSDocCommentsAndTags` finds the comment of a `const` on its statement, too.
  return ts.getJSDocCommentsAndTags(declaration).some((node) => ts.isJSDoc(node) && EXAMPLES.test(node.getText()));
}

function location(declaration: ts.Declaration): string {
  const file = declaration.getSourceFile();
  const { line } = file.getLineAndCharacterOfPosition(declaration.getStart());
  return `${relative(root, file.fileName)}:${line + 1}`;
}

const entries = publishedEntries();
const program = ts.createProgram(
  entries.map((entry) => entry.file),
  compilerOptions(),
);
const checker = program.getTypeChecker();

interface Count {
  documented: number;
  total: number;
}

/** Counts per package, and per entry point for packages with several. */
const totals = new Map<string, Count & { readonly entries: Map<string, Count> }>();
/** Public members of exported classes and interfaces (`--members`): with any TSDoc, and with an example. */
const members = new Map<string, { commented: number; documented: number; total: number }>();
const missing: Missing[] = [];

function isPublicMember(declaration: ts.Declaration): boolean {
  const modifiers = ts.canHaveModifiers(declaration) ? (ts.getModifiers(declaration) ?? []) : [];
  const hidden = modifiers.some(
    (modifier) => modifier.kind === ts.SyntaxKind.PrivateKeyword || modifier.kind === ts.SyntaxKind.ProtectedKeyword,
  );
  return (
    !hidden &&
    !ts.isConstructorDeclaration(declaration) &&
    !ts.isTypeParameterDeclaration(declaration) &&
    !(ts.getNameOfDeclaration(declaration)?.kind === ts.SyntaxKind.PrivateIdentifier)
  );
}

function countMembers(packageName: string, target: ts.Symbol): void {
  if (!(target.flags & (ts.SymbolFlags.Class | ts.SymbolFlags.Interface))) return;
  const count = members.get(packageName) ?? { commented: 0, documented: 0, total: 0 };
  members.set(packageName, count);
  target.members?.forEach((member) => {
    const declarations = (member.declarations ?? []).filter(isPublicMember);
    if (declarations.length === 0) return;
    count.total++;
    if (declarations.some((declaration) => ts.getJSDocCommentsAndTags(declaration).some(ts.isJSDoc))) count.commented++;
    if (declarations.some(documented)) count.documented++;
  });
}

for (const entry of entries) {
  const source = program.getSourceFile(entry.file);
  if (source === undefined) throw new Error(`${entry.packageName} ${entry.subpath}: ${entry.file} not found`);
  const moduleSymbol = checker.getSymbolAtLocation(source);
  const exported = moduleSymbol === undefined ? [] : checker.getExportsOfModule(moduleSymbol);
  const total = totals.get(entry.packageName) ?? { documented: 0, total: 0, entries: new Map<string, Count>() };
  totals.set(entry.packageName, total);
  const ofEntry = { documented: 0, total: 0 };
  total.entries.set(entry.subpath, ofEntry);
  for (const symbol of exported) {
    const target = symbol.flags & ts.SymbolFlags.Alias ? checker.getAliasedSymbol(symbol) : symbol;
    const declarations = target.declarations ?? [];
    total.total++;
    ofEntry.total++;
    countMembers(entry.packageName, target);
    if (declarations.some(documented)) {
      total.documented++;
      ofEntry.documented++;
    } else {
      const first = declarations[0];
      missing.push({
        packageName: entry.packageName,
        name: entry.subpath === '.' ? symbol.name : `${symbol.name} (${entry.subpath})`,
        where: first === undefined ? relative(root, entry.file) : location(first),
      });
    }
  }
}

const percent = (part: number, whole: number): string =>
  whole === 0 ? '100%' : `${Math.floor((100 * part) / whole)}%`;
const width = Math.max(
  ...[...totals].flatMap(([name, { entries: ofEntries }]) =>
    [...ofEntries.keys()].map((sub) => posix.join(name, sub).length + 2),
  ),
);
const line = (label: string, { documented: count, total }: Count): string =>
  `  ${label.padEnd(width)}  ${String(count).padStart(4)}/${String(total).padEnd(4)} ${percent(count, total)}`;
console.log('Exports with TSDoc holding an ### Examples block, per published package:');
const all = { documented: 0, total: 0 };
for (const [name, count] of totals) {
  all.documented += count.documented;
  all.total += count.total;
  console.log(line(name, count));
  if (count.entries.size > 1) {
    for (const [subpath, ofEntry] of count.entries) console.log(line(`  ${posix.join(name, subpath)}`, ofEntry));
  }
}
console.log(line('all', all));

if (process.argv.includes('--members')) {
  console.log('\nPublic members of exported classes and interfaces (not required), with TSDoc / with an example:');
  for (const [name, { commented, documented: count, total }] of members) {
    console.log(`  ${name.padEnd(width)}  ${commented}/${total} commented, ${count}/${total} with an example`);
  }
}

if (missing.length > 0) {
  if (!process.argv.includes('--summary')) {
    console.error(
      `\n${missing.length} public exports have no TSDoc with an \`### Examples\` block and a \`\`\`ts example:`,
    );
    for (const { packageName, name, where } of missing) console.error(`  ${packageName}  ${name}  ${where}`);
  }
  process.exit(1);
}

/**
 * Type-checks every TypeScript code block of the repository's Markdown files
 * and of the packages' TSDoc (`### Examples`), so a documented example cannot
 * drift from the API it shows. Each ```ts
 * block becomes a module of its own, compiled with the packages' sources and
 * settings; errors are reported at the line of the file it came from. A block fenced as
 * ```ts continued goes on from the block before it in the same file (the
 * README's second step); one that is deliberately not a complete program is
 * fenced as ```ts nocheck.
 *
 *   pnpm exec tsx scripts/check-doc-examples.ts
 */
import { execFileSync } from 'node:child_process';
import { mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join, posix, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const outDir = join(root, 'node_modules/.cache/berth-doc-examples');
const SKIPPED_DIRECTORIES = new Set(['node_modules', 'dist', '.git', '.turbo', '.node-matrix', 'coverage']);
const TS_FENCE = /^```(ts|typescript)(\s+.*)?$/;

interface Block {
  readonly file: string;
  readonly lines: string[];
  /** The line (1-based) in the documented file of each code line. */
  readonly origins: number[];
}

/** Markdown files everywhere, and the packages' sources for the `### Examples` of their TSDoc. */
function documentedFiles(directory: string): string[] {
  const found: string[] = [];
  for (const entry of readdirSync(directory, { withFileTypes: true })) {
    const path = join(directory, entry.name);
    if (entry.isDirectory()) {
      if (!SKIPPED_DIRECTORIES.has(entry.name)) found.push(...documentedFiles(path));
    } else if (entry.name.endsWith('.md') || isPackageSource(path)) {
      found.push(path);
    }
  }
  return found.sort();
}

function isPackageSource(path: string): boolean {
  return (
    /^packages[\\/][^\\/]+[\\/]src[\\/]/.test(relative(root, path)) &&
    path.endsWith('.ts') &&
    !path.endsWith('.test.ts')
  );
}

/** The lines of a TSDoc comment without their ` * ` prefix; other lines stay as they are. */
function commentText(line: string): string {
  const match = /^\s*\* ?(.*)$/.exec(line);
  return match === null ? line : (match[1] as string);
}

function blocksOf(file: string): Block[] {
  const raw = readFileSync(file, 'utf8').split('\n');
  const lines = file.endsWith('.ts') ? raw.map(commentText) : raw;
  const blocks: Block[] = [];
  for (let index = 0; index < lines.length; index++) {
    const fence = TS_FENCE.exec((lines[index] as string).trim());
    if (fence === null) continue;
    const start = index + 1;
    let end = start;
    while (end < lines.length && (lines[end] as string).trim() !== '```') end++;
    const flags = (fence[2] ?? '').split(/\s+/);
    const code = lines.slice(start, end);
    const origins = code.map((_, offset) => start + offset + 1);
    const previous = blocks.at(-1);
    if (flags.includes('nocheck')) {
      // Not checked.
    } else if (flags.includes('continued') && previous !== undefined) {
      previous.lines.push(...code);
      previous.origins.push(...origins);
    } else {
      blocks.push({ file, lines: code, origins });
    }
    index = end;
  }
  return blocks;
}

/**
 * Every entry point of every workspace package (`@berth/core`, `@berth/core/adapter`, ...),
 * pointing at its source through the `@berth/source` condition, as the packages' own tests see it.
 */
function workspacePaths(): Record<string, string[]> {
  const paths: Record<string, string[]> = {};
  for (const name of readdirSync(join(root, 'packages'))) {
    const manifest = JSON.parse(readFileSync(join(root, 'packages', name, 'package.json'), 'utf8')) as {
      name: string;
      exports: Record<string, { '@berth/source'?: string } | string>;
    };
    for (const [subpath, target] of Object.entries(manifest.exports)) {
      if (typeof target === 'object' && target['@berth/source'] !== undefined) {
        paths[posix.join(manifest.name, subpath)] = [join(root, 'packages', name, target['@berth/source'])];
      }
    }
  }
  return paths;
}

const blocks = documentedFiles(root).flatMap(blocksOf);
rmSync(outDir, { recursive: true, force: true });
mkdirSync(outDir, { recursive: true });
const sources = new Map<string, Block>();
blocks.forEach((block, index) => {
  const name = `example-${index}.ts`;
  // `export {}` makes every block a module: top-level await works and names do not clash.
  writeFileSync(join(outDir, name), `${block.lines.join('\n')}\nexport {};\n`);
  sources.set(name, block);
});
writeFileSync(join(outDir, 'package.json'), JSON.stringify({ type: 'module' }));
writeFileSync(
  join(outDir, 'tsconfig.json'),
  JSON.stringify({
    extends: join(root, 'tsconfig.base.json'),
    compilerOptions: {
      noEmit: true,
      // Examples show usage, not published declarations.
      declaration: false,
      isolatedDeclarations: false,
      paths: workspacePaths(),
    },
    include: ['*.ts'],
  }),
);

let output = '';
try {
  execFileSync(join(root, 'node_modules/.bin/tsc'), ['-p', join(outDir, 'tsconfig.json')], {
    cwd: outDir,
    encoding: 'utf8',
  });
} catch (error) {
  output = String((error as { stdout?: unknown }).stdout ?? error);
}

// Errors in the packages' own sources are the main type-check's to report;
// here only the examples count, each at the line of the file it came from.
const EXAMPLE_ERROR = /^(?:.*[\\/])?(example-\d+\.ts)\((\d+),(\d+)\)/;
const located = output
  .split(/\n(?=\S)/)
  .flatMap((diagnostic) => {
    const match = EXAMPLE_ERROR.exec(diagnostic);
    const block = match === null ? undefined : sources.get(match[1] as string);
    if (match === null || block === undefined) return [];
    const line = block.origins[Number(match[2]) - 1] ?? block.origins.at(-1);
    const where = `${relative(root, block.file)}:${line}:${match[3]}`;
    return [diagnostic.replace(EXAMPLE_ERROR, where)];
  })
  .join('\n');
if (located.trim() !== '') {
  process.stderr.write(
    `${located.trim()}\n\nCode blocks in Markdown and TSDoc must type-check (fence a deliberate fragment as \`\`\`ts nocheck).\n`,
  );
  process.exit(1);
}
console.log(`${blocks.length} TypeScript blocks in Markdown and TSDoc type-check.`);

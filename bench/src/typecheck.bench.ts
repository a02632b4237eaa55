/**
 * What the typed query API costs the compiler: type-checks 20 queries against
 * a generated document type (50 leaf fields over 3 levels) on a typed
 * `Repository<Big>`, and the same 20 queries on an untyped `Repository`, each
 * in a fresh program, and reports the check time of that file and the type
 * instantiations it caused (median and range over the runs).
 *
 *   pnpm bench:types                     # 5 runs
 *   BENCH_TYPES_RUNS=9 pnpm bench:types
 */
import { dirname, join, resolve } from 'node:path';
import { performance } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';
import ts from 'typescript';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
const runs = Math.max(1, Math.round(Number(process.env.BENCH_TYPES_RUNS) || 5));

/** 20 top-level leaves, and 5 groups of 4 leaves plus a sub-object of 2: 50 leaves, 3 levels. */
function documentType(): string {
  const leafTypes = ['number', 'string', 'boolean', 'Date', 'string[]', 'number | null', "'a' | 'b' | 'c'"];
  const lines = ['interface Big {', '  id: string;'];
  for (let i = 0; i < 20; i++) lines.push(`  f${i}${i % 5 === 4 ? '?' : ''}: ${leafTypes[i % leafTypes.length]};`);
  for (let g = 0; g < 5; g++) {
    lines.push(`  g${g}: {`);
    for (let i = 0; i < 4; i++) lines.push(`    h${i}: ${leafTypes[(g + i) % leafTypes.length]};`);
    lines.push('    sub: { x: number; y?: string };', '  };');
  }
  lines.push('}');
  return lines.join('\n');
}

/** The same 20 calls, valid for the typed document (f0 number, f1 string, f2 boolean, f3 Date, f4 string[]…). */
const QUERIES = [
  `r.find({ where: { f0: { $gte: 1 }, f1: 'x' }, orderBy: 'f0' })`,
  `r.find({ where: { 'g0.h0': 3, 'g0.sub.x': { $lt: 9 } }, orderBy: { field: 'g0.sub.x', direction: 'desc' } })`,
  `r.find({ where: { f4: { $contains: 'tag' } }, orderBy: ['f1', 'f0'], limit: 10 })`,
  `r.find({ where: { $or: [{ f0: 1 }, { f7: { $lte: 4 } }], $not: { f2: true } } })`,
  `r.findPage({ where: { f1: { $startsWith: 'a' } }, orderBy: '$createdAt', limit: 5 })`,
  `r.findOne({ where: { f3: { $gte: new Date(0) } }, orderBy: 'f3' })`,
  `r.count({ f5: null })`,
  `r.count({ 'g1.sub.y': { $exists: true }, $createdAt: { $gte: new Date(0) } })`,
  `r.countBy('f6')`,
  `r.countBy('g2.sub.x', { f0: { $in: [1, 2, 3] } })`,
  `r.exists({ f8: { $ne: 'x' } })`,
  `r.update('a', { f0: 1, f1: 'y' })`,
  `r.update('a', { $inc: { f0: 1, 'g0.sub.x': 2 } })`,
  `r.update('a', { $set: { f1: 'z', 'g3.sub.y': 'w' }, $unset: ['f9'] })`,
  `r.update('a', { 'g4.sub.x': 5 })`,
  `r.updateMany({ f0: { $gt: 0 } }, { $inc: { f7: 1 } })`,
  `r.deleteMany({ f2: false, 'g0.h0': { $lt: 3 } })`,
  `r.iterate({ where: { f14: { $gte: 2 } }, orderBy: '$updatedAt' })`,
  `r.explain({ where: { f15: { $in: ['a', 'b'] } } })`,
  `r.find({ where: { $and: [{ f0: 1 }, { $or: [{ f1: 'a' }, { 'g1.h1': { $exists: false } }] }] }, orderBy: [{ field: 'f7', direction: 'desc' }, 'id'] })`,
];

function source(typed: boolean): string {
  return [
    `import type { Repository } from '@berth/core';`,
    documentType(),
    `export async function queries(r: Repository${typed ? '<Big>' : ''}): Promise<void> {`,
    ...QUERIES.map((query) => `  await ${query};`),
    '}',
  ].join('\n');
}

interface Measure {
  readonly checkMs: number;
  readonly instantiations: number;
  readonly types: number;
}

/** One fresh program holding the bench file; measures checking that file alone. */
function measure(typed: boolean): Measure {
  const file = join(root, 'bench/src', typed ? '__typecheck-typed.ts' : '__typecheck-untyped.ts');
  const text = source(typed);
  const options: ts.CompilerOptions = {
    target: ts.ScriptTarget.ES2022,
    lib: ['lib.es2024.d.ts'],
    module: ts.ModuleKind.NodeNext,
    moduleResolution: ts.ModuleResolutionKind.NodeNext,
    customConditions: ['@berth/source'],
    types: ['node'],
    strict: true,
    noUncheckedIndexedAccess: true,
    exactOptionalPropertyTypes: true,
    skipLibCheck: true,
    noEmit: true,
  };
  const host = ts.createCompilerHost(options);
  const getSourceFile = host.getSourceFile.bind(host);
  host.getSourceFile = (name, language, ...rest) =>
    name === file ? ts.createSourceFile(name, text, language) : getSourceFile(name, language, ...rest);
  const fileExists = host.fileExists.bind(host);
  host.fileExists = (name) => name === file || fileExists(name);
  const program = ts.createProgram([file], options, host);
  const sourceFile = program.getSourceFile(file);
  if (sourceFile === undefined) throw new Error(`no source file ${file}`);
  // Checks the rest first (the core sources the file imports), so the measure is the file's own.
  for (const other of program.getSourceFiles()) if (other !== sourceFile) program.getSemanticDiagnostics(other);
  const instantiationsBefore = program.getInstantiationCount();
  const typesBefore = program.getTypeCount();
  const start = performance.now();
  const diagnostics = program.getSemanticDiagnostics(sourceFile);
  const checkMs = performance.now() - start;
  if (diagnostics.length > 0) {
    throw new Error(ts.formatDiagnostics(diagnostics, { ...host, getNewLine: () => '\n' }));
  }
  return {
    checkMs,
    instantiations: program.getInstantiationCount() - instantiationsBefore,
    types: program.getTypeCount() - typesBefore,
  };
}

function summary(values: readonly number[], digits: number): string {
  const sorted = [...values].sort((a, b) => a - b);
  const median = sorted[Math.floor(sorted.length / 2)] as number;
  const low = sorted[0] as number;
  const high = sorted.at(-1) as number;
  return `${median.toFixed(digits)} (${low.toFixed(digits)}–${high.toFixed(digits)})`;
}

const results: Record<'typed' | 'untyped', Measure[]> = { typed: [], untyped: [] };
for (let run = 0; run < runs; run++) {
  // Alternated, so drift hits both alike.
  results.untyped.push(measure(false));
  results.typed.push(measure(true));
  process.stderr.write(`  done: run ${run + 1} of ${runs}\n`);
}

console.log(`Type-check cost of 20 queries on a 50-field, 3-level document, TypeScript ${ts.version}, ${runs} runs`);
console.log('median (min–max)');
console.log('repository          check ms               instantiations            types');
for (const kind of ['untyped', 'typed'] as const) {
  const measures = results[kind];
  console.log(
    `${kind.padEnd(20)}${summary(
      measures.map((m) => m.checkMs),
      1,
    ).padEnd(23)}${summary(
      measures.map((m) => m.instantiations),
      0,
    ).padEnd(26)}${summary(
      measures.map((m) => m.types),
      0,
    )}`,
  );
}
const median = (values: readonly number[]): number =>
  [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)] as number;
console.log(
  `typed / untyped: ${(median(results.typed.map((m) => m.checkMs)) / median(results.untyped.map((m) => m.checkMs))).toFixed(1)}× check time, ${(
    median(results.typed.map((m) => m.instantiations)) /
      Math.max(1, median(results.untyped.map((m) => m.instantiations)))
  ).toFixed(1)}× instantiations`,
);

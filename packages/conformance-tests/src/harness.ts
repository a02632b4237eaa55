import type { Capabilities, Document, Repository, RepositoryBackend, RepositoryOptions } from '@berth/core';
import { describe, it } from 'vitest';

/** How a conformance run gets backends. */
export interface ConformanceOptions {
  /** Shown in test names (`memory`, `sqlite`). */
  readonly name?: string | undefined;
  /**
   * Creates a fresh backend. Called before every test; the backend is closed
   * after it. Each test also works in collections of its own, so backends that
   * share a server stay isolated.
   */
  readonly createBackend: () => RepositoryBackend | Promise<RepositoryBackend>;
  /**
   * The capabilities the adapter claims. Cases for what is claimed are
   * registered; for what is declared unsupported, the suite checks that the
   * operation throws `UNSUPPORTED`.
   */
  readonly capabilities: Capabilities;
  /** Per-test timeout in milliseconds (default 20 000). */
  readonly timeoutMs?: number | undefined;
}

/** What each conformance case receives. */
export interface ConformanceContext {
  readonly backend: RepositoryBackend;
  readonly capabilities: Capabilities;
  /** The per-test timeout; long cases (the model test) stop in time to report. */
  readonly timeoutMs: number;
  /** A collection name no other test uses. */
  collectionName(prefix?: string): string;
  /** A repository on a fresh collection. */
  repository<T extends Document = Document>(options?: RepositoryOptions<T>): Repository<T>;
}

/** One test of the suite. */
export interface ConformanceCase {
  readonly name: string;
  /** Only run when the capabilities allow it. */
  readonly requires?: ((capabilities: Capabilities) => boolean) | undefined;
  run(context: ConformanceContext): Promise<void>;
}

/** A named group of cases; each group is exported on its own. */
export interface ConformanceGroup {
  readonly name: string;
  readonly cases: readonly ConformanceCase[];
}

/** Declares a group. */
export function defineGroup(name: string, cases: readonly ConformanceCase[]): ConformanceGroup {
  return { name, cases };
}

const DEFAULT_TIMEOUT_MS = 20_000;

let collectionCounter = 0;

function uniqueCollectionName(prefix = 'c'): string {
  collectionCounter += 1;
  const random = Math.random().toString(36).slice(2, 8);
  return `${prefix}_${Date.now().toString(36)}_${random}_${collectionCounter}`;
}

async function withContext<R>(
  options: ConformanceOptions,
  work: (context: ConformanceContext) => Promise<R>,
): Promise<R> {
  const backend = await options.createBackend();
  try {
    await backend.connect();
    const capabilities = options.capabilities;
    const context: ConformanceContext = {
      backend,
      capabilities,
      timeoutMs: options.timeoutMs ?? DEFAULT_TIMEOUT_MS,
      collectionName: uniqueCollectionName,
      repository: <T extends Document>(repositoryOptions?: RepositoryOptions<T>) =>
        backend.repository<T>(uniqueCollectionName('t'), repositoryOptions),
    };
    return await work(context);
  } finally {
    await backend.close();
  }
}

function applies(testCase: ConformanceCase, capabilities: Capabilities): boolean {
  return testCase.requires === undefined || testCase.requires(capabilities);
}

/**
 * Registers a group as a vitest `describe` block.
 *
 * ### Examples
 * ```ts
 * import { registerGroup, filterGroup } from '@berth/conformance-tests';
 * import { MemoryBackend } from '@berth/adapter-memory';
 *
 * const backend = () => new MemoryBackend();
 * registerGroup(filterGroup, { name: 'memory', createBackend: backend, capabilities: backend().capabilities });
 * ```
 */
export function registerGroup(group: ConformanceGroup, options: ConformanceOptions): void {
  describe(group.name, () => {
    for (const testCase of group.cases) {
      // Cases for capabilities the adapter does not claim are not registered at
      // all; the group's UNSUPPORTED cases cover that side instead.
      if (!applies(testCase, options.capabilities)) continue;
      it(
        testCase.name,
        () => withContext(options, (context) => testCase.run(context)),
        options.timeoutMs ?? DEFAULT_TIMEOUT_MS,
      );
    }
  });
}

/** Outcome of one case when a group is run outside vitest's registration. */
export interface CaseResult {
  readonly name: string;
  readonly passed: boolean;
  readonly error?: unknown;
}

/**
 * Runs every case of a group and reports which passed. The suite's own tests
 * use it to prove that a deliberately broken adapter is rejected.
 */
export async function runGroup(group: ConformanceGroup, options: ConformanceOptions): Promise<CaseResult[]> {
  const results: CaseResult[] = [];
  for (const testCase of group.cases) {
    if (!applies(testCase, options.capabilities)) continue;
    try {
      await withContext(options, (context) => testCase.run(context));
      results.push({ name: testCase.name, passed: true });
    } catch (error) {
      results.push({ name: testCase.name, passed: false, error });
    }
  }
  return results;
}

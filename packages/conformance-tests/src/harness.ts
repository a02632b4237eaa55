import type {
  AnyDocument,
  Capabilities,
  Document,
  DocumentValue,
  JobQueue,
  QueueBackend,
  Repository,
  RepositoryBackend,
  RepositoryOptions,
} from '@berth/core';
import { describe, it } from 'vitest';

/**
 * What the harness needs of any backend: to open it and to close it.
 *
 * ### Examples
 * ```ts
 * import { mkdtemp, rm } from 'node:fs/promises';
 * import { tmpdir } from 'node:os';
 * import { join } from 'node:path';
 * import type { ConnectableBackend } from '@berth/conformance-tests';
 *
 * // A fixture the harness opens and closes around each case of a group of your own.
 * class ScratchDirectory implements ConnectableBackend {
 *   path = '';
 *   async connect(): Promise<void> {
 *     this.path = await mkdtemp(join(tmpdir(), 'scratch-'));
 *   }
 *   async close(): Promise<void> {
 *     await rm(this.path, { recursive: true, force: true });
 *   }
 * }
 * ```
 */
export interface ConnectableBackend {
  connect(): Promise<void>;
  close(): Promise<void>;
}

/**
 * How a conformance run gets backends.
 *
 * ### Examples
 * ```ts
 * import { join } from 'node:path';
 * import { SqliteBackend } from '@berth/adapter-sqlite';
 * import { type ConformanceOptions, repositoryConformance } from '@berth/conformance-tests';
 *
 * declare const directory: string; // a temporary directory for the run
 * let counter = 0;
 * const files = new WeakMap<SqliteBackend, string>();
 * const createBackend = (): SqliteBackend => {
 *   const filename = join(directory, `${++counter}.db`);
 *   const backend = new SqliteBackend({ filename });
 *   files.set(backend, filename);
 *   return backend;
 * };
 *
 * const options: ConformanceOptions = {
 *   name: 'sqlite',
 *   createBackend,
 *   capabilities: createBackend().capabilities,
 *   openSameStorage: (first) => new SqliteBackend({ filename: files.get(first as SqliteBackend) ?? '' }),
 * };
 * repositoryConformance(options);
 * ```
 */
export interface ConformanceOptions<B extends ConnectableBackend = RepositoryBackend> {
  /** Shown in test names (`memory`, `sqlite`). */
  readonly name?: string | undefined;
  /**
   * Creates a fresh backend. Called before every test; the backend is closed
   * after it. Each test also works in collections (or queues) of its own, so
   * backends that share a server stay isolated.
   */
  readonly createBackend: () => B | Promise<B>;
  /**
   * The capabilities the adapter claims. Cases for what is claimed are
   * registered; for what is declared unsupported, the suite checks that the
   * operation throws `UNSUPPORTED`.
   */
  readonly capabilities: Capabilities;
  /** Per-test timeout in milliseconds (default 20 000). */
  readonly timeoutMs?: number | undefined;
  /**
   * Drops what a test created, so a shared test server does not fill up with
   * collections and queues. Called after each test, passed or failed, and
   * before the backend is closed, with every collection and queue name the
   * test was handed. The test may have closed the backend itself (the
   * lifecycle cases do): clean up through another connection where that
   * matters. A cleanup that throws fails the test.
   */
  readonly cleanup?: ((info: CleanupInfo<B>) => Promise<void> | void) | undefined;
  /**
   * Opens a second backend on the storage of `first` (the same file,
   * database or server). Required when `capabilities.repository.durable` is
   * true: the shared-storage group checks what two backends on one storage
   * see of each other. The harness connects it and closes it after the test.
   */
  readonly openSameStorage?: ((first: B) => B | Promise<B>) | undefined;
}

/**
 * What {@link ConformanceOptions.cleanup} receives.
 *
 * ### Examples
 * ```ts
 * import type { RepositoryBackend } from '@berth/core';
 * import type { CleanupInfo } from '@berth/conformance-tests';
 *
 * declare function dropTable(name: string): Promise<void>; // through a connection of your own
 *
 * async function cleanup({ collections }: CleanupInfo<RepositoryBackend>): Promise<void> {
 *   for (const name of collections) await dropTable(name);
 * }
 * ```
 */
export interface CleanupInfo<B> {
  /** The test's backend, not yet closed by the harness. */
  readonly backend: B;
  /** Names from `collectionName()`, `repository()` and `reportCollection()`, in the order handed out. */
  readonly collections: readonly string[];
  /** Names from `queueName()` and `queue()`, in the order handed out. */
  readonly queues: readonly string[];
}

/**
 * What every conformance case receives, whatever the port.
 *
 * ### Examples
 * ```ts
 * import { type BaseContext, type ConformanceCase, defineGroup } from '@berth/conformance-tests';
 * import type { RepositoryBackend } from '@berth/core';
 *
 * async function writeThroughTwoNames({ backend, collectionName }: BaseContext<RepositoryBackend>): Promise<void> {
 *   const a = backend.repository(collectionName('a'));
 *   const b = backend.repository(collectionName('b'));
 *   await a.insert({ id: 'x' });
 *   if ((await b.get('x')) !== null) throw new Error('collections share documents');
 * }
 *
 * const twoCollections: ConformanceCase = { name: 'collections are apart', run: writeThroughTwoNames };
 * export const myGroup = defineGroup('my-engine', [twoCollections]);
 * ```
 */
export interface BaseContext<B> {
  readonly backend: B;
  readonly capabilities: Capabilities;
  /** The per-test timeout; long cases (the model test) stop in time to report. */
  readonly timeoutMs: number;
  /** A collection name no other test uses. */
  collectionName(prefix?: string): string;
  /** A queue name no other test uses. */
  queueName(prefix?: string): string;
  /** Records a collection name the case built itself (from `collectionName()`), so cleanup drops it too; returns it. */
  reportCollection(name: string): string;
  /** A second backend on the storage of `backend`, connected; `undefined` when the run has no `openSameStorage`. */
  readonly openSameStorage: (() => Promise<B>) | undefined;
}

/**
 * What each repository case receives.
 *
 * ### Examples
 * ```ts
 * import { type ConformanceContext, defineGroup } from '@berth/conformance-tests';
 *
 * async function keepsLongStrings({ repository }: ConformanceContext): Promise<void> {
 *   const notes = repository<{ id: string; text: string }>();
 *   await notes.insert({ id: 'a', text: 'x'.repeat(100_000) });
 *   if ((await notes.get('a'))?.text.length !== 100_000) throw new Error('the text was cut');
 * }
 *
 * export const myEngineGroup = defineGroup('my-engine', [{ name: 'keeps long strings', run: keepsLongStrings }]);
 * ```
 */
export interface ConformanceContext extends BaseContext<RepositoryBackend> {
  /** A repository on a fresh collection. */
  repository<T extends Document = AnyDocument>(options?: RepositoryOptions<T>): Repository<T>;
}

/**
 * What each queue case receives.
 *
 * ### Examples
 * ```ts
 * import { defineQueueGroup, type QueueConformanceContext } from '@berth/conformance-tests';
 *
 * async function keepsPayloads({ queue }: QueueConformanceContext): Promise<void> {
 *   const jobs = queue<{ to: string }>();
 *   await jobs.enqueue({ to: 'ada@example.com' });
 *   const lease = await jobs.dequeue();
 *   if (lease?.job.payload.to !== 'ada@example.com') throw new Error('payload lost');
 * }
 *
 * export const myQueueGroup = defineQueueGroup('my-queue', [{ name: 'keeps payloads', run: keepsPayloads }]);
 * ```
 */
export interface QueueConformanceContext extends BaseContext<QueueBackend> {
  /** A fresh queue no other test uses. */
  queue<T = DocumentValue>(): JobQueue<T>;
}

/**
 * One test of the suite.
 *
 * ### Examples
 * ```ts
 * import { type ConformanceCase, defineGroup } from '@berth/conformance-tests';
 *
 * const rollsBack: ConformanceCase = {
 *   name: 'a transaction that throws writes nothing',
 *   requires: (capabilities) => capabilities.repository.transactions !== 'none',
 *   async run({ backend, collectionName }) {
 *     const name = collectionName();
 *     await backend
 *       .transaction(async (tx) => {
 *         await tx.repository(name).insert({ id: 'a' });
 *         throw new Error('stop');
 *       })
 *       .catch(() => undefined);
 *     if ((await backend.repository(name).get('a')) !== null) throw new Error('the insert was kept');
 *   },
 * };
 * export const myGroup = defineGroup('my-engine', [rollsBack]);
 * ```
 */
export interface ConformanceCase<C = ConformanceContext> {
  readonly name: string;
  /** Only run when the capabilities allow it. */
  readonly requires?: ((capabilities: Capabilities) => boolean) | undefined;
  run(context: C): Promise<void>;
}

/**
 * A named group of cases; each group is exported on its own.
 *
 * ### Examples
 * ```ts
 * import { type ConformanceGroup, repositoryGroups } from '@berth/conformance-tests';
 *
 * const names = repositoryGroups.map((group: ConformanceGroup) => `${group.name}: ${group.cases.length} cases`);
 * ```
 */
export interface ConformanceGroup<B extends ConnectableBackend = RepositoryBackend, C = ConformanceContext> {
  readonly name: string;
  readonly cases: readonly ConformanceCase<C>[];
  /** Builds the context each case receives from the fresh backend. */
  createContext(base: BaseContext<B>): C;
}

/**
 * Declares a group of repository cases.
 *
 * ### Examples
 * ```ts
 * import { defineGroup, registerGroup } from '@berth/conformance-tests';
 * import { MemoryBackend } from '@berth/adapter-memory';
 *
 * const myGroup = defineGroup('my-engine', [
 *   {
 *     name: 'an id with spaces round-trips',
 *     async run({ repository }) {
 *       const items = repository();
 *       await items.insert({ id: 'a b' });
 *       if ((await items.get('a b')) === null) throw new Error('not found');
 *     },
 *   },
 * ]);
 * registerGroup(myGroup, { name: 'memory', createBackend: () => new MemoryBackend(), capabilities: new MemoryBackend().capabilities });
 * ```
 */
export function defineGroup(name: string, cases: readonly ConformanceCase[]): ConformanceGroup {
  return {
    name,
    cases,
    createContext: (base) => ({
      ...base,
      repository: <T extends Document>(options?: RepositoryOptions<T>) =>
        base.backend.repository<T>(base.collectionName('t'), options),
    }),
  };
}

/**
 * Declares a group of job queue cases.
 *
 * ### Examples
 * ```ts
 * import type { QueueBackend } from '@berth/core';
 * import { type ConformanceOptions, defineQueueGroup, registerGroup } from '@berth/conformance-tests';
 *
 * const myQueueGroup = defineQueueGroup('my-queue', [
 *   {
 *     name: 'an empty queue has nothing to dequeue',
 *     async run({ queue }) {
 *       if ((await queue().dequeue()) !== null) throw new Error('a job came from nowhere');
 *     },
 *   },
 * ]);
 * declare const options: ConformanceOptions<QueueBackend>; // what your adapter passes to queueConformance
 * registerGroup(myQueueGroup, options);
 * ```
 */
export function defineQueueGroup(
  name: string,
  cases: readonly ConformanceCase<QueueConformanceContext>[],
): ConformanceGroup<QueueBackend, QueueConformanceContext> {
  return {
    name,
    cases,
    createContext: (base) => ({
      ...base,
      queue: <T>() => base.backend.queue<T>(base.queueName('q')),
    }),
  };
}

const DEFAULT_TIMEOUT_MS = 20_000;

let collectionCounter = 0;

function uniqueCollectionName(prefix = 'c'): string {
  collectionCounter += 1;
  const random = Math.random().toString(36).slice(2, 8);
  return `${prefix}_${Date.now().toString(36)}_${random}_${collectionCounter}`;
}

async function withContext<B extends ConnectableBackend, C, R>(
  group: ConformanceGroup<B, C>,
  options: ConformanceOptions<B>,
  work: (context: C) => Promise<R>,
): Promise<R> {
  const backend = await options.createBackend();
  const collections: string[] = [];
  const queues: string[] = [];
  const handOut = (names: string[]) => (prefix?: string) => {
    const name = uniqueCollectionName(prefix);
    names.push(name);
    return name;
  };
  let failure: { readonly error: unknown } | undefined;
  let result: R | undefined;
  const others: B[] = [];
  const openSameStorage = options.openSameStorage;
  try {
    await backend.connect();
    const context = group.createContext({
      backend,
      capabilities: options.capabilities,
      timeoutMs: options.timeoutMs ?? DEFAULT_TIMEOUT_MS,
      collectionName: handOut(collections),
      queueName: handOut(queues),
      reportCollection: (name) => {
        if (!collections.includes(name)) collections.push(name);
        return name;
      },
      openSameStorage:
        openSameStorage === undefined
          ? undefined
          : async () => {
              const other = await openSameStorage(backend);
              others.push(other);
              await other.connect();
              return other;
            },
    });
    result = await work(context);
  } catch (error) {
    failure = { error };
  }
  for (const other of others) {
    try {
      await other.close();
    } catch (error) {
      failure ??= { error };
    }
  }
  try {
    await options.cleanup?.({ backend, collections, queues });
  } catch (error) {
    // A failed cleanup fails a test that passed; the test's own failure comes first.
    failure ??= { error };
  } finally {
    await backend.close();
  }
  if (failure !== undefined) throw failure.error;
  return result as R;
}

function applies<C>(testCase: ConformanceCase<C>, capabilities: Capabilities): boolean {
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
export function registerGroup<B extends ConnectableBackend, C>(
  group: ConformanceGroup<B, C>,
  options: ConformanceOptions<B>,
): void {
  // vitest rejects an empty describe block: a group whose cases all need
  // capabilities the adapter does not claim is left out.
  if (!group.cases.some((testCase) => applies(testCase, options.capabilities))) return;
  describe(group.name, () => {
    for (const testCase of group.cases) {
      // Cases for capabilities the adapter does not claim are not registered at
      // all; the group's UNSUPPORTED cases cover that side instead.
      if (!applies(testCase, options.capabilities)) continue;
      it(
        testCase.name,
        () => withContext(group, options, (context) => testCase.run(context)),
        options.timeoutMs ?? DEFAULT_TIMEOUT_MS,
      );
    }
  });
}

/**
 * Outcome of one case when a group is run outside vitest's registration.
 *
 * ### Examples
 * ```ts
 * import { type CaseResult, type ConformanceOptions, crudGroup, runGroup } from '@berth/conformance-tests';
 *
 * declare const options: ConformanceOptions;
 * const results: CaseResult[] = await runGroup(crudGroup, options);
 * for (const result of results) if (!result.passed) console.error(result.name, result.error);
 * ```
 */
export interface CaseResult {
  readonly name: string;
  readonly passed: boolean;
  readonly error?: unknown;
}

/**
 * Runs every case of a group and reports which passed. The suite's own tests
 * use it to prove that a deliberately broken adapter is rejected.
 *
 * ### Examples
 * ```ts
 * import { MemoryBackend } from '@berth/adapter-memory';
 * import { runGroup, valuesGroup } from '@berth/conformance-tests';
 *
 * const results = await runGroup(valuesGroup, {
 *   createBackend: () => new MemoryBackend(),
 *   capabilities: new MemoryBackend().capabilities,
 * });
 * const failed = results.filter((result) => !result.passed).map((result) => result.name);
 * ```
 */
export async function runGroup<B extends ConnectableBackend, C>(
  group: ConformanceGroup<B, C>,
  options: ConformanceOptions<B>,
): Promise<CaseResult[]> {
  const results: CaseResult[] = [];
  for (const testCase of group.cases) {
    if (!applies(testCase, options.capabilities)) continue;
    try {
      await withContext(group, options, (context) => testCase.run(context));
      results.push({ name: testCase.name, passed: true });
    } catch (error) {
      results.push({ name: testCase.name, passed: false, error });
    }
  }
  return results;
}

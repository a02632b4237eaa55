import type { Document, Repository, RepositoryBackend, RepositoryOptions, TransactionScope } from '@berth/core';
import { deferred } from '../groups/assertions.js';
import { override } from '../override.js';

/**
 * The repository reads an engine spy counts.
 *
 * ### Examples
 * ```ts
 * import type { EngineRead, EngineSpy } from '@berth/conformance-tests';
 *
 * declare const spy: EngineSpy;
 * const counted: EngineRead[] = ['get', 'find', 'count'];
 * const engineReads = counted.map((operation) => `${operation}: ${spy.reads(operation)}`);
 * ```
 */
export type EngineRead =
  | 'get'
  | 'getEntry'
  | 'getMany'
  | 'find'
  | 'findPage'
  | 'findOne'
  | 'count'
  | 'countBy'
  | 'exists';

const READS: ReadonlySet<string> = new Set<EngineRead>([
  'get',
  'getEntry',
  'getMany',
  'find',
  'findPage',
  'findOne',
  'count',
  'countBy',
  'exists',
]);

/**
 * An engine read held back after it ran, to order it against a write.
 *
 * ### Examples
 * ```ts
 * import { MemoryBackend } from '@berth/adapter-memory';
 * import { spyOnEngine } from '@berth/conformance-tests';
 *
 * const spy = spyOnEngine(new MemoryBackend());
 * const users = spy.backend.repository('users');
 * await users.insert({ id: 'ada', name: 'Ada' });
 * const held = spy.holdNextRead('get');
 * const reading = users.get('ada');
 * await held.reached; // the engine answered: write between that answer and the caller
 * await users.update('ada', { name: 'Ada L.' });
 * held.release();
 * console.log(await reading); // the name read before the update
 * ```
 */
export interface HeldRead {
  /** Resolves once the engine has answered the read. */
  readonly reached: Promise<void>;
  /** Hands the answer on to the caller. */
  release(): void;
}

/**
 * A repository backend whose reads are counted, so a case can tell a cache
 * hit from an engine read, and can be held, so a case can let a write land
 * between an engine read and what the caller does with it.
 *
 * ### Examples
 * ```ts
 * import { MemoryBackend, MemoryCache } from '@berth/adapter-memory';
 * import { spyOnEngine } from '@berth/conformance-tests';
 * import { withCache } from '@berth/core';
 *
 * const spy = spyOnEngine(new MemoryBackend());
 * const cached = withCache(spy.backend, new MemoryCache());
 * await cached.repository('users').get('ada');
 * await cached.repository('users').get('ada');
 * if (spy.reads('get') !== 1) throw new Error('the second get was not served from the cache');
 * ```
 */
export interface EngineSpy {
  /** The spied backend (transactions' repositories are spied too). */
  readonly backend: RepositoryBackend;
  /** Engine reads so far: of one operation, or of all. */
  reads(operation?: EngineRead): number;
  /** The next `operation` read runs, then waits for `release()` before returning. */
  holdNextRead(operation: EngineRead): HeldRead;
}

interface Hold {
  readonly reached: () => void;
  readonly released: Promise<void>;
}

/**
 * Wraps `backend` in an {@link EngineSpy}.
 *
 * ### Examples
 * ```ts
 * import { MemoryBackend } from '@berth/adapter-memory';
 * import { spyOnEngine } from '@berth/conformance-tests';
 *
 * const spy = spyOnEngine(new MemoryBackend());
 * await spy.backend.repository('users').find({ where: { active: true } });
 * console.log(spy.reads('find'), spy.reads());
 * ```
 */
export function spyOnEngine(backend: RepositoryBackend): EngineSpy {
  const counts = new Map<string, number>();
  const holds = new Map<string, Hold[]>();

  const spyRepository = <T extends Document>(repository: Repository<T>): Repository<T> => {
    const members: Record<string, unknown> = {};
    for (const operation of READS) {
      const method = (repository as unknown as Record<string, (...args: unknown[]) => Promise<unknown>>)[operation];
      if (method === undefined) continue;
      members[operation] = async (...args: unknown[]): Promise<unknown> => {
        counts.set(operation, (counts.get(operation) ?? 0) + 1);
        const result = await method.apply(repository, args);
        const hold = holds.get(operation)?.shift();
        if (hold !== undefined) {
          hold.reached();
          await hold.released;
        }
        return result;
      };
    }
    return override(repository, members);
  };

  const spyScope = (scope: TransactionScope): TransactionScope =>
    override(scope, {
      repository: <T extends Document>(name: string, options?: RepositoryOptions<T>) =>
        spyRepository(scope.repository<T>(name, options)),
    });

  return {
    backend: override(backend, {
      repository: <T extends Document>(name: string, options?: RepositoryOptions<T>) =>
        spyRepository(backend.repository<T>(name, options)),
      transaction: <R>(
        work: (tx: TransactionScope) => Promise<R>,
        options?: Parameters<RepositoryBackend['transaction']>[1],
      ) => backend.transaction((scope) => work(spyScope(scope)), options),
    }),
    reads(operation) {
      if (operation !== undefined) return counts.get(operation) ?? 0;
      let total = 0;
      for (const count of counts.values()) total += count;
      return total;
    },
    holdNextRead(operation) {
      const reached = deferred();
      const released = deferred();
      const list = holds.get(operation) ?? [];
      list.push({ reached: () => reached.resolve(), released: released.promise });
      holds.set(operation, list);
      return { reached: reached.promise, release: () => released.resolve() };
    },
  };
}

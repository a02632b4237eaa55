import {
  type CacheConformanceContext,
  type CacheConformanceOptions,
  type CacheFixture,
  cacheRunOptions,
} from '../cache-harness.js';
import { type ConformanceGroup, registerGroup } from '../harness.js';
import { cacheBasicsGroup } from './basics-group.js';
import { cacheEvictionGroup } from './eviction-group.js';
import { cachePrefixGroup } from './prefix-group.js';
import { cacheStatsGroup } from './stats-group.js';
import { cacheTtlGroup } from './ttl-group.js';
import { withCacheGroup } from './with-cache-group.js';

/**
 * The groups every cache runs (eviction and with-cache are registered on condition).
 *
 * ### Examples
 * ```ts
 * import { MemoryCache } from '@berth/adapter-memory';
 * import { cacheGroups, cacheRunOptions, registerGroup } from '@berth/conformance-tests';
 *
 * const options = cacheRunOptions({ name: 'memory', createCache: () => new MemoryCache() });
 * for (const group of cacheGroups) registerGroup(group, options);
 * ```
 */
export const cacheGroups: readonly ConformanceGroup<CacheFixture, CacheConformanceContext>[] = [
  cacheBasicsGroup,
  cacheTtlGroup,
  cachePrefixGroup,
  cacheStatsGroup,
];

/**
 * Registers the cache suite in the calling vitest file: basics, TTL, prefix
 * delete and stats; `cache-eviction` when the cache claims `lru`; and
 * `with-cache` when `repository` gives a backend to cache.
 *
 * ### Examples
 * ```ts
 * // my-cache.conformance.test.ts
 * import { MemoryBackend, MemoryCache } from '@berth/adapter-memory';
 * import { cacheConformance } from '@berth/conformance-tests';
 *
 * cacheConformance({
 *   name: 'memory',
 *   createCache: ({ maxEntries, maxBytes }) => new MemoryCache({ maxEntries, maxBytes }),
 *   capabilities: { lru: true },
 *   repository: { createBackend: () => new MemoryBackend(), capabilities: new MemoryBackend().capabilities },
 * });
 * ```
 */
export function cacheConformance(options: CacheConformanceOptions): void {
  const run = cacheRunOptions(options);
  for (const group of cacheGroups) registerGroup(group, run);
  if (options.capabilities?.lru === true) registerGroup(cacheEvictionGroup, run);
  if (options.repository !== undefined) registerGroup(withCacheGroup, run);
}

import { MemoryBackend } from '@berth/adapter-memory';
import type { Cache } from '@berth/core';
import { describe, expect, it } from 'vitest';
import { cacheGroups } from '../cache-groups/cache-suite.js';
import { cacheEvictionGroup } from '../cache-groups/eviction-group.js';
import { withCacheGroup } from '../cache-groups/with-cache-group.js';
import {
  type CacheFixture,
  type CreateCacheConfig,
  cacheRunOptions,
  type WrapBackendWithCache,
} from '../cache-harness.js';
import { type CaseResult, type ConformanceGroup, runGroup } from '../harness.js';
import { brokenCaches, correctToyCache } from './broken-caches.js';

/** Runs a group the way `runGroup` runs it; the groups' contexts differ, so it is typed per call. */
type GroupRunner = (
  createCache: (config: CreateCacheConfig) => Cache,
  withCache: WrapBackendWithCache | undefined,
) => Promise<CaseResult[]>;

function runner<C>(group: ConformanceGroup<CacheFixture, C>): GroupRunner {
  return (createCache, withCache) =>
    runGroup(
      group,
      cacheRunOptions({
        name: 'broken',
        createCache,
        capabilities: { lru: true },
        repository: {
          createBackend: () => new MemoryBackend(),
          capabilities: new MemoryBackend().capabilities,
          withCache,
        },
      }),
    );
}

const groups: ReadonlyMap<string, GroupRunner> = new Map([
  ...cacheGroups.map((group) => [group.name, runner(group)] as const),
  [cacheEvictionGroup.name, runner(cacheEvictionGroup)],
  [withCacheGroup.name, runner(withCacheGroup)],
]);

// The suite proves it can fail: each deliberately broken cache or wrapper
// must be rejected by the group named beside it, while the same toy cache
// without the flaw passes every group.
describe('the cache suite rejects broken caches', () => {
  for (const [name, run] of groups) {
    it(`the toy cache without flaws passes "${name}"`, async () => {
      const failed = (await run(correctToyCache, undefined)).filter((result) => !result.passed);
      expect(failed.map((result) => `${result.name}: ${String(result.error)}`)).toStrictEqual([]);
    }, 120_000);
  }

  for (const broken of brokenCaches) {
    it(`group "${broken.group}" rejects a cache that ${broken.name}`, async () => {
      const run = groups.get(broken.group);
      if (run === undefined) throw new Error(`no group named ${broken.group}`);
      const results = await run(broken.createCache, broken.withCache);
      const failed = results.filter((result) => !result.passed).map((result) => result.name);
      expect(failed.length, `no case of "${broken.group}" failed`).toBeGreaterThan(0);
    }, 120_000);
  }
});

import { MemoryBackend, MemoryCache } from '@berth/adapter-memory';
import { cacheConformance } from '../cache-groups/cache-suite.js';

// MemoryCache is the reference cache, and withCache over the memory backend
// the reference read-through repository; both run here for the reason the
// memory backend does (see memory.conformance.test.ts).
cacheConformance({
  name: 'memory',
  createCache: ({ maxEntries, maxBytes }) => new MemoryCache({ maxEntries, maxBytes }),
  capabilities: { lru: true },
  repository: { createBackend: () => new MemoryBackend(), capabilities: new MemoryBackend().capabilities },
});

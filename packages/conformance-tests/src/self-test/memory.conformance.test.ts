import { MemoryBackend } from '@berth/adapter-memory';
import type { QueueBackend, RepositoryBackend } from '@berth/core';
import { override } from '../override.js';
import { queueConformance } from '../queue-suite.js';
import { repositoryConformance } from '../repository-suite.js';

// The memory adapter is the reference implementation, so its conformance run
// lives here beside the suite's other self-tests (a run in adapter-memory
// would make the two packages depend on each other).
repositoryConformance({
  name: 'memory',
  createBackend: () => new MemoryBackend(),
  // Another handle on the same in-process engine, so the cases that read one
  // backend's writes through another (collections()) run their second half.
  openSameStorage: (first: RepositoryBackend) =>
    override(first, { connect: async () => undefined, close: async () => undefined }),
  capabilities: {
    repository: { transactions: 'multi-collection', uniqueIndexes: true, durable: false },
    queue: { level: 'single-node', transactionalEnqueue: true, durable: false, notifications: true },
  },
});

queueConformance({
  name: 'memory',
  createBackend: () => new MemoryBackend(),
  // Another handle on the same in-process engine, so the cases that race two
  // backends on one storage (schedulers, bulk steps) run their second half too.
  openSameStorage: (first: QueueBackend) =>
    override(first, { connect: async () => undefined, close: async () => undefined }),
  capabilities: {
    repository: { transactions: 'multi-collection', uniqueIndexes: true, durable: false },
    queue: { level: 'single-node', transactionalEnqueue: true, durable: false, notifications: true },
  },
});

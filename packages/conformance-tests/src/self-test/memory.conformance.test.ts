import { MemoryBackend } from '@berth/adapter-memory';
import { queueConformance } from '../queue-suite.js';
import { repositoryConformance } from '../repository-suite.js';

// The memory adapter is the reference implementation, so its conformance run
// lives here beside the suite's other self-tests (a run in adapter-memory
// would make the two packages depend on each other).
repositoryConformance({
  name: 'memory',
  createBackend: () => new MemoryBackend(),
  capabilities: {
    repository: { transactions: 'multi-collection', uniqueIndexes: true, durable: false },
    queue: { level: 'single-node', transactionalEnqueue: true, durable: false, notifications: true },
  },
});

queueConformance({
  name: 'memory',
  createBackend: () => new MemoryBackend(),
  capabilities: {
    repository: { transactions: 'multi-collection', uniqueIndexes: true, durable: false },
    queue: { level: 'single-node', transactionalEnqueue: true, durable: false, notifications: true },
  },
});

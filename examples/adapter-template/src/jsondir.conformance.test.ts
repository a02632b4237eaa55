import { queueConformance, repositoryConformance } from '@berth/conformance-tests';
import { capabilities, cleanup, createBackend, openSameStorage } from './fixtures/test-storage.js';

// Every repository group, and the queue suite's check that queue() is UNSUPPORTED. A bulk write
// flushes every file to disk (2,500 of them in one paging case): 60 s per case, not 20.
const options = { name: 'jsondir', capabilities, createBackend, openSameStorage, cleanup, timeoutMs: 60_000 };
repositoryConformance(options);
queueConformance(options);

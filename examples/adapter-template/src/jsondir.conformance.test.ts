import { queueConformance, repositoryConformance } from '@berth/conformance-tests';
import { capabilities, cleanup, createBackend, openSameStorage } from './fixtures/test-storage.js';

// Every repository group, and the queue suite's check that queue() is UNSUPPORTED.
const options = { name: 'jsondir', capabilities, createBackend, openSameStorage, cleanup };
repositoryConformance(options);
queueConformance(options);

export { createBackendFromUrl, MemoryBackend } from './memory-backend.js';
export { MemoryRepository } from './memory-repository.js';
export { MemoryJobQueue } from './memory-job-queue.js';

export { createBackendFromUrl, MemoryBackend } from './memory-backend.js';
export { MemoryJobQueue } from './memory-job-queue.js';
export { MemoryRepository } from './memory-repository.js';

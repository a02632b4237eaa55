export { createBackendFromUrl, MemoryBackend, type MemoryBackendConfig } from './memory-backend.js';
export { MemoryRepository } from './memory-repository.js';

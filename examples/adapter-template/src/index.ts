export { JsonDirBackend, type JsonDirBackendConfig } from './jsondir-backend.js';
export { createBackendFromUrl, schemes } from './jsondir-url.js';

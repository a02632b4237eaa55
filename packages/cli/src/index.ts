// The CLI as a library: `main()` runs it in-process (the bin calls it), the
// exit codes are exported for scripts and tests, and `copyBackends()` is the
// engine of `berth copy` for programs (and the benchmark) that copy in-process.
export { CliError, EXIT, exitCodeOf } from './cli-error.js';
export { defaultCheckpointPath, redactUrl } from './copy/checkpoint.js';
export { copyBackends, DEFAULT_COPY_BATCH_SIZE } from './copy/copy-backends.js';
export type * from './copy/copy-types.js';
export { main } from './main.js';
export type { CliIo } from './output.js';

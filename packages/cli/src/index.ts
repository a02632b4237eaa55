// The CLI as a library: `main()` runs it in-process (the bin calls it), and the
// exit codes are exported for scripts and tests.
export { CliError, EXIT, exitCodeOf } from './cli-error.js';
export { main } from './main.js';
export type { CliIo } from './output.js';

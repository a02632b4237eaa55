import type { Command } from 'commander';
import { CliError, EXIT } from '../cli-error.js';
import type { CliIo } from '../output.js';

/** Adds `berth inspect` to the program. */
export function registerInspect(program: Command, _io: CliIo): void {
  program
    .command('inspect')
    .description('(being built)')
    .action(() => {
      throw new CliError('berth inspect is not built yet', EXIT.failed);
    });
}

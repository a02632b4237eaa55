import type { Command } from 'commander';
import { CliError, EXIT } from '../cli-error.js';
import type { CliIo } from '../output.js';

/** Adds `berth copy` to the program. */
export function registerCopy(program: Command, _io: CliIo): void {
  program
    .command('copy')
    .description('(being built)')
    .action(() => {
      throw new CliError('berth copy is not built yet', EXIT.failed);
    });
}

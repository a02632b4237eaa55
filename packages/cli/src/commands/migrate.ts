import type { Command } from 'commander';
import { CliError, EXIT } from '../cli-error.js';
import type { CliIo } from '../output.js';

/** Adds `berth migrate` to the program. */
export function registerMigrate(program: Command, _io: CliIo): void {
  program
    .command('migrate')
    .description('(being built)')
    .action(() => {
      throw new CliError('berth migrate is not built yet', EXIT.failed);
    });
}

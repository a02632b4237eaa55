import type { Command } from 'commander';
import { CliError, EXIT } from '../cli-error.js';
import type { CliIo } from '../output.js';

/** Adds `berth explain` to the program. */
export function registerExplain(program: Command, _io: CliIo): void {
  program
    .command('explain')
    .description('(being built)')
    .action(() => {
      throw new CliError('berth explain is not built yet', EXIT.failed);
    });
}

import type { Command } from 'commander';
import { CliError, EXIT } from '../cli-error.js';
import type { CliIo } from '../output.js';

/** Adds `berth queue` to the program. */
export function registerQueue(program: Command, _io: CliIo): void {
  program
    .command('queue')
    .description('(being built)')
    .action(() => {
      throw new CliError('berth queue is not built yet', EXIT.failed);
    });
}

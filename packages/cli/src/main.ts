import { Command, CommanderError } from 'commander';
import { EXIT, exitCodeOf } from './cli-error.js';
import { registerCopy } from './commands/copy.js';
import { registerDashboard } from './commands/dashboard.js';
import { registerExplain } from './commands/explain.js';
import { registerInspect } from './commands/inspect.js';
import { registerMigrate } from './commands/migrate.js';
import { registerQueue } from './commands/queue.js';
import { type CliIo, colorsFor, writeLine } from './output.js';

/**
 * Runs `berth` with `argv` (without the node and script paths) and resolves
 * to the exit code; it never calls `process.exit` itself.
 *
 * ### Examples
 * ```ts
 * import { main } from '@berth/cli';
 *
 * const code = await main(['inspect', 'memory:', '--json'], { stdout: process.stdout, stderr: process.stderr, env: process.env });
 * process.exitCode = code;
 * ```
 */
export async function main(argv: readonly string[], io: CliIo): Promise<number> {
  const program = new Command('berth')
    .description('Move data between Berth backends, inspect them and administer their job queues.')
    .exitOverride()
    .configureOutput({
      writeOut: (text) => io.stdout.write(text),
      writeErr: (text) => io.stderr.write(text),
    })
    .showHelpAfterError('(run with --help for usage)');
  registerCopy(program, io);
  registerInspect(program, io);
  registerQueue(program, io);
  registerExplain(program, io);
  registerMigrate(program, io);
  registerDashboard(program, io);
  try {
    await program.parseAsync([...argv], { from: 'user' });
    return EXIT.ok;
  } catch (error) {
    if (error instanceof CommanderError) {
      // --help and --version end here too, with exit code 0.
      return error.exitCode === 0 ? EXIT.ok : EXIT.usage;
    }
    const colors = colorsFor(io.stderr, io.env);
    const message = error instanceof Error ? error.message : String(error);
    writeLine(io.stderr, `${colors.red('berth:')} ${message}`);
    const hint = (error as { hint?: unknown }).hint;
    if (typeof hint === 'string') writeLine(io.stderr, colors.dim(hint));
    return exitCodeOf(error);
  }
}

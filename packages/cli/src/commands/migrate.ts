import type { Command } from 'commander';
import { withMigrateOff } from '../admin/admin-backend.js';
import { openBackend } from '../open-backend.js';
import { type CliIo, colorsFor, writeJson, writeLine } from '../output.js';

/** Adds `berth migrate` to the program. */
export function registerMigrate(program: Command, io: CliIo): void {
  program
    .command('migrate')
    .description("Apply the backend's pending schema migrations, for deployments that forbid migrating at start-up")
    .argument('<url>', 'backend URL, like sqlite:./app.db or postgres://localhost/app')
    .option('--json', 'print {"applied": [...]} instead of text')
    .addHelpText(
      'after',
      `
Applications then open the backend with migrate=false (URL ?migrate=false, or the
migrate: false config option) and fail with SCHEMA until this has run. Safe to run
from several machines at once; a second run applies nothing.

Examples:
  $ berth migrate 'postgres://deploy@db/app?schema=shop'
  $ berth migrate sqlite:./app.db --json`,
    )
    .action(async (url: string, options: { json?: boolean }) => {
      // Not connected first: a connect would migrate, or fail while migrations are pending.
      const backend = await openBackend(withMigrateOff(url), { connect: false });
      try {
        const { applied } = await backend.migrate();
        if (options.json === true) writeJson(io.stdout, { applied });
        else if (applied.length === 0) writeLine(io.stdout, 'schema is current: nothing to apply');
        else {
          const colors = colorsFor(io.stdout, io.env);
          for (const migration of applied) writeLine(io.stdout, `${colors.green('applied')} ${migration}`);
        }
      } finally {
        await backend.close();
      }
    });
}

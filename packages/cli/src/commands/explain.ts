import type { AnyQuery, Backend, QueryPlan } from '@berth/core';
import { isBerthError } from '@berth/core';
import type { Command } from 'commander';
import { openForAdmin } from '../admin/admin-backend.js';
import { parseJsonArgument } from '../admin/json-argument.js';
import { CliError, EXIT } from '../cli-error.js';
import { type CliIo, colorsFor, writeJson, writeLine } from '../output.js';

interface ExplainOptions {
  readonly orderBy?: string;
  readonly limit?: string;
  readonly json?: boolean;
}

/** Adds `berth explain` to the program. */
export function registerExplain(program: Command, io: CliIo): void {
  program
    .command('explain')
    .description('Show how a query would run: which index serves it, or a scan, and the engine plan')
    .argument('<url>', 'backend URL, like sqlite:./app.db or postgres://localhost/app')
    .argument('<collection>', 'the collection to query')
    .argument('[filter]', "the filter as JSON, in single quotes (default '{}', every document)")
    .option('--order-by <field>', 'sort by this field; append :desc for descending (createdAt:desc)')
    .option('--limit <n>', 'a limit, as the application would pass (an index walk that a limit stops counts as served)')
    .option('--json', 'print {"strategy", "index", "detail"} as JSON')
    .addHelpText(
      'after',
      `
The filter is the repository filter language in JSON. Write a Date as
{"$date":"2026-01-01T00:00:00Z"} (ISO 8601). The query runs with the indexes the
engine keeps for the collection (as \`berth inspect\` lists them).

Examples:
  $ berth explain sqlite:./app.db users '{"email":"ada@example.com"}'
  $ berth explain postgres://localhost/app orders '{"placedAt":{"$gte":{"$date":"2026-01-01T00:00:00Z"}}}' --order-by placedAt:desc --limit 20`,
    )
    .action(async (url: string, collection: string, filter: string | undefined, options: ExplainOptions) => {
      const query = explainQuery(filter, options);
      const backend = await openForAdmin(url);
      try {
        const plan = await explainOn(backend, collection, query);
        if (options.json === true) writeJson(io.stdout, plan);
        else {
          const colors = colorsFor(io.stdout, io.env);
          writeLine(
            io.stdout,
            plan.strategy === 'index' ? colors.green(`index ${plan.index ?? ''}`.trim()) : colors.yellow('scan'),
          );
          writeLine(io.stdout, `plan: ${plan.detail}`);
        }
      } finally {
        await backend.close();
      }
    });
}

function explainQuery(filter: string | undefined, options: ExplainOptions): AnyQuery {
  const where = filter === undefined ? undefined : parseJsonArgument(filter, 'the filter');
  if (where !== undefined && (typeof where !== 'object' || where === null || Array.isArray(where))) {
    throw new CliError('the filter must be a JSON object, like \'{"status":"active"}\'', EXIT.usage);
  }
  const [field, direction, extra] = options.orderBy?.split(':') ?? [];
  if (extra !== undefined || (direction !== undefined && direction !== 'asc' && direction !== 'desc') || field === '') {
    throw new CliError(
      `--order-by must be a field, optionally with :asc or :desc, got ${JSON.stringify(options.orderBy)}`,
      EXIT.usage,
    );
  }
  const limit = options.limit === undefined ? undefined : Number(options.limit);
  if (limit !== undefined && (!/^\d+$/.test(options.limit ?? '') || !Number.isSafeInteger(limit) || limit < 1)) {
    throw new CliError(`--limit must be a positive whole number, got ${JSON.stringify(options.limit)}`, EXIT.usage);
  }
  return {
    ...(where === undefined ? {} : { where: where as AnyQuery['where'] }),
    ...(field === undefined ? {} : { orderBy: { field, direction: direction === 'desc' ? 'desc' : 'asc' } }),
    ...(limit === undefined ? {} : { limit }),
  };
}

/** Explains `query` on a repository opened with the indexes the engine keeps for `collection`. */
async function explainOn(backend: Backend, collection: string, query: AnyQuery): Promise<QueryPlan> {
  const info = (await backend.collections()).find(({ name }) => name === collection);
  if (info === undefined) {
    throw new CliError(
      `${JSON.stringify(collection)} holds no documents and has no indexes`,
      EXIT.failed,
      'run `berth inspect <url>` to list the collections',
    );
  }
  try {
    return await backend.repository(collection, { indexes: info.indexes }).explain(query);
  } catch (error) {
    if (!isBerthError(error, 'VALIDATION')) throw error;
    const path = (error as { path?: unknown }).path;
    const where = typeof path === 'string' && path !== '' ? ` (at ${path})` : '';
    throw new CliError(
      `invalid query${where}: ${error.message}`,
      EXIT.usage,
      'the filter language is described in docs/semantics.md of Berth',
    );
  }
}

import type { Command } from 'commander';
import { openForAdmin } from '../admin/admin-backend.js';
import { describeIndex, humanBytes } from '../admin/format.js';
import { gatherInspectReport, type InspectReport } from '../admin/inspect-report.js';
import { formatTable } from '../admin/table.js';
import { type CliIo, type Colors, colorsFor, writeJson, writeLine } from '../output.js';

/** Adds `berth inspect` to the program. */
export function registerInspect(program: Command, io: CliIo): void {
  program
    .command('inspect')
    .description('Show a backend: health and latency, capabilities, collections (documents, indexes, size) and queues')
    .argument('<url>', 'backend URL, like sqlite:./app.db or postgres://localhost/app')
    .option('--json', 'print one JSON object instead of text')
    .addHelpText(
      'after',
      `
The database is opened with migrate=false: inspecting never changes it. When
migrations are pending it exits 5 and says to run \`berth migrate <url>\`.

Examples:
  $ berth inspect sqlite:./app.db
  $ berth inspect 'postgres://localhost/app?schema=shop' --json | jq '.collections[].count'`,
    )
    .action(async (url: string, options: { json?: boolean }) => {
      const backend = await openForAdmin(url);
      try {
        const report = await gatherInspectReport(backend, undefined);
        if (options.json === true) writeJson(io.stdout, inspectJson(report));
        else for (const line of renderInspectReport(report, colorsFor(io.stdout, io.env))) writeLine(io.stdout, line);
      } finally {
        await backend.close();
      }
    });
}

/** The report as text lines: aligned tables, the same words on a TTY and off it (colours only on a TTY). */
function renderInspectReport(report: InspectReport, colors: Colors): string[] {
  const { health, capabilities } = report;
  const state = health.ok ? colors.green('ok') : colors.red(`unhealthy: ${health.message ?? 'no answer'}`);
  const queueLevel = capabilities.queue.level;
  const lines = formatTable([
    ['backend', report.kind],
    ['health', `${state} (${health.latencyMs.toFixed(1)} ms)`],
    [
      'documents',
      `transactions ${capabilities.repository.transactions}, unique indexes ${yesNo(capabilities.repository.uniqueIndexes)}, durable ${yesNo(capabilities.repository.durable)}`,
    ],
    [
      'queues',
      queueLevel === 'none'
        ? 'none'
        : `${queueLevel}, durable ${yesNo(capabilities.queue.durable)}, transactional enqueue ${yesNo(capabilities.queue.transactionalEnqueue)}`,
    ],
  ]);
  lines.push('');
  if (report.collections.length === 0) lines.push('no collections');
  else {
    const rows = report.collections.map((collection) => [
      collection.name,
      String(collection.count),
      humanBytes(collection.approximateBytes),
      collection.indexes.length === 0 ? '-' : collection.indexes.map(describeIndex).join(', '),
    ]);
    lines.push(...formatTable([['COLLECTION', 'DOCUMENTS', 'SIZE', 'INDEXES'], ...rows], colors.bold));
  }
  if (capabilities.queue.level !== 'none') {
    lines.push('');
    if (report.queues.length === 0) lines.push('no queues');
    else {
      const rows = report.queues.map(({ name, stats }) => [
        name,
        String(stats.waiting),
        String(stats.active),
        String(stats.completed),
        String(stats.dead),
        String(stats.cancelled),
      ]);
      lines.push(
        ...formatTable([['QUEUE', 'WAITING', 'ACTIVE', 'COMPLETED', 'DEAD', 'CANCELLED'], ...rows], colors.bold),
      );
    }
  }
  return lines;
}

function yesNo(value: boolean): string {
  return value ? 'yes' : 'no';
}

/** The report for `--json`: every key always present (an unknown size is `null`). */
function inspectJson(report: InspectReport): unknown {
  return {
    ...report,
    collections: report.collections.map((collection) => ({
      ...collection,
      approximateBytes: collection.approximateBytes ?? null,
    })),
  };
}

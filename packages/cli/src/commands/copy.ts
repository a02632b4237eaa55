import { existsSync } from 'node:fs';
import { type Backend, type IndexDefinition, isBerthError } from '@berth/core';
import { type Command, InvalidArgumentError } from 'commander';
import { CliError, EXIT } from '../cli-error.js';
import { defaultCheckpointPath, redactUrl } from '../copy/checkpoint.js';
import { copyBackends, DEFAULT_COPY_BATCH_SIZE } from '../copy/copy-backends.js';
import { copyProgressView } from '../copy/copy-progress.js';
import type { CopyReport, TargetSchema } from '../copy/copy-types.js';
import { openDryRunSource, openDryRunTarget, refuseMissingSource } from '../copy/dry-run-open.js';
import { sameQueue } from '../copy/queue-digest.js';
import { openBackend } from '../open-backend.js';
import { type CliIo, colorsFor, writeJson, writeLine } from '../output.js';

interface CopyCommandOptions {
  readonly collections?: string[] | undefined;
  readonly queues?: boolean | undefined;
  readonly batchSize: number;
  readonly checkpoint?: string | undefined;
  readonly dryRun?: boolean | undefined;
  readonly verify: boolean;
  readonly json?: boolean | undefined;
}

/** Adds `berth copy` to the program. */
export function registerCopy(program: Command, io: CliIo): void {
  program
    .command('copy')
    .summary('copy every collection (and optionally queue) from one backend to another')
    .description(
      'Copies collections from <from-url> to <to-url> in batches, keeping ids, versions and timestamps, and declaring ' +
        "the source's indexes on the target. Target collections must be empty. Progress is checkpointed after every " +
        'batch: after an interruption (Ctrl-C, a crash), run the same command again to resume. Ends by comparing ' +
        'counts and SHA-256 checksums of every collection (and queue) on both sides.',
    )
    .argument('<from-url>', 'the backend to read (sqlite:./app.db, postgres://…, redis://…, s3://…, file:./data.json)')
    .argument('<to-url>', 'the backend to write')
    .option('--collections <names>', 'only these collections (comma-separated)', parseList)
    .option('--queues', "also copy every queue's waiting (delayed included) and dead jobs, and its schedules")
    .option('--batch-size <n>', 'documents per batch (1–10000)', parseBatchSize, DEFAULT_COPY_BATCH_SIZE)
    .option('--checkpoint <path>', 'checkpoint file (default: berth-copy-<hash of the URLs>.json in this directory)')
    .option(
      '--dry-run',
      'read only, on both sides: print what would be copied and whether each target is empty; migrates nothing ' +
        '(a source with pending migrations is exit 5)',
    )
    .option('--no-verify', 'skip the final count and checksum comparison')
    .option('--json', 'print the final report as JSON on stdout')
    .addHelpText(
      'after',
      '\nExit codes: 0 copied and verified, 1 failed (a target not empty, an engine error), 2 usage, 3 unreachable,\n' +
        '4 verification failed, 5 schema needs `berth migrate`, 130 interrupted (run again to resume).\n\n' +
        'Example:\n  berth copy sqlite:./app.db postgres://localhost/app --batch-size 1000',
    )
    .action((from: string, to: string, options: CopyCommandOptions) => runCopy(io, from, to, options));
}

function parseList(value: string): string[] {
  const names = value
    .split(',')
    .map((name) => name.trim())
    .filter((name) => name !== '');
  if (names.length === 0) throw new InvalidArgumentError('list at least one collection name.');
  return names;
}

function parseBatchSize(value: string): number {
  const size = Number(value);
  if (!/^\d+$/.test(value) || size < 1 || size > 10_000) {
    throw new InvalidArgumentError('must be an integer from 1 to 10000.');
  }
  return size;
}

async function runCopy(io: CliIo, fromUrl: string, toUrl: string, options: CopyCommandOptions): Promise<void> {
  const source = redactUrl(fromUrl);
  const target = redactUrl(toUrl);
  if (source === target) throw new CliError('<from-url> and <to-url> are the same backend', EXIT.usage);
  const checkpointPath = options.checkpoint ?? defaultCheckpointPath(fromUrl, toUrl);
  const backends: Backend[] = [];
  const view = copyProgressView(io, colorsFor(io.stderr, io.env));
  try {
    let targetSchema: TargetSchema | undefined;
    if (options.dryRun === true) {
      // Opened without migrating: a dry run writes nothing, to either side.
      backends.push(await openDryRunSource(fromUrl));
      const opened = await openDryRunTarget(toUrl);
      backends.push(opened.backend);
      targetSchema = opened.schema;
    } else {
      refuseMissingSource(fromUrl);
      backends.push(await openBackend(fromUrl));
      backends.push(await openBackend(toUrl));
    }
    const [from, to] = backends as [Backend, Backend];
    const report = await copyBackends({
      from,
      to,
      source,
      target,
      collections: options.collections,
      queues: options.queues,
      batchSize: options.batchSize,
      checkpointPath,
      dryRun: options.dryRun,
      targetSchema,
      verify: options.verify,
      signal: io.signal,
      onProgress: view.onProgress,
    });
    view.stop();
    printReport(io, report, options.json === true);
    if (report.mismatches.length > 0) {
      throw new CliError(
        `verification failed:\n  ${report.mismatches.join('\n  ')}`,
        EXIT.verification,
        'the target differs from the source: was either written to during the copy? Empty the target and copy again.',
      );
    }
  } catch (error) {
    view.stop();
    if (isBerthError(error, 'ABORTED') && io.signal?.aborted === true) {
      if (!existsSync(checkpointPath)) throw new CliError('interrupted before anything was copied', EXIT.interrupted);
      throw new CliError(
        `interrupted; progress is saved in ${checkpointPath}`,
        EXIT.interrupted,
        'run the same command again to resume where it stopped',
      );
    }
    throw error;
  } finally {
    await Promise.all(backends.map((backend) => backend.close()));
  }
}

function describeIndex(index: IndexDefinition): string {
  const fields =
    'fields' in index
      ? index.fields.map((part) => `${part.field}:${part.type}`).join('+')
      : `${index.field}:${index.type}`;
  return index.unique === true ? `${fields} unique` : fields;
}

function printReport(io: CliIo, report: CopyReport, json: boolean): void {
  if (json) {
    writeJson(io.stdout, report);
    return;
  }
  const colors = colorsFor(io.stdout, io.env);
  for (const collection of report.collections) {
    const indexes =
      collection.indexes.length === 0 ? 'no indexes' : `indexes ${collection.indexes.map(describeIndex).join(', ')}`;
    if (report.dryRun) {
      const targetState =
        collection.targetCountBefore === undefined
          ? 'target not countable before migrating'
          : collection.targetCountBefore === 0
            ? 'target empty'
            : `target holds ${collection.targetCountBefore} documents`;
      writeLine(
        io.stdout,
        `${colors.bold(collection.name)}: ${collection.sourceCount} documents, ${indexes}; ${targetState}`,
      );
      continue;
    }
    const verification = collection.verification;
    const verified =
      verification === undefined
        ? 'not verified'
        : verification.source.checksum === verification.target.checksum &&
            verification.source.count === verification.target.count
          ? colors.green(
              `verified (${verification.target.count} documents, sha256 ${verification.target.checksum.slice(0, 16)}…)`,
            )
          : colors.red('MISMATCH');
    const resumed = collection.resumed ? ' (resumed)' : '';
    writeLine(
      io.stdout,
      `${colors.bold(collection.name)}: ${collection.copied} documents copied${resumed}, ${indexes}; ${verified}`,
    );
  }
  for (const queue of report.queues) {
    if (report.dryRun) {
      const targetState =
        queue.targetContents === undefined
          ? 'target not countable before migrating'
          : queue.targetContents === 0
            ? 'target empty'
            : `target holds ${queue.targetContents} jobs and schedules`;
      writeLine(
        io.stdout,
        `queue ${colors.bold(queue.name)}: ${queue.waiting.listed} waiting, ${queue.dead.listed} dead; ${targetState}`,
      );
      continue;
    }
    const { waiting, dead, schedules, verification } = queue;
    const verified =
      verification === undefined
        ? 'not verified'
        : sameQueue(verification.source, verification.target)
          ? colors.green(
              `verified (${verification.target.waiting} waiting, ${verification.target.dead} dead, ` +
                `${verification.target.schedules} schedules, jobs checksum ${verification.target.jobsChecksum.slice(0, 16)}…)`,
            )
          : colors.red('MISMATCH');
    writeLine(
      io.stdout,
      `queue ${colors.bold(queue.name)}: ${waiting.imported} waiting and ${dead.imported} dead jobs imported ` +
        `(${waiting.skipped + dead.skipped} already there), ${schedules.copied} schedules copied (${schedules.existing} already there); ${verified}`,
    );
  }
  if (report.targetSchema !== undefined) writeLine(io.stdout, describeTargetSchema(report.targetSchema));
  if (report.dryRun) writeLine(io.stdout, colors.dim('dry run: nothing was written'));
}

/** What the real copy would do first to a target whose schema is not set up. */
function describeTargetSchema({ exists, pendingMigrations, empty }: TargetSchema): string {
  if (!exists) return 'target does not exist yet: the copy would create it and set up its schema';
  const pending = `${pendingMigrations.length} pending: ${pendingMigrations.join(', ')}`;
  if (empty) return `target has no Berth schema yet: the copy would set it up (migrations ${pending})`;
  return `target schema is behind: the copy would migrate it first (migrations ${pending}); its contents cannot be counted before migrating`;
}

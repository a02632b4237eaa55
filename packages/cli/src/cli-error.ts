import { isBerthError } from '@berth/core';

/**
 * The exit codes of `berth`, documented in the package README.
 *
 * ### Examples
 * ```ts
 * import { EXIT } from '@berth/cli';
 *
 * const failed = (code: number) => code !== EXIT.ok;
 * ```
 */
export const EXIT = {
  /** The command did what it was asked. */
  ok: 0,
  /** The operation failed (an engine refused it, a job or document was not found…). */
  failed: 1,
  /** Bad arguments: unknown command or option, a malformed URL, filter or duration. */
  usage: 2,
  /** An engine could not be reached (connection refused, timeout). */
  unreachable: 3,
  /** `berth copy` finished but the target's counts or checksums differ from the source's. */
  verification: 4,
  /** The engine's schema needs `berth migrate` (or a newer Berth). */
  schema: 5,
  /** Interrupted by SIGINT or SIGTERM; `berth copy` resumes from its checkpoint when run again. */
  interrupted: 130,
} as const;

/**
 * An error the CLI reports as one line (and a hint) with a chosen exit code.
 *
 * ### Examples
 * ```ts
 * import { CliError, EXIT } from '@berth/cli';
 *
 * throw new CliError('--older-than must look like 7d, 12h or 30m', EXIT.usage);
 * ```
 */
export class CliError extends Error {
  constructor(
    message: string,
    readonly exitCode: number,
    readonly hint?: string,
  ) {
    super(message);
    this.name = 'CliError';
  }
}

/**
 * The exit code for any error a command throws: a {@link CliError}'s own,
 * else by the Berth error code (`VALIDATION` 2, `CONNECTION`/`TIMEOUT` 3,
 * `SCHEMA` 5, `ABORTED` 130), else 1.
 *
 * ### Examples
 * ```ts
 * import { EXIT, exitCodeOf } from '@berth/cli';
 * import { ValidationError } from '@berth/core';
 *
 * console.log(exitCodeOf(new ValidationError('bad filter')) === EXIT.usage); // true
 * ```
 */
export function exitCodeOf(error: unknown): number {
  if (error instanceof CliError) return error.exitCode;
  if (isBerthError(error, 'VALIDATION')) return EXIT.usage;
  if (isBerthError(error, 'CONNECTION') || isBerthError(error, 'TIMEOUT')) return EXIT.unreachable;
  if (isBerthError(error, 'SCHEMA')) return EXIT.schema;
  if (isBerthError(error, 'ABORTED')) return EXIT.interrupted;
  return EXIT.failed;
}

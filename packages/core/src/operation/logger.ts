/**
 * Where Berth reports what it cannot throw to a caller: a hook or listener
 * that threw, a worker error nobody handles, a failed background save. Every
 * place that reports such things takes a `logger` in its config or options;
 * without one it uses {@link consoleLogger}. Nothing in Berth sets a logger
 * for the whole process.
 *
 * `message` is one line of plain text; `details` holds the structured parts
 * (`error`, the thrown value, and fields such as `queue` or `jobId`), so a
 * structured logger (pino, winston, OpenTelemetry logs) can keep them apart.
 *
 * ### Examples
 * ```ts
 * import type { BerthLogger } from '@berth/core';
 *
 * const lines: string[] = [];
 * const logger: BerthLogger = {
 *   warn: (message, details) => lines.push(`WARN ${message} ${JSON.stringify(details ?? {})}`),
 *   error: (message, details) => lines.push(`ERROR ${message} ${String(details?.error)}`),
 * };
 * ```
 */
export interface BerthLogger {
  warn(message: string, details?: LogDetails): void;
  error(message: string, details?: LogDetails): void;
}

/**
 * The structured part of a log line: `error` is the value that was thrown,
 * the other fields name what it concerns (`queue`, `jobId`, `collection`…).
 *
 * ### Examples
 * ```ts
 * import type { LogDetails } from '@berth/core';
 *
 * const details: LogDetails = { error: new Error('disk full'), queue: 'emails', jobId: 'j1' };
 * ```
 */
export interface LogDetails {
  readonly error?: unknown;
  readonly [field: string]: unknown;
}

function write(print: (...parts: unknown[]) => void, message: string, details: LogDetails | undefined): void {
  if (details === undefined) {
    print(message);
    return;
  }
  const { error, ...fields } = details;
  const parts: unknown[] = [message];
  if ('error' in details) parts.push(error);
  if (Object.keys(fields).length > 0) parts.push(fields);
  print(...parts);
}

/**
 * The default logger: `console.warn` and `console.error`, with the message
 * first, then the error, then the other fields.
 *
 * ### Examples
 * ```ts
 * import { consoleLogger } from '@berth/core';
 *
 * consoleLogger.warn('berth: cache is slow', { collection: 'players' });
 * ```
 */
export const consoleLogger: BerthLogger = {
  warn: (message, details) => write(console.warn, message, details),
  error: (message, details) => write(console.error, message, details),
};

import pc from 'picocolors';

/**
 * The streams and environment a command writes to, and the signal that asks
 * it to stop; tests pass their own.
 *
 * ### Examples
 * ```ts
 * import { type CliIo, main } from '@berth/cli';
 *
 * const io: CliIo = { stdout: process.stdout, stderr: process.stderr, env: process.env, signal: AbortSignal.timeout(60_000) };
 * process.exitCode = await main(['copy', 'sqlite:./app.db', 'memory:', '--dry-run'], io);
 * ```
 */
export interface CliIo {
  readonly stdout: NodeJS.WritableStream & {
    readonly isTTY?: boolean | undefined;
    readonly columns?: number | undefined;
  };
  readonly stderr: NodeJS.WritableStream & { readonly isTTY?: boolean | undefined };
  readonly env: Readonly<Record<string, string | undefined>>;
  /** Fires when the user asks to stop (bin.ts aborts it on SIGINT and SIGTERM); long commands stop cleanly. */
  readonly signal?: AbortSignal | undefined;
}

/** Colours for one stream: on only when it is a TTY and neither NO_COLOR nor TERM=dumb is set (FORCE_COLOR forces them). */
export type Colors = ReturnType<typeof pc.createColors>;

export function colorsFor(stream: CliIo['stdout'], env: CliIo['env']): Colors {
  const forced = env.FORCE_COLOR !== undefined && env.FORCE_COLOR !== '0';
  const off = (env.NO_COLOR !== undefined && env.NO_COLOR !== '') || env.TERM === 'dumb';
  return pc.createColors(forced || (!off && stream.isTTY === true));
}

/** Writes one line. */
export function writeLine(stream: NodeJS.WritableStream, line = ''): void {
  stream.write(`${line}\n`);
}

/** Writes a value as JSON (Dates as ISO strings), one document per line when `pretty` is false. */
export function writeJson(stream: NodeJS.WritableStream, value: unknown, pretty = true): void {
  stream.write(`${JSON.stringify(value, null, pretty ? 2 : undefined)}\n`);
}

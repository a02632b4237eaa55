import { randomBytes } from 'node:crypto';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Backend } from '@berth/core';
import { createDashboard } from '@berth/dashboard';
import type { Command } from 'commander';
import { openForAdmin } from '../admin/admin-backend.js';
import { CliError, EXIT } from '../cli-error.js';
import { type CliIo, colorsFor, writeLine } from '../output.js';

interface DashboardCommandOptions {
  readonly queueUrl?: string;
  readonly host: string;
  readonly port: string;
  readonly token?: string;
  readonly readOnly?: boolean;
}

/** Hosts that only this machine reaches. */
const LOOPBACK = new Set(['127.0.0.1', '::1', 'localhost']);

function portOf(text: string): number {
  const port = Number(text);
  if (!/^\d+$/.test(text) || port > 65_535) {
    throw new CliError(`--port must be a port number from 0 to 65535, got ${JSON.stringify(text)}`, EXIT.usage);
  }
  return port;
}

/** Adds `berth dashboard` to the program. */
export function registerDashboard(program: Command, io: CliIo): void {
  program
    .command('dashboard')
    .description('Serve the web dashboard: queues (retry, cancel, live updates), collections, documents')
    .argument('<url>', 'backend URL, like sqlite:./app.db or postgres://localhost/app')
    .option('--queue-url <url>', 'take the queues from this backend instead (say, documents in S3 and jobs in Redis)')
    .option(
      '--host <host>',
      'the address to listen on; anything but loopback needs --token or --read-only',
      '127.0.0.1',
    )
    .option('--port <port>', 'the port to listen on (0: any free port)', '4000')
    .option(
      '--token <token>',
      'the token that allows retry and cancel (default: a random one, printed in the sign-in link)',
    )
    .option('--read-only', 'show everything, change nothing')
    .addHelpText(
      'after',
      `
It listens on 127.0.0.1 unless --host says otherwise, prints a sign-in link
that carries the token (the browser keeps a session cookie, not the token),
and runs until Ctrl-C or SIGTERM, then exits 0. The backend is opened with
migrate=false: run \`berth migrate <url>\` if it says so.

Examples:
  $ berth dashboard sqlite:./app.db
  $ berth dashboard s3://bucket/app.json --queue-url redis://localhost:6379 --read-only
  $ BERTH_DASHBOARD_TOKEN=… berth dashboard postgres://localhost/app --host 0.0.0.0 --token "$BERTH_DASHBOARD_TOKEN"`,
    )
    .action(async (url: string, options: DashboardCommandOptions) => {
      const port = portOf(options.port);
      if (!LOOPBACK.has(options.host) && options.token === undefined && options.readOnly !== true) {
        throw new CliError(
          `--host ${options.host} reaches beyond this machine: give --token (and keep it secret) or --read-only`,
          EXIT.usage,
        );
      }
      const generated = options.readOnly !== true && options.token === undefined;
      const token = options.readOnly === true ? undefined : (options.token ?? randomBytes(24).toString('base64url'));
      const backend = await openForAdmin(url);
      let queueBackend: Backend | undefined;
      try {
        queueBackend = options.queueUrl === undefined ? undefined : await openForAdmin(options.queueUrl);
        await serve(io, {
          backend,
          queueBackend,
          token,
          generated,
          readOnly: options.readOnly === true,
          host: options.host,
          port,
        });
      } finally {
        await queueBackend?.close();
        await backend.close();
      }
    });
}

async function serve(
  io: CliIo,
  options: {
    readonly backend: Backend;
    readonly queueBackend: Backend | undefined;
    readonly token: string | undefined;
    /** Whether the token was made here (and may be printed): one given on the command line is not echoed. */
    readonly generated: boolean;
    readonly readOnly: boolean;
    readonly host: string;
    readonly port: number;
  },
): Promise<void> {
  const dashboard = createDashboard({
    backend: options.backend,
    queueBackend: options.queueBackend,
    token: options.token,
    readOnly: options.readOnly,
  });
  const server = createServer(dashboard.handle);
  await new Promise<void>((resolve, reject) => {
    server.once('error', (error: NodeJS.ErrnoException) =>
      reject(
        error.code === 'EADDRINUSE'
          ? new CliError(`port ${options.port} is in use on ${options.host}`, EXIT.usage, 'choose another with --port')
          : error,
      ),
    );
    server.listen(options.port, options.host, resolve);
  });
  const address = server.address() as AddressInfo;
  const host = address.family === 'IPv6' ? `[${address.address}]` : address.address;
  const origin = `http://${host}:${address.port}`;
  const colors = colorsFor(io.stderr, io.env);
  writeLine(
    io.stderr,
    `berth dashboard on ${colors.bold(origin)}${options.readOnly ? ' (read-only)' : ''}; Ctrl-C stops`,
  );
  if (options.token !== undefined && options.generated) {
    writeLine(
      io.stderr,
      `sign in (allows retry and cancel): ${origin}/login?token=${encodeURIComponent(options.token)}`,
    );
  } else if (options.token !== undefined) {
    writeLine(io.stderr, `sign in with the --token value at ${origin}/login to retry and cancel`);
  }
  // The CLI is the application here: it owns the process's signals while the server runs.
  await new Promise<void>((resolve) => {
    const stop = () => {
      process.removeListener('SIGINT', stop);
      process.removeListener('SIGTERM', stop);
      resolve();
    };
    process.once('SIGINT', stop);
    process.once('SIGTERM', stop);
  });
  dashboard.close();
  server.closeAllConnections();
  await new Promise((resolve) => server.close(resolve));
}

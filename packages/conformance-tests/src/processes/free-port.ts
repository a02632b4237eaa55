import { once } from 'node:events';
import { createServer } from 'node:net';

/**
 * A loopback port nothing listens on right now, for a test that starts a
 * server of its own (a private PostgreSQL, redis-server or S3 gateway).
 *
 * ### Examples
 * ```ts
 * import { freePort } from '@berth/conformance-tests/processes';
 *
 * const port = await freePort();
 * const url = `redis://127.0.0.1:${port}`; // start redis-server --port <port> for the test
 * ```
 */
export async function freePort(): Promise<number> {
  const server = createServer();
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const address = server.address();
  server.close();
  await once(server, 'close');
  if (address === null || typeof address === 'string') throw new Error('no port');
  return address.port;
}

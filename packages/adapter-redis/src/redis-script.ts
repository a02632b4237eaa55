import { createHash } from 'node:crypto';
import type { Cluster, Redis } from 'ioredis';

/** A Lua script and its SHA1, for EVALSHA. */
export interface RedisScript {
  readonly lua: string;
  readonly sha: string;
}

/** A script of `lua`, with its SHA1 computed once. */
export function defineScript(lua: string): RedisScript {
  return { lua, sha: createHash('sha1').update(lua).digest('hex') };
}

/**
 * Runs a script: EVALSHA, and EVAL once when the server does not have the
 * script yet (a restart or SCRIPT FLUSH forgets it). Not ioredis's
 * `defineCommand`, which would add a method to a client the application
 * may have passed in.
 */
export async function runScript(
  client: Redis | Cluster,
  script: RedisScript,
  keys: readonly string[],
  args: readonly (string | number | Buffer)[],
): Promise<unknown> {
  // One array, not spread arguments: a bulk write passes hundreds of thousands of them, which would overflow the stack.
  const head = [keys.length, ...keys];
  try {
    return await client.call('EVALSHA', [script.sha, ...head, ...args]);
  } catch (error) {
    if (!String((error as Error)?.message).startsWith('NOSCRIPT')) throw error;
    return client.call('EVAL', [script.lua, ...head, ...args]);
  }
}

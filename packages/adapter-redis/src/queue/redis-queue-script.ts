import type { Cluster, Redis } from 'ioredis';
import { defineScript, type RedisScript, runScript } from '../redis-script.js';

/**
 * A queue's Lua script: its one key, the queue's key base, routes it to the
 * queue's slot (on a cluster) and the rest is ARGV. Run as every Berth
 * script is (EVALSHA, then EVAL on NOSCRIPT: after a restart, or on a
 * cluster node that never ran it).
 */
export class RedisQueueScript {
  private readonly script: RedisScript;

  constructor(readonly source: string) {
    this.script = defineScript(source);
  }

  run(client: Redis | Cluster, base: string, args: readonly (string | number)[]): Promise<unknown> {
    return runScript(client, this.script, [base], args);
  }
}

import type { Cluster, Redis } from 'ioredis';
import { defineScript, runScript } from './redis-script.js';

/**
 * The one script every write goes through: a program of steps in ARGV, each
 * naming its keys by their position in KEYS (so every key is declared, as
 * Redis Cluster requires). It runs in three passes, and writes only in the
 * last, so a refused commit leaves nothing behind (Redis does not roll a
 * script back):
 *
 * 1. `C key field expected`: the hash field (missing: `0`) must still hold
 *    what the writer read (a document's version, a collection's write counter
 *    or index generation); otherwise `{'conflict', key, field}`.
 *    `F key member id` records a unique value the commit frees.
 * 2. `U key member id field`: the unique value must be free, held by `id`,
 *    or freed by this commit, and claimed once; otherwise
 *    `{'exists', field, id}`.
 * 3. Applies: `F` (HDEL while `id` holds it), `U` (HSET), `SA`/`SR key id`
 *    (equality sets), `ZA key score member` / `ZR key member` (range
 *    indexes), `P doc ids id json version created updated` (HSET and
 *    ZADD), `D doc ids id` (DEL and ZREM), `N meta` (the write counter),
 *    `M meta specs generation` (index declarations).
 *
 * Documents arrive as JSON text made by core's stringifyDocument and are
 * stored as they came: the script never decodes a document (Lua's cjson
 * would lose integers past 2^53 and -0), and never builds code from data.
 */
const COMMIT_SCRIPT = `
local width = { C = 4, F = 4, U = 5, SA = 3, SR = 3, ZA = 4, ZR = 3, P = 8, D = 4, N = 2, M = 4 }
local n = #ARGV
local function key(position) return KEYS[tonumber(position)] end
local freed = {}
local i = 1
while i <= n do
  local op = ARGV[i]
  local step = width[op]
  if step == nil then return redis.error_reply('BERTH_SCRIPT unknown step') end
  if op == 'C' then
    local current = redis.call('HGET', key(ARGV[i + 1]), ARGV[i + 2]) or '0'
    if current ~= ARGV[i + 3] then return { 'conflict', ARGV[i + 1], ARGV[i + 2] } end
  elseif op == 'F' then
    freed[ARGV[i + 1] .. '\\0' .. ARGV[i + 2]] = ARGV[i + 3]
  end
  i = i + step
end
local claimed = {}
i = 1
while i <= n do
  local op = ARGV[i]
  if op == 'U' then
    local slot = ARGV[i + 1] .. '\\0' .. ARGV[i + 2]
    local id = ARGV[i + 3]
    if claimed[slot] ~= nil and claimed[slot] ~= id then return { 'exists', ARGV[i + 4], id } end
    claimed[slot] = id
    local holder = redis.call('HGET', key(ARGV[i + 1]), ARGV[i + 2])
    if holder and holder ~= id and freed[slot] ~= holder then return { 'exists', ARGV[i + 4], id } end
  end
  i = i + width[op]
end
i = 1
while i <= n do
  local op = ARGV[i]
  if op == 'F' then
    if redis.call('HGET', key(ARGV[i + 1]), ARGV[i + 2]) == ARGV[i + 3] then
      redis.call('HDEL', key(ARGV[i + 1]), ARGV[i + 2])
    end
  elseif op == 'U' then
    redis.call('HSET', key(ARGV[i + 1]), ARGV[i + 2], ARGV[i + 3])
  elseif op == 'SA' then
    redis.call('SADD', key(ARGV[i + 1]), ARGV[i + 2])
  elseif op == 'SR' then
    redis.call('SREM', key(ARGV[i + 1]), ARGV[i + 2])
  elseif op == 'ZA' then
    redis.call('ZADD', key(ARGV[i + 1]), ARGV[i + 2], ARGV[i + 3])
  elseif op == 'ZR' then
    redis.call('ZREM', key(ARGV[i + 1]), ARGV[i + 2])
  elseif op == 'P' then
    redis.call('HSET', key(ARGV[i + 1]), 'j', ARGV[i + 4], 'v', ARGV[i + 5], 'c', ARGV[i + 6], 'u', ARGV[i + 7])
    redis.call('ZADD', key(ARGV[i + 2]), 0, ARGV[i + 3])
  elseif op == 'D' then
    redis.call('DEL', key(ARGV[i + 1]))
    redis.call('ZREM', key(ARGV[i + 2]), ARGV[i + 3])
  elseif op == 'N' then
    redis.call('HINCRBY', key(ARGV[i + 1]), 'n', 1)
  elseif op == 'M' then
    redis.call('HSET', key(ARGV[i + 1]), 's', ARGV[i + 2], 'g', ARGV[i + 3])
  end
  i = i + width[op]
end
return { 'ok' }
`;

const COMMIT = defineScript(COMMIT_SCRIPT);

/** What the commit script answered. */
export type CommitReply =
  | { readonly kind: 'ok' }
  | { readonly kind: 'conflict'; readonly key: string; readonly field: string }
  | { readonly kind: 'exists'; readonly field: string; readonly id: string };

/**
 * Builds one call of the commit script: keys are declared once each and
 * named by position, values go to ARGV as they are.
 */
export class CommitProgram {
  readonly keys: string[] = [];
  readonly args: string[] = [];
  private readonly positions = new Map<string, string>();

  key(name: string): string {
    let position = this.positions.get(name);
    if (position === undefined) {
      this.keys.push(name);
      position = String(this.keys.length);
      this.positions.set(name, position);
    }
    return position;
  }

  step(op: string, ...args: string[]): void {
    this.args.push(op, ...args);
  }

  get empty(): boolean {
    return this.args.length === 0;
  }

  async run(client: Redis | Cluster): Promise<CommitReply> {
    const reply = await runScript(client, COMMIT, this.keys, this.args);
    const [kind, first, second] = reply as [string, string | undefined, string | undefined];
    if (kind === 'conflict') return { kind, key: this.keys[Number(first) - 1] ?? '', field: second ?? '' };
    if (kind === 'exists') return { kind, field: first ?? '', id: second ?? '' };
    return { kind: 'ok' };
  }
}

// The Lua of the job queue. Every script gets the queue's key base
// (`<prefix>{q:<name>}:`) as KEYS[1] and everything else through ARGV: names,
// ids, payloads and keys are only ever data (arguments of redis.call or parts
// of stored text), never Lua source. All keys a script touches start with the
// base, so they share its hash tag and its cluster slot.
//
// The last ARGV of every script is the calling backend's origin id, taken off
// before the script reads its arguments: the job events a script publishes
// carry it, so a backend drops its own (it emitted them already).
//
// Numbers are formatted with `n()` before they are concatenated or stored:
// Lua's tostring keeps 14 significant digits, too few for epoch milliseconds
// past 2^47 or fencing counters that grew large.

import { CLAIM_READ_FIELDS } from './redis-queue-rows.js';

/** `local L_ATT = 4`: where a claim finds each field it uses in its HMGET reply. */
const LEASE_POSITIONS = (['att', 'lease', 'dk', 'cat'] as const)
  .map((field) => `local L_${field.toUpperCase()} = ${CLAIM_READ_FIELDS.indexOf(field) + 1}`)
  .join('\n');

/**
 * How long a queue's event log keeps an entry: a listener that starts, or
 * reconnects, reads back that far at most.
 */
const EVENT_LOG_MS = 10_000;

/** What every script starts with: the clock, the key layout and the state machine of a job. */
const LIBRARY = `
local CLAIM_READ_FIELDS = { ${CLAIM_READ_FIELDS.map((field) => `'${field}'`).join(', ')} }
${LEASE_POSITIONS}
local B = KEYS[1]
local ORIGIN = table.remove(ARGV)
local NOW
do
  local t = redis.call('TIME')
  NOW = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
end
-- Formatted once: a claim and a settlement each write it twice per job.
local NOW_TEXT = string.format('%d', NOW)
local COUNTS, READY, DELAYED, ACTIVE, DEDUPE = B .. 'n', B .. 'r', B .. 'dl', B .. 'a', B .. 'd'
local WAKE_AT = nil
local EXPIRED = {}
-- The job events of the changes this script makes, published when it
-- ends: a list of strings, the time, then each event's type, job id and
-- fields, joined with U+0000, which neither an id (core refuses it) nor JSON
-- text nor a number holds, so nothing needs escaping.
local EVENTS, NE = { NOW_TEXT }, 1

local function n(x) return string.format('%d', x) end
local function jk(id) return B .. 'j:' .. id end
local function lkey(cat, id) return string.format('%015d', cat) .. id end
local function rkey(run_at)
  if run_at >= 0 then return '1' .. string.format('%016d', run_at) end
  return '0' .. string.format('%016d', run_at + 8640000000000000)
end
local function finished(s) return s == 'completed' or s == 'dead' or s == 'cancelled' end
local function live(s) return s == 'waiting' or s == 'active' end

-- Changes of the listing, finish-time and lease sets, and of the counters,
-- gathered while a script runs and written by flush() in a few variadic
-- calls: a member's last change wins, so the order of changes within a
-- script does not matter. Every script flushes before it reads those sets
-- or counters, and before it returns.
local ZSETS, ZORDER, DELTA = {}, {}, {}
local function zset(key, member, score)
  local changes = ZSETS[key]
  if not changes then
    changes = {}
    ZSETS[key] = changes
    table.insert(ZORDER, key)
  end
  changes[member] = score
end
local function count(state, delta) DELTA[state] = (DELTA[state] or 0) + delta end
local function flush()
  for _, key in ipairs(ZORDER) do
    local adds, removes = {}, {}
    for member, score in pairs(ZSETS[key]) do
      if score then
        table.insert(adds, score)
        table.insert(adds, member)
      else
        table.insert(removes, member)
      end
    end
    for i = 1, #removes, 500 do redis.call('ZREM', key, unpack(removes, i, math.min(i + 499, #removes))) end
    for i = 1, #adds, 1000 do redis.call('ZADD', key, unpack(adds, i, math.min(i + 999, #adds))) end
  end
  ZSETS, ZORDER = {}, {}
  for state, delta in pairs(DELTA) do
    if delta ~= 0 then redis.call('HINCRBY', COUNTS, state, delta) end
  end
  DELTA = {}
end

local function wake(at)
  if WAKE_AT == nil or at < WAKE_AT then WAKE_AT = at end
end

local function event(kind, id, a, b, c)
  EVENTS[NE + 1] = kind
  EVENTS[NE + 2] = id
  NE = NE + 2
  if a then
    NE = NE + 1
    EVENTS[NE] = a
  end
  if b then
    NE = NE + 1
    EVENTS[NE] = b
  end
  if c then
    NE = NE + 1
    EVENTS[NE] = c
  end
end

-- Publishes the wake-up (the delay until the earliest job this script made
-- waiting), and the job events, whoever listens (a writer cannot know):
-- one entry of the queue's event log (a stream trimmed to the last
-- EVENT_LOG_MS), its one field the backend's origin and the events, then
-- the entry's id on the events channel, so listeners read the log from
-- where they are, in the order the changes were applied, and a listener
-- that just started (or reconnected) reads what was appended before its
-- subscription took effect.
local function publish()
  if WAKE_AT ~= nil then
    local delay = WAKE_AT - NOW
    if delay < 0 then delay = 0 end
    redis.call('PUBLISH', B .. 'w', n(delay))
  end
  if NE == 1 then return end
  local id = redis.call('XADD', B .. 'ev', 'MINID', '~', n(NOW - ${EVENT_LOG_MS}), '*', ORIGIN,
    table.concat(EVENTS, '\\0', 1, NE))
  redis.call('PUBLISH', B .. 'e', id)
end

-- Moves a job from one state to another. cat and dk are the job's createdAt
-- and dedupe key (false for none); extra holds more fields to write. Returns
-- the fields and values written. Only an active job's token and lease
-- expiry are current (see below).
-- Active jobs have no listing set of their own: the lease set holds exactly
-- them, and LIST orders them from it. A claim and a settlement each change
-- one sorted-set member fewer per job that way, the hot path, while only a
-- listing of the active state pays (for every active job, not a page).
local function set_state(id, key, from, to, cat, dk, extra)
  if from ~= to then
    count(from, -1)
    count(to, 1)
    local m = lkey(tonumber(cat), id)
    if from ~= 'active' then zset(B .. 's:' .. from, m, false) end
    if to ~= 'active' then zset(B .. 's:' .. to, m, 0) end
    if finished(from) then zset(B .. 'f:' .. from, id, false) end
    if finished(to) then zset(B .. 'f:' .. to, id, NOW) end
  end
  local fields = { 'state', to, 'uat', NOW_TEXT }
  if finished(to) then
    table.insert(fields, 'fat')
    table.insert(fields, NOW_TEXT)
  end
  if from == 'active' and to ~= 'active' then
    -- The ended lease's tok and exp stay: every lease check reads the state
    -- first, and rows show exp only while active. Two fields fewer per job.
    zset(ACTIVE, id, false)
  end
  for _, value in ipairs(extra or {}) do table.insert(fields, value) end
  redis.call('HSET', key, unpack(fields))
  if finished(from) and not finished(to) then redis.call('HDEL', key, 'fat') end
  if dk and live(from) ~= live(to) then
    if live(to) then redis.call('HSET', DEDUPE, dk, id)
    elseif redis.call('HGET', DEDUPE, dk) == id then redis.call('HDEL', DEDUPE, dk) end
  end
  return fields
end

local function ready_member(id, run_at, seq)
  return rkey(run_at) .. string.format('%016d', seq) .. id
end

local function to_ready(id, key)
  local f = redis.call('HMGET', key, 'pri', 'runAt', 'seq')
  local m = ready_member(id, tonumber(f[2]), tonumber(f[3]))
  redis.call('ZADD', READY, -tonumber(f[1]), m)
  redis.call('HSET', key, 'wm', m)
  wake(NOW)
end

local function schedule(id, key, run_at)
  if run_at <= NOW then
    to_ready(id, key)
  else
    redis.call('ZADD', DELAYED, run_at, id)
    wake(run_at)
  end
end

local function unschedule(id, key)
  local m = redis.call('HGET', key, 'wm')
  if m then redis.call('ZREM', READY, m) end
  redis.call('ZREM', DELAYED, id)
end

local function error_json(attempt, message, name)
  local e = '{"attempt":' .. n(attempt) .. ',"message":' .. message
  if name ~= '' then e = e .. ',"name":' .. name end
  return e .. ',"at":' .. NOW_TEXT .. '}'
end

-- The job's errors with e appended, as JSON text.
local function with_error(key, e)
  local errors = redis.call('HGET', key, 'err')
  if errors == '[]' then return '[' .. e .. ']' end
  return string.sub(errors, 1, -2) .. ',' .. e .. ']'
end

-- Due delayed jobs become ready; expired leases count as failed attempts
-- (retried at once, or dead after the last one). Bounded per call.
local function settle()
  flush()
  local due = redis.call('ZRANGEBYSCORE', DELAYED, '-inf', NOW, 'LIMIT', 0, 1000)
  for _, id in ipairs(due) do
    redis.call('ZREM', DELAYED, id)
    to_ready(id, jk(id))
  end
  local gone = redis.call('ZRANGEBYSCORE', ACTIVE, '-inf', NOW, 'LIMIT', 0, 1000)
  for _, id in ipairs(gone) do
    local key = jk(id)
    local f = redis.call('HMGET', key, 'att', 'max', 'cat', 'dk')
    local attempt = tonumber(f[1])
    local e = error_json(attempt, '"lease expired"', '"LEASE_EXPIRED"')
    local errors = { 'err', with_error(key, e) }
    event('expired', id, f[1])
    if attempt >= tonumber(f[2]) then
      set_state(id, key, 'active', 'dead', f[3], f[4], errors)
      table.insert(EXPIRED, { id, 'dead', n(attempt) })
      event('dead', id, f[1], e)
    else
      set_state(id, key, 'active', 'waiting', f[3], f[4], errors)
      to_ready(id, key)
      table.insert(EXPIRED, { id, 'waiting', n(attempt) })
    end
  end
  flush()
end

local function claim(count_wanted, lease_ms)
  local out = {}
  if count_wanted <= 0 then return out end
  local popped = redis.call('ZPOPMIN', READY, count_wanted)
  local k = #popped / 2
  if k == 0 then return out end
  local first = redis.call('INCRBY', B .. 't', k) - k + 1
  for j = 0, k - 1 do
    local id = string.sub(popped[2 * j + 1], 34)
    local key = jk(id)
    -- The job is read once, only the fields a lease shows that the claim
    -- does not write, by position (HMGET, not HGETALL: less than half the
    -- strings to carry through Lua and the reply); what the claim writes is
    -- added to that reply: one HMGET and one HSET per job. An absent field
    -- comes back false.
    local f = redis.call('HMGET', key, unpack(CLAIM_READ_FIELDS))
    local exp = NOW + (tonumber(lease_ms) or tonumber(f[L_LEASE]))
    local att, tok, exp_text = n(tonumber(f[L_ATT]) + 1), n(first + j), n(exp)
    set_state(id, key, 'waiting', 'active', f[L_CAT], f[L_DK], { 'att', att, 'tok', tok, 'exp', exp_text })
    f[L_ATT] = att
    -- In the order of CLAIM_WRITTEN_FIELDS.
    table.insert(f, 'active')
    table.insert(f, NOW_TEXT)
    table.insert(f, exp_text)
    table.insert(f, tok)
    zset(ACTIVE, id, exp)
    table.insert(out, f)
    event('started', id, att)
  end
  return out
end

-- The job's key and fields { state, tok, exp, att, max, cat, dk } when the
-- lease (id, token) is valid; else nil and why not.
local function leased(id, token)
  local key = jk(id)
  local f = redis.call('HMGET', key, 'state', 'tok', 'exp', 'att', 'max', 'cat', 'dk')
  if not f[1] then return nil, 'missing' end
  if f[1] ~= 'active' then return nil, 'state:' .. f[1] end
  if f[2] ~= token then return nil, 'token' end
  if tonumber(f[3]) <= NOW then return nil, 'expired' end
  return key, f
end

local function backoff(key, attempt, random)
  local b = redis.call('HMGET', key, 'bt', 'bd', 'bm', 'bj')
  local delay = tonumber(b[2])
  if b[1] == 'fixed' then return delay end
  local e = attempt - 1
  if e < 0 then e = 0 end
  if e > 52 then e = 52 end
  delay = math.min(tonumber(b[3]), delay * 2 ^ e)
  if b[4] == 'full' then return math.floor(random * delay + 0.5) end
  if b[4] == 'equal' then return math.floor(delay / 2 + random * (delay / 2) + 0.5) end
  return delay
end

-- A settlement from ARGV[i..i+7]: kind ('c' or 'f'), id, token, then for a
-- completion (has result, result) and for a failure (message JSON, name
-- JSON, no retry, retry after, random). Returns { outcome, attempt, runAt }.
local function settle_one(i)
  local kind, id = ARGV[i], ARGV[i + 1]
  local key, f = leased(id, ARGV[i + 2])
  if not key then return { f } end
  local attempt = tonumber(f[4])
  if kind == 'c' then
    local extra = {}
    if ARGV[i + 3] == '1' then extra = { 'res', ARGV[i + 4] } end
    set_state(id, key, 'active', 'completed', f[6], f[7], extra)
    event('completed', id, f[4])
    return { 'completed', f[4] }
  end
  local e = error_json(attempt, ARGV[i + 3], ARGV[i + 4])
  local errors = { 'err', with_error(key, e) }
  if ARGV[i + 5] == '1' or attempt >= tonumber(f[5]) then
    set_state(id, key, 'active', 'dead', f[6], f[7], errors)
    event('dead', id, f[4], e)
    return { 'dead', f[4] }
  end
  local delay
  if ARGV[i + 6] ~= '' then delay = tonumber(ARGV[i + 6]) else delay = backoff(key, attempt, tonumber(ARGV[i + 7])) end
  local run_at = NOW + delay
  table.insert(errors, 'runAt')
  table.insert(errors, n(run_at))
  set_state(id, key, 'active', 'waiting', f[6], f[7], errors)
  schedule(id, key, run_at)
  event('failed', id, f[4], e, n(run_at))
  return { 'waiting', n(attempt), n(run_at) }
end

-- A job from ARGV[i..i+12]: id, payload, priority, runAt ('' = now + delay),
-- delay, maxAttempts, leaseMs, backoff type, delay, max delay, jitter,
-- dedupe key ('' = none), timeoutMs ('' = none). The dedupe key is checked
-- and taken here, so concurrent enqueues with one key create one job.
local function enqueue_one(i)
  local id, dk = ARGV[i], ARGV[i + 11]
  if dk ~= '' then
    local holder = redis.call('HGET', DEDUPE, dk)
    if holder then return { holder, '1' } end
  end
  local run_at
  if ARGV[i + 3] ~= '' then run_at = tonumber(ARGV[i + 3]) else run_at = NOW + tonumber(ARGV[i + 4]) end
  local priority = tonumber(ARGV[i + 2])
  local seq = redis.call('INCR', B .. 'seq')
  local key = jk(id)
  local fields = { 'id', id, 'state', 'waiting', 'pri', ARGV[i + 2], 'seq', n(seq), 'runAt', n(run_at), 'att', '0',
    'max', ARGV[i + 5], 'lease', ARGV[i + 6], 'bt', ARGV[i + 7], 'bd', ARGV[i + 8], 'bm', ARGV[i + 9],
    'bj', ARGV[i + 10], 'pl', ARGV[i + 1], 'err', '[]', 'cat', NOW_TEXT, 'uat', NOW_TEXT }
  if dk ~= '' then
    table.insert(fields, 'dk')
    table.insert(fields, dk)
    redis.call('HSET', DEDUPE, dk, id)
  end
  if ARGV[i + 12] ~= '' then
    table.insert(fields, 'tmo')
    table.insert(fields, ARGV[i + 12])
  end
  if run_at <= NOW then
    local m = ready_member(id, run_at, seq)
    table.insert(fields, 'wm')
    table.insert(fields, m)
    redis.call('ZADD', READY, -priority, m)
    wake(NOW)
  else
    redis.call('ZADD', DELAYED, run_at, id)
    wake(run_at)
  end
  redis.call('HSET', key, unpack(fields))
  count('waiting', 1)
  zset(B .. 's:waiting', lkey(NOW, id), 0)
  event('enqueued', id, n(run_at))
  return { id, '0', n(run_at) }
end

local function delete_job(id, state)
  local key = jk(id)
  local cat = redis.call('HGET', key, 'cat')
  if cat and state ~= 'active' then redis.call('ZREM', B .. 's:' .. state, lkey(tonumber(cat), id)) end
  redis.call('ZREM', B .. 'f:' .. state, id)
  redis.call('UNLINK', key)
  redis.call('HINCRBY', COUNTS, state, -1)
end

-- Puts a dead or cancelled job back to waiting, unless another live job
-- holds its dedupe key. Returns 'ok', 'no', or 'held' and the holder.
local function revive(id, states)
  local key = jk(id)
  local f = redis.call('HMGET', key, 'state', 'dk', 'cat')
  if not f[1] or not states[f[1]] then return { 'no' } end
  if f[2] then
    local holder = redis.call('HGET', DEDUPE, f[2])
    if holder and holder ~= id then return { 'held', holder, f[2] } end
  end
  redis.call('HDEL', key, 'res', 'prog')
  set_state(id, key, f[1], 'waiting', f[3], f[2], { 'att', '0', 'runAt', NOW_TEXT })
  to_ready(id, key)
  event('retried', id)
  return { 'ok' }
end

local function cancel_one(id, states)
  local key = jk(id)
  local f = redis.call('HMGET', key, 'state', 'cat', 'dk')
  if not f[1] or not states[f[1]] then return false end
  unschedule(id, key)
  set_state(id, key, f[1], 'cancelled', f[2], f[3])
  event('cancelled', id)
  return true
end
`;

function script(body: string): string {
  return `${LIBRARY}\n${body}`;
}

/**
 * ARGV: count, leaseMs ('' = each job's own), then settlements of 8
 * arguments each. Returns { now, expired, outcomes, leases }.
 */
export const SETTLE_AND_CLAIM: string = script(`
local outcomes = {}
local settlements = tonumber(ARGV[3])
for s = 0, settlements - 1 do table.insert(outcomes, settle_one(4 + s * 8)) end
settle()
local leases = claim(tonumber(ARGV[1]), ARGV[2])
flush()
publish()
return { NOW_TEXT, EXPIRED, outcomes, leases }
`);

/**
 * ARGV: count of jobs, jobs to lease for an idle worker of the caller (0:
 * none), their leaseMs ('' = each job's own), then 13 arguments per job.
 * The lease is the claim a fetch makes (expired leases settled, delivery
 * order), at most as many jobs as this call made due. Returns { now,
 * { id, deduplicated, runAt }..., expired, leases }.
 */
export const ENQUEUE: string = script(`
local results, due = {}, 0
for j = 0, tonumber(ARGV[1]) - 1 do
  local r = enqueue_one(4 + j * 13)
  if r[2] == '0' and tonumber(r[3]) <= NOW then due = due + 1 end
  table.insert(results, r)
end
local leases = {}
local wanted = math.min(tonumber(ARGV[2]), due)
if wanted > 0 then
  settle()
  leases = claim(wanted, ARGV[3])
  -- Wake other workers only for what is still ready, or falls due later.
  WAKE_AT = nil
  if redis.call('ZCARD', READY) > 0 then wake(NOW) end
  for _, r in ipairs(results) do
    if r[2] == '0' and tonumber(r[3]) > NOW then wake(tonumber(r[3])) end
  end
end
flush()
publish()
return { NOW_TEXT, results, EXPIRED, leases }
`);

/** ARGV: id, token, leaseMs ('' = the job's own). Returns { now, job } or { now, why }. */
export const EXTEND: string = script(`
local key, why = leased(ARGV[1], ARGV[2])
if not key then return { NOW_TEXT, why } end
local lease = tonumber(ARGV[3])
if ARGV[3] == '' then lease = tonumber(redis.call('HGET', key, 'lease')) end
local exp = NOW + lease
redis.call('HSET', key, 'exp', n(exp), 'uat', NOW_TEXT)
redis.call('ZADD', ACTIVE, exp, ARGV[1])
return { NOW_TEXT, redis.call('HGETALL', key) }
`);

/** ARGV: id, token. Returns { now, 'ok' } or { now, why }. */
export const RELEASE: string = script(`
local key, why = leased(ARGV[1], ARGV[2])
if not key then return { NOW_TEXT, why } end
local f = redis.call('HMGET', key, 'att', 'cat', 'dk', 'runAt')
set_state(ARGV[1], key, 'active', 'waiting', f[2], f[3], { 'att', n(tonumber(f[1]) - 1) })
schedule(ARGV[1], key, tonumber(f[4]))
event('released', ARGV[1])
flush()
publish()
return { NOW_TEXT, 'ok' }
`);

/** ARGV: id, token, progress JSON. Returns { now, 'ok', attempt } or { now, why }. */
export const PROGRESS: string = script(`
local key, why = leased(ARGV[1], ARGV[2])
if not key then return { NOW_TEXT, why } end
redis.call('HSET', key, 'prog', ARGV[3], 'uat', NOW_TEXT)
local attempt = redis.call('HGET', key, 'att')
event('progress', ARGV[1], attempt, ARGV[3])
publish()
return { NOW_TEXT, 'ok', attempt }
`);

/** ARGV: id. Returns { now, expired, job or false }. */
export const GET: string = script(`
settle()
publish()
local job = redis.call('HGETALL', jk(ARGV[1]))
if #job == 0 then job = false end
return { NOW_TEXT, EXPIRED, job }
`);

/** Returns { now, expired, counts per state }. */
export const STATS: string = script(`
settle()
publish()
return { NOW_TEXT, EXPIRED, redis.call('HMGET', COUNTS, 'waiting', 'active', 'completed', 'dead', 'cancelled') }
`);

/** ARGV: the states to cancel from, then ids. Returns { now, expired, cancelled ids }. */
export const CANCEL: string = script(`
settle()
local states = {}
for state in string.gmatch(ARGV[1], '[a-z]+') do states[state] = true end
local cancelled = {}
for a = 2, #ARGV do
  if cancel_one(ARGV[a], states) then table.insert(cancelled, ARGV[a]) end
end
flush()
publish()
return { NOW_TEXT, EXPIRED, cancelled }
`);

/**
 * ARGV: the states to revive from, then ids. Returns { now, revived ids,
 * blocked { id, holder, key }... }.
 */
export const RETRY: string = script(`
local states = {}
for state in string.gmatch(ARGV[1], '[a-z]+') do states[state] = true end
local revived, blocked = {}, {}
for a = 2, #ARGV do
  local r = revive(ARGV[a], states)
  if r[1] == 'ok' then table.insert(revived, ARGV[a]) end
  if r[1] == 'held' then table.insert(blocked, { ARGV[a], r[2], r[3] }) end
end
flush()
publish()
return { NOW_TEXT, revived, blocked }
`);

/**
 * ARGV: order ('oldest' | 'newest'), listing position to start after ('' =
 * from the start), most jobs per state, then states. Returns { now,
 * expired, { jobs of each state } }.
 */
export const LIST: string = script(`
settle()
publish()
local oldest, after, limit = ARGV[1] == 'oldest', ARGV[2], tonumber(ARGV[3])
local out = {}
for a = 4, #ARGV do
  local index = B .. 's:' .. ARGV[a]
  if ARGV[a] == 'active' then
    -- The active listing, from the lease set (see set_state) into a scratch
    -- set of the queue's slot, deleted before the script ends: ZRANGEBYLEX
    -- orders by bytes, as the other states' sets do, where a comparison in
    -- Lua would follow the server's collation locale.
    index = B .. 'ls'
    local ids = redis.call('ZRANGE', ACTIVE, 0, -1)
    for i = 1, #ids, 500 do
      local members = {}
      for j = i, math.min(i + 499, #ids) do
        local cat = redis.call('HGET', jk(ids[j]), 'cat')
        if cat then
          table.insert(members, 0)
          table.insert(members, lkey(tonumber(cat), ids[j]))
        end
      end
      if #members > 0 then redis.call('ZADD', index, unpack(members)) end
    end
  end
  local members
  if oldest then
    local from = '-'
    if after ~= '' then from = '(' .. after end
    members = redis.call('ZRANGEBYLEX', index, from, '+', 'LIMIT', 0, limit)
  else
    local from = '+'
    if after ~= '' then from = '(' .. after end
    members = redis.call('ZREVRANGEBYLEX', index, from, '-', 'LIMIT', 0, limit)
  end
  if ARGV[a] == 'active' then redis.call('DEL', index) end
  local jobs = {}
  for _, m in ipairs(members) do table.insert(jobs, redis.call('HGETALL', jk(string.sub(m, 16)))) end
  table.insert(out, jobs)
end
return { NOW_TEXT, EXPIRED, out }
`);

/** ARGV: finished before (ms), most to remove, then states. Returns how many were removed. */
export const PURGE: string = script(`
local removed, limit = 0, tonumber(ARGV[2])
for a = 3, #ARGV do
  if removed >= limit then break end
  local ids = redis.call('ZRANGEBYSCORE', B .. 'f:' .. ARGV[a], '-inf', '(' .. ARGV[1], 'LIMIT', 0, limit - removed)
  for _, id in ipairs(ids) do delete_job(id, ARGV[a]) end
  removed = removed + #ids
end
return removed
`);

/**
 * ARGV: most to remove, then for completed, dead and cancelled in turn: the
 * maximum age and count ('' = no bound; 'keep' for both = kept forever).
 * Ages count on the server's clock.
 */
export const PRUNE: string = script(`
local limit, removed = tonumber(ARGV[1]), 0
local states = { 'completed', 'dead', 'cancelled' }
for s = 1, 3 do
  local state, max_age, max_count = states[s], ARGV[2 * s], ARGV[2 * s + 1]
  local index = B .. 'f:' .. state
  if max_age ~= '' and removed < limit then
    local ids = redis.call('ZRANGEBYSCORE', index, '-inf', '(' .. n(NOW - tonumber(max_age)), 'LIMIT', 0, limit - removed)
    for _, id in ipairs(ids) do delete_job(id, state) end
    removed = removed + #ids
  end
  if max_count ~= '' and removed < limit then
    local excess = math.min(redis.call('ZCARD', index) - tonumber(max_count), limit - removed)
    if excess > 0 then
      local ids = redis.call('ZRANGE', index, 0, excess - 1)
      for _, id in ipairs(ids) do delete_job(id, state) end
      removed = removed + #ids
    end
  end
end
return removed
`);

/**
 * ARGV: name, spec, payload, job options, missed, overlap, paused ('1'/'0'),
 * nextRunAt ('' = none). Creates (version 1) or replaces (version + 1,
 * createdAt and the last run kept). Returns the schedule's hash.
 */
export const PUT_SCHEDULE: string = script(`
local key = B .. 'sc:' .. ARGV[1]
if redis.call('HEXISTS', key, 'ver') == 1 then
  redis.call('HINCRBY', key, 'ver', 1)
else
  redis.call('HSET', key, 'ver', '1', 'cat', NOW_TEXT)
end
redis.call('HSET', key, 'name', ARGV[1], 'spec', ARGV[2], 'pl', ARGV[3], 'jo', ARGV[4], 'missed', ARGV[5],
  'overlap', ARGV[6], 'paused', ARGV[7], 'uat', NOW_TEXT)
if ARGV[8] == '' then redis.call('HDEL', key, 'next') else redis.call('HSET', key, 'next', ARGV[8]) end
redis.call('ZADD', B .. 'scs', 0, ARGV[1])
return redis.call('HGETALL', key)
`);

/** ARGV: name, or none for every schedule. Returns the schedules' hashes by name. */
export const GET_SCHEDULES: string = script(`
local names = { ARGV[1] }
if #ARGV == 0 then names = redis.call('ZRANGE', B .. 'scs', 0, -1) end
local out = {}
for _, name in ipairs(names) do
  local h = redis.call('HGETALL', B .. 'sc:' .. name)
  if #h > 0 then table.insert(out, h) end
end
return out
`);

/** ARGV: name. Returns 1 when the schedule existed. */
export const REMOVE_SCHEDULE: string = script(`
redis.call('ZREM', B .. 'scs', ARGV[1])
return redis.call('DEL', B .. 'sc:' .. ARGV[1])
`);

/**
 * ARGV: name, the version the caller read, tick runAt, tick nextRunAt ('' =
 * none), enqueue ('1'/'0'), then the tick's job (13 arguments, see
 * enqueue_one). The compare-and-set of a tick and its job in one step: only
 * a caller that finds nextRunAt still at the tick fires it. 'stale' when
 * the schedule changed since the caller read it (its job options may differ).
 */
export const FIRE_SCHEDULE: string = script(`
local key = B .. 'sc:' .. ARGV[1]
local f = redis.call('HMGET', key, 'ver', 'paused', 'next')
if not f[1] then return { 'no' } end
if f[2] == '1' or f[3] ~= ARGV[3] then return { 'no' } end
if f[1] ~= ARGV[2] then return { 'stale' } end
if ARGV[4] == '' then redis.call('HDEL', key, 'next') else redis.call('HSET', key, 'next', ARGV[4]) end
redis.call('HSET', key, 'last', ARGV[3], 'uat', NOW_TEXT)
redis.call('HINCRBY', key, 'ver', 1)
if ARGV[5] ~= '1' then return { 'fired', NOW_TEXT } end
local job = enqueue_one(6)
redis.call('HSET', key, 'lastJob', job[1])
flush()
publish()
return { 'fired', NOW_TEXT, job }
`);

/**
 * ARGV: count of jobs, the default backoff (type, delay, max delay,
 * jitter), then 18 arguments per job (see `importArguments`). Stores each
 * job as given, in its state's sets and counts, a waiting one ready or
 * delayed by its runAt (its place among equals: this call's order), unless
 * the queue holds its id or, for a waiting job, a live job holds its dedupe
 * key. Each imported waiting job publishes `enqueued` (with its runAt).
 * Returns { now, imported, skipped, earliest runAt of the waiting jobs
 * imported ('' = none), { id, runAt } of each waiting job imported }.
 */
export const IMPORT: string = script(`
local imported, skipped, earliest, waiting = 0, 0, nil, {}
for j = 0, tonumber(ARGV[1]) - 1 do
  local i = 6 + j * 18
  local id, state, dk = ARGV[i], ARGV[i + 2], ARGV[i + 8]
  local key = jk(id)
  if redis.call('EXISTS', key) == 1 or (state == 'waiting' and dk ~= '' and redis.call('HGET', DEDUPE, dk)) then
    skipped = skipped + 1
  else
    local fields = { 'id', id, 'state', state, 'pri', ARGV[i + 3], 'seq', n(redis.call('INCR', B .. 'seq')),
      'runAt', ARGV[i + 4], 'att', ARGV[i + 5], 'max', ARGV[i + 6], 'lease', ARGV[i + 7], 'bt', ARGV[2],
      'bd', ARGV[3], 'bm', ARGV[4], 'bj', ARGV[5], 'pl', ARGV[i + 1], 'err', ARGV[i + 9], 'cat', ARGV[i + 15],
      'uat', ARGV[i + 16] }
    if dk ~= '' then
      table.insert(fields, 'dk')
      table.insert(fields, dk)
    end
    if ARGV[i + 10] == '1' then
      table.insert(fields, 'res')
      table.insert(fields, ARGV[i + 11])
    end
    if ARGV[i + 12] == '1' then
      table.insert(fields, 'prog')
      table.insert(fields, ARGV[i + 13])
    end
    if ARGV[i + 14] ~= '' then
      table.insert(fields, 'tmo')
      table.insert(fields, ARGV[i + 14])
    end
    if finished(state) then
      table.insert(fields, 'fat')
      table.insert(fields, ARGV[i + 17])
      zset(B .. 'f:' .. state, id, ARGV[i + 17])
    end
    redis.call('HSET', key, unpack(fields))
    count(state, 1)
    zset(B .. 's:' .. state, lkey(tonumber(ARGV[i + 15]), id), 0)
    if state == 'waiting' then
      if dk ~= '' then redis.call('HSET', DEDUPE, dk, id) end
      local run_at = tonumber(ARGV[i + 4])
      schedule(id, key, run_at)
      if earliest == nil or run_at < earliest then earliest = run_at end
      event('enqueued', id, n(run_at))
      table.insert(waiting, id)
      table.insert(waiting, n(run_at))
    end
    imported = imported + 1
  end
end
flush()
publish()
local due = ''
if earliest ~= nil then due = n(earliest) end
return { NOW_TEXT, imported, skipped, due, waiting }
`);

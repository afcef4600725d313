// The Lua the Redis counter store (limits/redis-store.ts) runs: one atomic script per request for check
// and one for commit, over every (limit, key) the request counts under (rspamd's ratelimit check/update
// split), or both in one (hit) when the limits alone decide; docs/redis.md, "Scripts". They implement
// policy/rate.ts's three algorithms line for line (same operations in the same order, so the doubles come
// out bit for bit the same as the memory store's) on Redis's clock (TIME, ms): hosts whose clocks differ
// agree.
//
// One counter is one hash (limits/redis-keys.ts names it), fields:
//   t start, c count (level), l last, a alert state, p prev (sliding), m the messages counted lately (per =
//   message: instances, newest first, "\n" between them, policy/counted-messages.ts),
//   e when the counter holds nothing (ms), as its TTL was last set (the TTL is moved only when e does),
//   ns / ni (nS / nI) how many distinct subjects / client IPs the newer (older) generation holds, capped
//   at 50 each as Tally's SIGHTING_CAP, "s:<subject>" / "i:<ip>" the newer generation's counts, "S:…" / "I:…" the older
//   one's (a sliding window's previous sub-window, policy/sender-counter.ts's Tally).
// Floats are written with %.17g (Lua's own tostring keeps 14 digits: a bucket level would drift) and
// returned as strings (Redis turns a Lua number into an integer reply). Every write sets the key's TTL to
// when the counter holds nothing (counterExpiresAt), so Redis forgets counters itself.
//
// ARGV[1] is the time: "" for Redis's TIME; tests pass one to compare with the memory store at the same
// instants (no TTL is set then: TTLs run on Redis's clock, not the test's). Each counter's limit is four
// arguments (limit_at): algorithm (fixed, sliding, bucket), count, window ms, burst.

import { MESSAGES_REMEMBERED } from "../policy/counted-messages.ts";

const PRELUDE = `
local function now_ms(given)
  if given ~= '' then return tonumber(given) end
  local t = redis.call('TIME')
  return tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
end
-- The limit's four arguments after ARGV[b]: algorithm, count, window ms, burst.
local function limit_at(b)
  return { algo = ARGV[b + 1], count = tonumber(ARGV[b + 2]), window = tonumber(ARGV[b + 3]),
    burst = tonumber(ARGV[b + 4]) }
end
-- A number's text, exactly as '%.17g' writes it, without formatting the common ones: the digits 0–9
-- (flags, alert states, most counts and sightings) from a table, and the last two numbers formatted
-- (Redis's time, every counter's l and a new one's t; a window's end, shared by limits of one window)
-- from a memo. Formatting a number costs about what a redis.call does (docs/decisions.md, "Redis: what a
-- script costs").
local DIGITS = { [0] = '0', '1', '2', '3', '4', '5', '6', '7', '8', '9' }
local fmt_a, fmt_a_text, fmt_b, fmt_b_text = nil, nil, nil, nil
local function fmt(x)
  if x >= 0 and x <= 9 and x % 1 == 0 and (x ~= 0 or 1 / x > 0) then return DIGITS[x] end
  if x == fmt_a then return fmt_a_text end
  if x == fmt_b then return fmt_b_text end
  fmt_b, fmt_b_text = fmt_a, fmt_a_text
  fmt_a, fmt_a_text = x, string.format('%.17g', x)
  return fmt_a_text
end
-- A number for a reply: whole numbers as Redis integers (no text to make), fractions as text.
local function num(x)
  if x % 1 == 0 and x < 1e15 and x > -1e15 then return x end
  return fmt(x)
end
local function fresh(now) return { t = now, c = 0, l = now, a = 0, p = 0, m = false } end
-- A counter's fields (HMGET). A key among the counters' names that holds another type was written by
-- something else: it is dropped and the counter starts anew, rather than failing every request and every
-- merge that names it (docs/redis.md).
local function hash_fields(key, ...)
  local v = redis.pcall('HMGET', key, ...)
  if v.err then
    redis.call('DEL', key)
    return {}
  end
  return v
end
local function load(key)
  local v = hash_fields(key, 't', 'c', 'l', 'a', 'p', 'm')
  if not v[1] then return nil end
  return { t = tonumber(v[1]), c = tonumber(v[2]), l = tonumber(v[3]), a = tonumber(v[4]),
    p = tonumber(v[5] or '0'), m = v[6] }
end
-- rollCounter; returns what becomes of the sightings: nil (kept), 'forget' or 'age'.
local function roll(c, L, now)
  local elapsed = now - c.t
  if L.algo == 'fixed' then
    -- a start more than a window after now: the clock was set back since (rate.ts's aheadOfClock)
    if elapsed >= L.window or c.t - now > L.window then
      c.t = now; c.c = 0; c.a = 0; c.m = false
      return 'forget'
    end
    return nil
  elseif L.algo == 'sliding' then
    if elapsed >= L.window then
      local windows = math.floor(elapsed / L.window)
      if windows == 1 then c.p = c.c else c.p = 0 end
      c.c = 0
      c.t = c.t + windows * L.window
      c.a = 0
      if windows == 1 then return 'age' end
      return 'forget'
    elseif c.t - now > L.window then
      c.p = 0; c.c = 0; c.t = now; c.a = 0
      return 'forget'
    end
    return nil
  end
  if c.l - now > L.window then
    c.c = 0
  else
    c.c = math.max(0, c.c - math.max(0, now - c.l) * L.count / L.window)
  end
  c.l = now
  local act = nil
  if c.c == 0 or (c.a ~= 0 and elapsed >= L.window) then act = 'forget' end
  if c.a == 0 or c.c == 0 or elapsed >= L.window then
    c.t = now
    c.a = 0
  end
  return act
end
local function level_with(c, L, now, cost)
  if L.algo ~= 'sliding' then return c.c + cost end
  local overlap = 1 - math.max(0, now - c.t) / L.window
  return c.p * overlap + c.c + cost
end
local function capacity(L)
  if L.algo == 'bucket' then return L.burst end
  return L.count
end
local function expires_at(c, L)
  if L.algo == 'fixed' then return c.t + L.window end
  if L.algo == 'sliding' then return c.t + 2 * L.window end
  return c.l + math.ceil(c.c * L.window / L.count)
end
-- A counter's messages counted lately (m), newest first, "\\n" between them, at most MESSAGES_REMEMBERED: as
-- policy/counted-messages.ts, step for step.
local KEEP_MESSAGES = ${MESSAGES_REMEMBERED}
local function holds(list, inst)
  if not list or inst == '' then return false end
  if list == inst then return true end
  return string.find('\\n' .. list .. '\\n', '\\n' .. inst .. '\\n', 1, true) ~= nil
end
local function with_instance(list, inst)
  if not list or list == '' then return inst end
  if holds(list, inst) then return list end
  local seen, at = 0, string.find(list, '\\n', 1, true)
  while at do
    seen = seen + 1
    if seen == KEEP_MESSAGES - 1 then list = string.sub(list, 1, at - 1); break end
    at = string.find(list, '\\n', at + 1, true)
  end
  return inst .. '\\n' .. list
end
local function merged_instances(newer, older)
  if not older or older == '' then return newer end
  if not newer or newer == '' then return older end
  local merged, held = newer, 1
  for _ in string.gmatch(newer, '\\n') do held = held + 1 end
  for inst in string.gmatch(older, '[^\\n]+') do
    if held >= KEEP_MESSAGES then break end
    if not holds(merged, inst) then merged = merged .. '\\n' .. inst; held = held + 1 end
  end
  return merged
end
local function charge_of(c, cost, inst)
  if holds(c.m, inst) then return 0 end
  return cost
end
`;

// Writing a counter back: its sightings as they are, aged, or forgotten (the hash is rewritten then).
const WRITE = `
local function sightings(key)
  local all = redis.call('HGETALL', key)
  local out = {}
  for i = 1, #all, 2 do
    local kind = string.sub(all[i], 1, 2)
    if kind == 's:' or kind == 'S:' or kind == 'i:' or kind == 'I:' then
      out[#out + 1] = all[i]; out[#out + 1] = all[i + 1]
    end
  end
  return out
end
local function apply_sightings(key, act)
  if act == nil then return end
  local kept = {}
  if act == 'age' then
    local all = sightings(key)
    for i = 1, #all, 2 do
      local kind = string.sub(all[i], 1, 2)
      if kind == 's:' then kept[#kept + 1] = 'S:' .. string.sub(all[i], 3); kept[#kept + 1] = all[i + 1]
      elseif kind == 'i:' then kept[#kept + 1] = 'I:' .. string.sub(all[i], 3); kept[#kept + 1] = all[i + 1] end
    end
  end
  redis.call('DEL', key)
  local older = { S = 0, I = 0 }
  for i = 1, #kept, 2 do
    redis.call('HSET', key, kept[i], kept[i + 1])
    local gen = string.sub(kept[i], 1, 1)
    older[gen] = older[gen] + 1
  end
  if older.S > 0 then redis.call('HSET', key, 'nS', older.S) end
  if older.I > 0 then redis.call('HSET', key, 'nI', older.I) end
end
local function sight(key, gen, distinct, value, times)
  local field = gen .. ':' .. value
  if redis.call('HEXISTS', key, field) == 1 then
    redis.call('HINCRBY', key, field, times)
  elseif tonumber(redis.call('HGET', key, distinct) or '0') < 50 then
    redis.call('HSET', key, field, times)
    redis.call('HINCRBY', key, distinct, 1)
  end
end
local function store(key, c, L, now)
  local set = { 't', fmt(c.t), 'c', fmt(c.c), 'l', fmt(c.l), 'a', fmt(c.a), 'p', fmt(c.p) }
  local ends = nil
  if ARGV[1] == '' then
    ends = expires_at(c, L)
    set[#set + 1] = 'e'; set[#set + 1] = fmt(ends)
  end
  if c.m then set[#set + 1] = 'm'; set[#set + 1] = c.m else redis.call('HDEL', key, 'm') end
  redis.call('HSET', key, unpack(set))
  if ends then redis.call('PEXPIRE', key, math.max(1, ends - now)) end
end
local function reply_counter(out, c)
  out[#out + 1] = fmt(c.t); out[#out + 1] = fmt(c.c); out[#out + 1] = fmt(c.l)
  out[#out + 1] = c.a; out[#out + 1] = fmt(c.p); out[#out + 1] = c.m or ''
end
`;

// A request's counters, read and brought to now (COUNTER): one HMGET each, the sightings this request may
// add included, so that a commit reads nothing more. `measure` is the check's answer; `write` the commit.
const COUNTER = `
local sfield = 's:' .. (SUBJECT or '')
local ifield = 'i:' .. (CLIENT_IP or '')
-- The sightings of the request at hand, when one call carries several (HIT_SCRIPT).
local function sightings_of(subject, client_ip)
  SUBJECT, CLIENT_IP = subject, client_ip
  sfield, ifield = 's:' .. (SUBJECT or ''), 'i:' .. (CLIENT_IP or '')
end
-- One HMGET and one HSET per counter: each call from Lua costs a few microseconds, the most of a commit.
-- carry: attempts a host answered from its local cache since (limits/over-cache.ts), counted before this
-- call; carry_inst the message the last of them counted. They belong to the period Redis last said "over"
-- in: added to it while it lasts (a sliding window's previous sub-window once it has moved on by one),
-- dropped with it, and dropped with a counter gone (expired, reset). The carry's word is "count@since",
-- since Redis's time when it said "over" (a bare count: not known): a counter whose start is later than
-- that is not the one the attempts were counted against, but one begun anew after a reset on another host.
local function carry_of(word)
  local plain = tonumber(word)
  if plain then return plain, 0 end
  local count, since = string.match(word, '^([^@]+)@(.+)$')
  return tonumber(count), tonumber(since)
end
local function carry_into(r, carry, carry_inst, since)
  if carry <= 0 or r.new or (since > 0 and r.t0 > since) then return end
  if r.L.algo == 'bucket' or r.act == nil then
    r.c.c = r.c.c + carry
  elseif r.L.algo == 'sliding' and r.act == 'age' then
    r.c.p = r.c.p + carry
  else
    return
  end
  if carry_inst ~= '' then r.c.m = merged_instances(carry_inst, r.c.m) end
end
local function read(key, L, now, carry, carry_inst, since)
  local v = hash_fields(key, 't', 'c', 'l', 'a', 'p', 'm', 'ns', 'ni', sfield, ifield, 'e')
  local r = { key = key, L = L, v = v, new = v[1] == false or v[1] == nil }
  if r.new then
    r.c = fresh(now)
  else
    r.c = { t = tonumber(v[1]), c = tonumber(v[2]), l = tonumber(v[3]), a = tonumber(v[4]),
      p = tonumber(v[5] or '0'), m = v[6] }
    -- as read: write stores only what changed
    r.t0, r.c0, r.a0, r.p0 = r.c.t, r.c.c, r.c.a, r.c.p
    r.act = roll(r.c, L, now)
    carry_into(r, carry, carry_inst, since)
  end
  return r
end
-- How long the counter's current period lasts after now (ms; 0 for a bucket, whose level drains instead).
local function period_left(r, now)
  if r.L.algo == 'bucket' then return 0 end
  return math.max(1, r.c.t + r.L.window - now)
end
local function measure(r, now, cost, inst)
  r.charge = charge_of(r.c, cost, inst)
  r.level = level_with(r.c, r.L, now, r.charge)
  r.over = r.level > capacity(r.L)
  r.inst = inst
end
local function check_reply(r, now)
  local new, over, had, left = 0, 0, '', 0
  if r.new then new = 1 end
  if r.over then over = 1; had = r.c.m or ''; left = period_left(r, now) end
  return { new, r.charge, num(r.level), over, had, left, math.ceil(now) } -- an integer in the reply
end
-- A sighting into a counter's fields to write (write's set): its count one more, or a new one while the
-- generation holds fewer than 50.
local function note(set, seen, field, distinct, n)
  if seen then
    set[#set + 1] = field; set[#set + 1] = fmt(tonumber(seen) + 1)
  elseif n < 50 then
    set[#set + 1] = field; set[#set + 1] = '1'; set[#set + 1] = distinct; set[#set + 1] = fmt(n + 1)
  end
end
-- Counts the request when counted, notes the sightings, marks a crossing. Returns stored (0: a new counter
-- not counted, nothing written), crossed 0|1 and, when crossed, the counter (t, c, l, a, p, m) and its
-- sightings as field, count pairs: the alert lists them.
local function write(r, now, counted, alerts)
  local c, key, v = r.c, r.key, r.v
  if counted then
    c.c = c.c + r.charge
    if r.inst ~= '' then c.m = with_instance(c.m, r.inst) end
  end
  c.l = now
  if r.new and not counted then return 0, 0, nil end
  local ns, ni, seenS, seenI = tonumber(v[7] or '0'), tonumber(v[8] or '0'), v[9], v[10]
  if r.act then
    apply_sightings(key, r.act)
    ns, ni, seenS, seenI = 0, 0, false, false
  end
  local crossed = 0
  if r.over and c.a == 0 then
    crossed = 1
    if alerts then c.a = 1 else c.a = 2 end
  end
  -- Only the fields that changed: a number's text costs about what a redis.call does (docs/decisions.md,
  -- "Redis: what a script costs"). A counter new or rolled is written whole (apply_sightings deleted it).
  local whole = r.new or r.act ~= nil
  local set = { 'l', fmt(c.l) }
  if whole or c.t ~= r.t0 then set[#set + 1] = 't'; set[#set + 1] = fmt(c.t) end
  if whole or c.c ~= r.c0 then set[#set + 1] = 'c'; set[#set + 1] = fmt(c.c) end
  if whole or c.a ~= r.a0 then set[#set + 1] = 'a'; set[#set + 1] = fmt(c.a) end
  if whole or c.p ~= r.p0 then set[#set + 1] = 'p'; set[#set + 1] = fmt(c.p) end
  -- The TTL moves only when the counter's end does: 'e' holds the end last set (a bucket's moves with
  -- every request; a fixed or sliding window's when it rolls or its limit's window was changed).
  local ends = nil
  if ARGV[1] == '' then
    ends = expires_at(c, r.L)
    if whole or tonumber(v[11]) ~= ends then
      set[#set + 1] = 'e'; set[#set + 1] = fmt(ends)
    else
      ends = nil
    end
  end
  if SUBJECT then note(set, seenS, sfield, 'ns', ns) end
  if CLIENT_IP then note(set, seenI, ifield, 'ni', ni) end
  if c.m then
    if whole or c.m ~= v[6] then set[#set + 1] = 'm'; set[#set + 1] = c.m end
  elseif v[6] then
    redis.call('HDEL', key, 'm')
  end
  redis.call('HSET', key, unpack(set))
  if ends then redis.call('PEXPIRE', key, math.max(1, ends - now)) end
  if crossed == 0 then return 1, 0, nil end
  local details = {}
  reply_counter(details, c)
  local all = sightings(key)
  for i = 1, #all do details[#details + 1] = all[i] end
  return 1, 1, details
end
`;

// ARGV[2..6] of check, commit and hit: has subject 0|1, subject, has client IP 0|1, client IP, and the
// deadline: Redis's time (ms) after which the client has given up on the call (0: none). A call Redis runs
// later (it was stopped, or its queue that long) writes nothing and answers an error: the request was
// answered by the fallback meanwhile, and counting it here too would count it twice once Redis is back.
const SHARED = `
local now = now_ms(ARGV[1])
local SUBJECT, CLIENT_IP = nil, nil
if ARGV[2] == '1' then SUBJECT = ARGV[3] end
if ARGV[4] == '1' then CLIENT_IP = ARGV[5] end
local deadline = tonumber(ARGV[6])
if deadline > 0 and now > deadline then
  return redis.error_reply('LATE the client gave up on this call ' .. (now - deadline) .. ' ms ago')
end
`;

/**
 * check: KEYS[1..n] the request's counters; ARGV[1] the time, [2..6] as SHARED, then eight per counter from
 * ARGV[7 + 8(i-1)]: algorithm, count, window, burst, cost, instance ("" none), carry ("count@since" or a
 * count, COUNTER's carry_of), carry's instance (COUNTER's read). Writes nothing.
 * Reply: per counter {isNew 0|1, charge, level, over 0|1, when over the counter's instance (else "") and
 * how long its period lasts (ms, 0 none), now}.
 */
export const CHECK_SCRIPT = PRELUDE + WRITE + SHARED + COUNTER + `
local out = {}
for i = 1, #KEYS do
  local b = 6 + (i - 1) * 8
  local carry, since = carry_of(ARGV[b + 7])
  local r = read(KEYS[i], limit_at(b), now, carry, ARGV[b + 8], since)
  measure(r, now, tonumber(ARGV[b + 5]), ARGV[b + 6])
  out[i] = check_reply(r, now)
end
return out
`;

/**
 * commit: KEYS[1..n] the request's counters; ARGV[1] the time, [2..6] as SHARED, then ten per counter
 * from ARGV[7 + 10(i-1)]: algorithm, count, window, burst, cost, instance, carry, carry's instance,
 * counted 0|1, limit alerts 0|1.
 * Reply: per counter {stored 0|1, charge, level, over 0|1, crossed 0|1, now, then when crossed the
 * counter (t, c, l, a, p, m) and its sightings as field, count pairs (the alert lists them)}.
 */
export const COMMIT_SCRIPT = PRELUDE + WRITE + SHARED + COUNTER + `
local out = {}
for i = 1, #KEYS do
  local b = 6 + (i - 1) * 10
  local carry, since = carry_of(ARGV[b + 7])
  local r = read(KEYS[i], limit_at(b), now, carry, ARGV[b + 8], since)
  measure(r, now, tonumber(ARGV[b + 5]), ARGV[b + 6])
  local stored, crossed, details = write(r, now, ARGV[b + 9] == '1', ARGV[b + 10] == '1')
  local over = 0
  if r.over then over = 1 end
  local reply = { stored, r.charge, num(r.level), over, crossed, now }
  if details then for j = 1, #details do reply[#reply + 1] = details[j] end end
  out[i] = reply
end
return out
`;

/**
 * hit, check and commit in one call when the limits are the only concern, for every request of a turn
 * (limits/redis-outbox.ts): one call's overhead and the script's definitions are shared by them (docs/
 * decisions.md, "One script call per turn"). KEYS: every request's counters, one request after the other;
 * ARGV[1] the time, then per request (limits/redis-hit-args.ts): its words, then only the texts it has, in
 * this order: its subject, its client address, and per counter its instance and its carry's instance (the
 * words say which: an absent one is '' in the script). The words: how many counters (n), has subject 0|1,
 * has client address 0|1, the deadline (as SHARED's), refused already 0|1 (a refusal answered from the local
 * cache), then eleven per counter: algorithm, count, window, burst, cost, carry, strict 0|1, refuses when
 * over 0|1, limit alerts 0|1, has instance 0|1, has carry's instance 0|1. A request is refused when a
 * counter over its limit refuses (the engine's rule, limits/limit-engine.ts); a strict limit counts it
 * anyway, a leaky one only when not.
 * Reply: per request {numbers, instances of the counters over..., crossings...} (hit's comment below); or,
 * for a request that could not be answered (past its deadline, a script error), the error's text (a string
 * where the others have an array): the others are answered still.
 */
export const HIT_SCRIPT = PRELUDE + WRITE + `
local now = now_ms(ARGV[1])
local SUBJECT, CLIENT_IP = nil, nil
` + COUNTER + `
-- A request's words (limits/redis-hit-args.ts), read into its plan: the head's flags and deadline, and per
-- counter its limit, cost, carry and flags. The requests of one call mostly send the same words (the same
-- limits, the same deadline), so each text is read once a call: splitting it cost ~3 µs a request, the
-- limits' tables more (docs/decisions.md, "The hit script's own work").
local plans = {}
local function plan_of(text)
  local plan = plans[text]
  if plan then return plan end
  local w, m = {}, 0
  for word in string.gmatch(text, '%S+') do m = m + 1; w[m] = word end
  local n = tonumber(w[1])
  local counters = {}
  local texts = 0 -- the instances the request sends after its subject and client address
  for i = 1, n do
    local a = 5 + (i - 1) * 11
    counters[i] = {
      L = { algo = w[a + 1], count = tonumber(w[a + 2]), window = tonumber(w[a + 3]), burst = tonumber(w[a + 4]) },
      cost = tonumber(w[a + 5]), strict = w[a + 7] == '1', refuses = w[a + 8] == '1',
      alerts = w[a + 9] == '1', instance = w[a + 10] == '1', carry_instance = w[a + 11] == '1' }
    counters[i].carry, counters[i].since = carry_of(w[a + 6])
    if counters[i].instance then texts = texts + 1 end
    if counters[i].carry_instance then texts = texts + 1 end
  end
  plan = { n = n, subject = w[2] == '1', client_ip = w[3] == '1', deadline = tonumber(w[4]),
    refused = w[5] == '1', counters = counters, texts = texts }
  plans[text] = plan
  return plan
end
-- One request: its counters from KEYS[k + 1] as its plan says, the instances and carries' instances it has
-- from ARGV[t] on (those it has not are '').
local function hit(k, t, plan)
  local n, counters, refused = plan.n, plan.counters, plan.refused
  local read_all = {}
  for i = 1, n do
    local pc = counters[i]
    local inst, carry_inst = '', ''
    if pc.instance then inst = ARGV[t]; t = t + 1 end
    if pc.carry_instance then carry_inst = ARGV[t]; t = t + 1 end
    local r = read(KEYS[k + i], pc.L, now, pc.carry, carry_inst, pc.since)
    measure(r, now, pc.cost, inst)
    if r.over and pc.refuses then refused = true end
    read_all[i] = r
  end
  -- The reply: one string of numbers, because a reply's elements each cost the client more to decode
  -- than their text (docs/decisions.md, "One script call per turn"): per counter new, charge, level, over,
  -- period left (ms, when over), crossed; then now. After it the counter's instance for each counter over,
  -- then for each crossing its counter and sightings (t, c, l, a, p, m, field, count, ...).
  local numbers, over_instances, crossings = {}, {}, {}
  local m = 0
  for i = 1, n do
    local pc = counters[i]
    local r = read_all[i]
    local new, over, left = 0, 0, 0
    if r.new then new = 1 end
    if r.over then
      over = 1
      over_instances[#over_instances + 1] = r.c.m or ''
      left = period_left(r, now)
    end
    local _, crossed, details = write(r, now, (not refused) or pc.strict, pc.alerts)
    numbers[m + 1] = DIGITS[new]; numbers[m + 2] = fmt(r.charge); numbers[m + 3] = fmt(r.level)
    numbers[m + 4] = DIGITS[over]; numbers[m + 5] = fmt(left); numbers[m + 6] = DIGITS[crossed]
    m = m + 6
    if details then crossings[#crossings + 1] = details end
  end
  numbers[m + 1] = fmt(now)
  local out = { table.concat(numbers, ' ') }
  for i = 1, #over_instances do out[#out + 1] = over_instances[i] end
  for i = 1, #crossings do out[#out + 1] = crossings[i] end
  return out
end
local replies = {}
local k, b = 0, 2
while b <= #ARGV do
  local plan = plan_of(ARGV[b])
  local n = plan.n
  local subject, client_ip = nil, nil
  local t = b + 1
  if plan.subject then subject = ARGV[t]; t = t + 1 end
  if plan.client_ip then client_ip = ARGV[t]; t = t + 1 end
  if plan.deadline > 0 and now > plan.deadline then
    replies[#replies + 1] = 'LATE the client gave up on this call ' .. (now - plan.deadline) .. ' ms ago'
  else
    sightings_of(subject, client_ip)
    local ok, reply = pcall(hit, k, t, plan)
    if ok then
      replies[#replies + 1] = reply
    elseif type(reply) == 'table' and reply.err then
      replies[#replies + 1] = reply.err
    else
      replies[#replies + 1] = 'ERR ' .. tostring(reply)
    end
  end
  k = k + n
  b = t + plan.texts
end
return replies
`;

/**
 * flush: a local cache's pending counts for a key no request has carried (limits/over-cache.ts): KEYS[1];
 * ARGV[1] the time, [2..5] the limit, [6] carry, [7] carry's instance. A crossing they make is left to the
 * key's next request (it alerts; none may come from here). Reply: 1 written, 0 the counter was gone.
 */
export const FLUSH_SCRIPT = PRELUDE + WRITE + `
local now = now_ms(ARGV[1])
local SUBJECT, CLIENT_IP = nil, nil
` + COUNTER + `
local carry, since = carry_of(ARGV[6])
local r = read(KEYS[1], limit_at(1), now, carry, ARGV[7], since)
if r.new then return 0 end
measure(r, now, 0, '')
r.over = false
write(r, now, false, false)
return 1
`;

/** recordSubject: KEYS[1]; ARGV[1] subject. Noted only on a counter that exists; no roll (as in memory). */
export const SUBJECT_SCRIPT = PRELUDE + WRITE + `
if redis.call('EXISTS', KEYS[1]) == 1 then sight(KEYS[1], 's', 'ns', ARGV[1], 1) end
return 0
`;

/**
 * alertSettled: KEYS[1]; ARGV[1] the alert's window start, ARGV[2] the state (2 sent, 3 no mail went out).
 * Set if still that window.
 */
export const SETTLED_SCRIPT = `
local t = redis.call('HGET', KEYS[1], 't')
if t and tonumber(t) == tonumber(ARGV[1]) then redis.call('HSET', KEYS[1], 'a', ARGV[2]); return 1 end
return 0
`;

// The shared store's retry while Redis is away (limits/shared-store.ts): Redis is back when it runs a script
// that writes, as every request's call does. A PING alone answers while every script fails: over maxmemory
// with noeviction (OOM at a script's first write) or for a user not allowed EVALSHA (NOPERM). TIME: every
// script reads Redis's clock. SET, not HSET: it writes over a key of any type. The key expires.
export const PROBE_SCRIPT = `
redis.call('TIME')
redis.call('SET', KEYS[1], '1', 'PX', 1000)
return 1
`;

/**
 * merge, the upgrade and reconciliation paths: KEYS[1]; ARGV[6] mode ("adopt": only when Redis has no
 * counter; "add": add a counter counted elsewhere), [7] the deadline (as SHARED's: a merge Redis runs after
 * the client gave up writes nothing, so that the client may merge the counter again), [8..13] its t, c, l,
 * a, p, m, [14] how many sighting pairs follow (field, count, as in the hash). Both counters are brought to
 * now; "add" keeps Redis's window and adds the counts (it never lowers one), the further alert state wins.
 * KEYS[2], when given: the call's token (limits/merges-in-doubt.ts, redis-keys.ts mergeTokenKey), set with
 * the counter added and kept until the counter sent holds nothing: the same call sent again, its answer
 * lost the first time, adds nothing.
 * Reply: {1 written | 0 not (adopt: Redis had one; either: the counter held nothing any more) | 2 this
 * token's call had run already, nothing written}.
 */
export const MERGE_SCRIPT = PRELUDE + WRITE + `
local key = KEYS[1]
local now = now_ms(ARGV[1])
local L = limit_at(1)
local mode = ARGV[6]
local deadline = tonumber(ARGV[7])
if deadline > 0 and now > deadline then
  return redis.error_reply('LATE the client gave up on this call ' .. (now - deadline) .. ' ms ago')
end
local c = load(key)
if c ~= nil and mode == 'adopt' then return 0 end
local o = { t = tonumber(ARGV[8]), c = tonumber(ARGV[9]), l = tonumber(ARGV[10]), a = tonumber(ARGV[11]),
  p = tonumber(ARGV[12]), m = ARGV[13] }
if o.m == '' then o.m = false end
local oact = roll(o, L, now)
-- The token, with the rest of the call in this one atomic script: kept until the counter sent holds
-- nothing (its window's end, a bucket drained), after which the same call adds nothing anyway.
if KEYS[2] and not redis.call('SET', KEYS[2], '1', 'NX', 'PX', math.max(1, expires_at(o, L) - now)) then
  return 2
end
local pairs_n = tonumber(ARGV[14])
if c == nil then
  if o.c == 0 and o.p == 0 and o.a == 0 then return 0 end
  c = o
else
  local act = roll(c, L, now)
  apply_sightings(key, act)
  c.c = c.c + o.c
  c.p = c.p + o.p
  c.l = math.max(c.l, o.l)
  if o.a > c.a then c.a = o.a end
  c.m = merged_instances(c.m, o.m)
end
if oact ~= 'forget' then
  for i = 0, pairs_n - 1 do
    local field = ARGV[15 + 2 * i]
    local times = tonumber(ARGV[16 + 2 * i])
    local gen = string.sub(field, 1, 1)
    local value = string.sub(field, 3)
    -- aged: the newer generation becomes the older one, the older one goes
    if oact == 'age' then
      if gen == 's' or gen == 'i' then gen = string.upper(gen) else gen = nil end
    end
    if gen then sight(key, gen, 'n' .. gen, value, times) end
  end
end
store(key, c, L, now)
return 1
`;

/** The fields of a counter as HMGET returns them for the control plane (t, c, l, a, p, m). */
export const COUNTER_FIELDS = ["t", "c", "l", "a", "p", "m"] as const;

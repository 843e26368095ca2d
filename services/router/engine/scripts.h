// The engine's Lua scripts: every state transition of queues, offers, presence and capacity.
// Each runs atomically in Redis, so with any number of router replicas a conversation is never
// offered to two agents at once nor assigned twice, and an agent's capacity is never exceeded
// (every script that reserves or holds capacity checks `used + cost <= cap` itself).
//
// Calling convention: ARGV[1] key prefix, ARGV[2] now (ms since the epoch), ARGV[3] agent event
// stream MAXLEN; the script's own arguments from ARGV[4]. KEYS is empty: keys are built from
// the prefix (a standalone or Sentinel Redis, not Cluster). Protobuf bytes (agent events,
// session updates) are built in C++ and passed in; scripts only append them to streams. The
// key schema is keys.h; docs/adr/0011-router-on-redis.md explains the design.
#pragma once

namespace parley::router::engine::scripts {

// Helpers every script starts with.
inline constexpr char kPrelude[] = R"lua(
local P = ARGV[1]
local NOW = tonumber(ARGV[2])
local MAXLEN = ARGV[3]
local function num(v) return tonumber(v or '0') or 0 end
local function int(n) return string.format('%.0f', n) end
local function varint(n)
  local out = {}
  while n >= 128 do
    out[#out + 1] = string.char(n % 128 + 128)
    n = math.floor(n / 128)
  end
  out[#out + 1] = string.char(n)
  return table.concat(out)
end
-- A length-delimited protobuf field: its tag bytes, then `bytes`. Appending a field to
-- serialized bytes sets it (a scalar) or merges into it (a message).
local function field(tag, bytes) return tag .. varint(#bytes) .. bytes end
-- A serialized google.protobuf.Timestamp of `ms`.
local function timestamp(ms)
  local ts = string.char(8) .. varint(math.floor(ms / 1000))
  local nanos = (ms % 1000) * 1000000
  if nanos > 0 then ts = ts .. string.char(16) .. varint(nanos) end
  return ts
end
-- Appends AgentEvent.event_time (field 3) = `ms` to serialized AgentEvent bytes.
local function with_time(bytes, ms)
  return bytes .. field(string.char(26), timestamp(ms))
end
-- Prebuilt bytes an offer keeps for the ways it can end; dropped once it ended.
local function drop_prebuilt(okey)
  redis.call('HDEL', okey, 'e_exp', 'e_rej', 'e_wd', 'e_cl', 'e_lq', 'e_as', 'u_as')
end
local function event(agent, bytes)
  if bytes == nil or bytes == '' then return end
  redis.call('XADD', P .. 'agent-events:{' .. agent .. '}', 'MAXLEN', '~', MAXLEN, '*', 'e', bytes)
end
-- Routing updates for session, numbered per conversation; the number also grows with time so
-- that it keeps increasing after Redis lost its data.
local function session_update(conv, bytes)
  if bytes == nil or bytes == '' then return end
  local ckey = P .. 'conv:' .. conv
  local seq = math.max(num(redis.call('HGET', ckey, 'seq')) + 1, NOW * 1000)
  redis.call('HSET', ckey, 'seq', int(seq))
  redis.call('XADD', P .. 'session-updates', '*', 'c', conv, 's', int(seq), 'u', bytes)
end
local function hold(agent, conv, cost)
  local akey = P .. 'agent:' .. agent
  redis.call('HINCRBY', akey, 'used', cost)
  redis.call('HINCRBY', akey, 'active', 1)
  redis.call('HSET', akey, 'idle', int(NOW))
  redis.call('SADD', P .. 'agent-convs:' .. agent, conv)
end
local function release(agent, conv, cost)
  local akey = P .. 'agent:' .. agent
  redis.call('HINCRBY', akey, 'used', -cost)
  redis.call('HINCRBY', akey, 'active', -1)
  redis.call('SREM', P .. 'agent-convs:' .. agent, conv)
end
-- kind: common.v1.AssignmentKind number; from: the transferring agent or ''.
local function assign(conv, agent, kind, from)
  local ckey = P .. 'conv:' .. conv
  redis.call('HSET', ckey, 'st', 'assigned', 'agent', agent, 'offer', '', 'at', int(NOW),
             'kind', kind, 'from', from)
  redis.call('HINCRBY', ckey, 'ver', 1)
end
local function note_rate(queue)
  if queue == nil or queue == '' then return end
  redis.call('LPUSH', P .. 'qrate:' .. queue, int(NOW))
  redis.call('LTRIM', P .. 'qrate:' .. queue, 0, 19)
end
-- Whether the agent can hold `cost` more units now: {ok, presence, free}.
local function room(agent, cost)
  local a = redis.call('HMGET', P .. 'agent:' .. agent, 'p', 'used', 'cap', 'en')
  local free = num(a[3]) - num(a[2])
  return a[4] == '1' and free >= cost, a[1] or '5', free, a[4] == '1'
end
-- Ends a pending offer: frees the reservation, tells the agent (prebuilt event `field`), and
-- puts the conversation back in its queue at its old place. Returns the queue id or false.
local function end_offer(offer, reason, field, tried)
  local okey = P .. 'offer:' .. offer
  local o = redis.call('HMGET', okey, 'conv', 'agent', 'cost', 'end', field)
  if not o[1] or o[4] ~= '' then return false end
  local conv, agent = o[1], o[2]
  redis.call('HSET', okey, 'end', reason)
  redis.call('EXPIRE', okey, 86400)
  redis.call('ZREM', P .. 'offer-deadlines', offer)
  redis.call('SREM', P .. 'agent-offers:' .. agent, offer)
  redis.call('HINCRBY', P .. 'agent:' .. agent, 'used', -num(o[3]))
  redis.call('HINCRBY', P .. 'agent:' .. agent, 'po', -1)
  if o[5] then event(agent, with_time(o[5], NOW)) end
  drop_prebuilt(okey)
  local ckey = P .. 'conv:' .. conv
  if redis.call('HGET', ckey, 'offer') ~= offer then return false end
  local c = redis.call('HMGET', ckey, 'q', 'score')
  redis.call('HSET', ckey, 'st', 'queued', 'offer', '')
  redis.call('HINCRBY', ckey, 'ver', 1)
  redis.call('HINCRBY', ckey, 'noff', 1)
  redis.call('ZADD', P .. 'queue:' .. c[1], c[2], conv)
  if tried then redis.call('SADD', P .. 'conv-tried:' .. conv, agent) end
  return c[1]
end
local function withdraw_all(agent, field)
  local queues = {}
  for _, offer in ipairs(redis.call('SMEMBERS', P .. 'agent-offers:' .. agent)) do
    local q = end_offer(offer, 'withdrawn', field, false)
    if q then queues[#queues + 1] = q end
  end
  return queues
end
-- The first `count` conversations of the queue and, when there is one, the state of the
-- candidate agents ARGV[first..] (see kPeek).
local function peek(queue, count, first)
  local heads = {}
  for _, conv in ipairs(redis.call('ZRANGE', P .. 'queue:' .. queue, 0, count - 1)) do
    local c = redis.call('HMGET', P .. 'conv:' .. conv, 'ver', 'ctx', 'enq', 'dl', 'cost', 'sk', 'noff', 'ws')
    if c[1] then
      heads[#heads + 1] = {conv, c[1], c[2], c[3], c[4], c[5], c[6] or '', c[7] or '0',
                           redis.call('SMEMBERS', P .. 'conv-tried:' .. conv), c[8] or ''}
    end
  end
  if #heads == 0 then return {heads, {}, ''} end
  local agents = {}
  for i = first, #ARGV do
    local a = redis.call('HMGET', P .. 'agent:' .. ARGV[i], 'p', 'used', 'cap', 'en', 'active', 'idle', 'po')
    for j = 1, 7 do a[j] = a[j] or '' end
    agents[#agents + 1] = a
  end
  return {heads, agents, redis.call('GET', P .. 'rr:' .. queue) or ''}
end
local function status(agent)
  local akey = P .. 'agent:' .. agent
  local a = redis.call('HMGET', akey, 'p', 'pt', 'used', 'cap', 'hb', 'idle', 'active')
  for i = 1, 7 do a[i] = a[i] or '' end
  return {a, redis.call('SMEMBERS', P .. 'agent-convs:' .. agent),
          redis.call('SMEMBERS', P .. 'agent-offers:' .. agent)}
end
)lua";

// ARGV: conv, ws, queue, rule, ctx, enq_ms, deadline_ms, cost, skills, urgent_at_ms (0: never),
// queued session update, preferred agent (or ''), its assigned event, assigned session update,
// heads to peek (0: none), then the queue's members. Returns {outcome, state, queue, position};
// outcome known | finished | queued | assigned; when queued and asked to, kPeek's answer as a
// fifth element, so that the caller's dispatch starts without another round trip.
inline constexpr char kEnqueue[] = R"lua(
local conv, ws, queue, rule, ctx = ARGV[4], ARGV[5], ARGV[6], ARGV[7], ARGV[8]
local enq, dl, cost, skills, urgent_at = ARGV[9], num(ARGV[10]), num(ARGV[11]), ARGV[12], num(ARGV[13])
local preferred = ARGV[15]
local ckey = P .. 'conv:' .. conv
if redis.call('EXISTS', ckey) == 1 then
  local c = redis.call('HMGET', ckey, 'st', 'q')
  local pos = 0
  if c[1] == 'queued' then pos = (redis.call('ZRANK', P .. 'queue:' .. c[2], conv) or -1) + 1 end
  return {'known', c[1], c[2], pos}
end
if redis.call('EXISTS', P .. 'finished:' .. conv) == 1 then return {'finished', '', '', 0} end
local score = enq
if urgent_at > 0 and urgent_at <= NOW then score = int(dl - 1e13) end
redis.call('HSET', ckey, 'st', 'queued', 'ver', 1, 'ws', ws, 'q', queue, 'rule', rule, 'ctx', ctx,
           'enq', enq, 'dl', int(dl), 'cost', cost, 'sk', skills, 'score', score, 'offer', '',
           'agent', '', 'seq', 0, 'noff', 0,
           'eseq', redis.call('GET', P .. 'offer-seq') or '0')
if preferred ~= '' then
  local ok, presence = room(preferred, cost)
  if ok and presence ~= '5' then
    assign(conv, preferred, '4', '')
    hold(preferred, conv, cost)
    event(preferred, ARGV[16])
    session_update(conv, ARGV[17])
    return {'assigned', 'assigned', queue, 0}
  end
end
redis.call('ZADD', P .. 'queue:' .. queue, score, conv)
if urgent_at > NOW then redis.call('ZADD', P .. 'urgent-at', urgent_at, conv) end
session_update(conv, ARGV[14])
local position = redis.call('ZRANK', P .. 'queue:' .. queue, conv) + 1
if num(ARGV[18]) == 0 then return {'queued', 'queued', queue, position} end
return {'queued', 'queued', queue, position, peek(queue, tonumber(ARGV[18]), 19)}
)lua";

// Read only. ARGV: queue, how many heads, then the candidate agent ids (the queue's members,
// sorted).
// Returns {heads, agents, round robin agent}; a head is {conv, ver, ctx, enq, dl, cost, skills,
// noff, {tried...}, ws}; an agent is {p, used, cap, en, active, idle, pending offers}. Without
// heads, the agents are not read (a dispatch after a finish usually finds the queue empty).
inline constexpr char kPeek[] = R"lua(
return peek(ARGV[4], tonumber(ARGV[5]), 6)
)lua";

// ARGV: queue, n, then n times {conv, ver, agent, offer, ws, expire_ms, offer event, expired,
// rejected, withdrawn, closed, left-the-queue events, assigned event, assigned session update
// (the last two without their times: kAccept adds them)}. Makes the offers in order and stops at
// the first that no longer holds (conversation changed while still waiting here, agent no longer
// Available or without room), so that a later conversation never overtakes an earlier one; a
// conversation that no longer waits in this queue (another replica offered it, it was finished or
// moved) is skipped, since nothing can overtake it any more. Returns how many were made.
inline constexpr char kOffer[] = R"lua(
local queue, n = ARGV[4], tonumber(ARGV[5])
local function offer_one(b, cost)
  local conv, agent, offer, ws, exp = ARGV[b], ARGV[b + 2], ARGV[b + 3], ARGV[b + 4], ARGV[b + 5]
  local ckey = P .. 'conv:' .. conv
  redis.call('ZREM', P .. 'queue:' .. queue, conv)
  redis.call('HSET', ckey, 'st', 'offered', 'offer', offer)
  redis.call('HINCRBY', ckey, 'ver', 1)
  if not redis.call('HGET', ckey, 'first') then
    redis.call('HSET', ckey, 'first', redis.call('INCR', P .. 'offer-seq'))
  end
  redis.call('HSET', P .. 'offer:' .. offer, 'conv', conv, 'agent', agent, 'q', queue, 'ws', ws,
             'cost', cost, 't', int(NOW), 'exp', exp, 'end', '', 'e_exp', ARGV[b + 7],
             'e_rej', ARGV[b + 8], 'e_wd', ARGV[b + 9], 'e_cl', ARGV[b + 10],
             'e_lq', ARGV[b + 11], 'e_as', ARGV[b + 12], 'u_as', ARGV[b + 13])
  redis.call('ZADD', P .. 'offer-deadlines', exp, offer)
  redis.call('SADD', P .. 'agent-offers:' .. agent, offer)
  redis.call('HINCRBY', P .. 'agent:' .. agent, 'used', cost)
  redis.call('HINCRBY', P .. 'agent:' .. agent, 'po', 1)
  redis.call('SET', P .. 'rr:' .. queue, agent)
  event(agent, ARGV[b + 6])
end
local made = 0
for i = 0, n - 1 do
  local b = 6 + i * 14
  local c = redis.call('HMGET', P .. 'conv:' .. ARGV[b], 'st', 'ver', 'q', 'cost')
  if c[1] == 'queued' and c[3] == queue then
    if c[2] ~= ARGV[b + 1] then break end
    local cost = num(c[4])
    local ok, presence = room(ARGV[b + 2], cost)
    if not ok or presence ~= '1' then break end
    offer_one(b, cost)
    made = made + 1
  end
end
return made
)lua";

// Read only. ARGV: conv. Returns {conv hash, rank or -1, queue length, offer hash} (hashes as
// flat field/value lists; empty when missing).
inline constexpr char kReadConversation[] = R"lua(
local ckey = P .. 'conv:' .. ARGV[4]
local c = redis.call('HGETALL', ckey)
if #c == 0 then return {{}, -1, 0, {}} end
local st, q, offer = unpack(redis.call('HMGET', ckey, 'st', 'q', 'offer'))
local rank, len = -1, 0
if st == 'queued' then
  rank = redis.call('ZRANK', P .. 'queue:' .. q, ARGV[4]) or -1
  len = redis.call('ZCARD', P .. 'queue:' .. q)
end
local o = {}
if offer and offer ~= '' then o = redis.call('HGETALL', P .. 'offer:' .. offer) end
return {c, rank, len, o}
)lua";

// ARGV: offer, agent. Assigns the conversation, with the assigned event and session update
// the offer prebuilt (the script adds event_time and assign_time). Returns {outcome, ...}:
// ok (conv, queue, work stream, cost, enqueue ms, assign ms) | notfound | denied | ended (how).
inline constexpr char kAccept[] = R"lua(
local offer, agent = ARGV[4], ARGV[5]
local okey = P .. 'offer:' .. offer
local o = redis.call('HMGET', okey, 'conv', 'agent', 'end', 'q', 'ws', 'cost', 'e_as', 'u_as')
if not o[1] then return {'notfound'} end
if o[2] ~= agent then return {'denied'} end
if o[3] ~= '' then return {'ended', o[3]} end
local conv = o[1]
redis.call('HSET', okey, 'end', 'accepted')
redis.call('EXPIRE', okey, 86400)
redis.call('ZREM', P .. 'offer-deadlines', offer)
redis.call('SREM', P .. 'agent-offers:' .. agent, offer)
drop_prebuilt(okey)
assign(conv, agent, '1', '')
local akey = P .. 'agent:' .. agent
redis.call('HINCRBY', akey, 'po', -1)
redis.call('HINCRBY', akey, 'active', 1)
redis.call('HSET', akey, 'idle', int(NOW))
redis.call('SADD', P .. 'agent-convs:' .. agent, conv)
note_rate(o[4])
local at = timestamp(NOW)
-- AgentEvent.assigned (12) { assignment (1) { assign_time (8) } }
event(agent, with_time(o[7] or '', NOW) ..
             field(string.char(98), field(string.char(10), field(string.char(66), at))))
-- ApplyRoutingUpdateRequest.assigned (11) { assign_time (6) }
session_update(conv, (o[8] or '') .. field(string.char(90), field(string.char(50), at)))
return {'ok', conv, o[4], o[5], o[6], redis.call('HGET', P .. 'conv:' .. conv, 'enq') or '0',
        int(NOW)}
)lua";

// ARGV: offer, agent. Returns {outcome, detail}: ok (detail: queue) | notfound | denied |
// ended (detail: how).
inline constexpr char kReject[] = R"lua(
local offer, agent = ARGV[4], ARGV[5]
local o = redis.call('HMGET', P .. 'offer:' .. offer, 'conv', 'agent', 'end')
if not o[1] then return {'notfound', ''} end
if o[2] ~= agent then return {'denied', ''} end
if o[3] ~= '' then return {'ended', o[3]} end
return {'ok', end_offer(offer, 'rejected', 'e_rej', true) or ''}
)lua";

// ARGV: offer. Ends it when still pending and due. Returns its queue, or '' when nothing
// changed.
inline constexpr char kExpire[] = R"lua(
local o = redis.call('HMGET', P .. 'offer:' .. ARGV[4], 'end', 'exp')
if not o[1] then
  redis.call('ZREM', P .. 'offer-deadlines', ARGV[4])
  return ''
end
if o[1] ~= '' or num(o[2]) > NOW then return '' end
return end_offer(ARGV[4], 'expired', 'e_exp', true) or ''
)lua";

// ARGV: agent, presence number, capacity, enabled (1/0). Returns {queues to dispatch, status}.
inline constexpr char kSetPresence[] = R"lua(
local agent, presence = ARGV[4], ARGV[5]
local akey = P .. 'agent:' .. agent
local old = redis.call('HGET', akey, 'p')
redis.call('HSET', akey, 'cap', ARGV[6], 'en', ARGV[7], 'hb', int(NOW))
if old ~= presence then redis.call('HSET', akey, 'p', presence, 'pt', int(NOW)) end
if presence == '1' and old ~= '1' then redis.call('HSET', akey, 'idle', int(NOW)) end
if presence == '5' then
  redis.call('ZREM', P .. 'heartbeats', agent)
else
  redis.call('ZADD', P .. 'heartbeats', NOW, agent)
end
local queues = {}
if presence ~= '1' then queues = withdraw_all(agent, 'e_wd') end
return {queues, status(agent)}
)lua";

// ARGV: agent, capacity, enabled. Returns {status}.
inline constexpr char kHeartbeat[] = R"lua(
local agent = ARGV[4]
local akey = P .. 'agent:' .. agent
redis.call('HSET', akey, 'cap', ARGV[5], 'en', ARGV[6], 'hb', int(NOW))
local p = redis.call('HGET', akey, 'p')
if not p then redis.call('HSET', akey, 'p', '5', 'pt', int(NOW)) end
if p and p ~= '5' then redis.call('ZADD', P .. 'heartbeats', NOW, agent) end
return {status(agent)}
)lua";

// Read only. ARGV: agent. Returns {status}.
inline constexpr char kStatus[] = R"lua(
return {status(ARGV[4])}
)lua";

// ARGV: agent, cutoff ms. Turns the agent OFFLINE when no heartbeat came since the cutoff.
// Returns the queues to dispatch again.
inline constexpr char kHeartbeatExpiry[] = R"lua(
local agent = ARGV[4]
local akey = P .. 'agent:' .. agent
local a = redis.call('HMGET', akey, 'p', 'hb')
if not a[1] or a[1] == '5' then
  redis.call('ZREM', P .. 'heartbeats', agent)
  return {}
end
if num(a[2]) > num(ARGV[5]) then return {} end
redis.call('HSET', akey, 'p', '5', 'pt', int(NOW))
redis.call('ZREM', P .. 'heartbeats', agent)
return withdraw_all(agent, 'e_wd')
)lua";

// ARGV: agent, capacity, enabled, then the agent's queues. Copies the definition into Redis; a
// disabled agent goes OFFLINE; offers made for a queue the agent is no longer a member of are
// withdrawn. Returns the queues to dispatch again (one per withdrawn offer).
inline constexpr char kSyncAgent[] = R"lua(
local agent = ARGV[4]
local akey = P .. 'agent:' .. agent
redis.call('HSET', akey, 'cap', ARGV[5], 'en', ARGV[6])
local p = redis.call('HGET', akey, 'p')
if not p then redis.call('HSET', akey, 'p', '5', 'pt', int(NOW)) end
if ARGV[6] ~= '1' and p and p ~= '5' then
  redis.call('HSET', akey, 'p', '5', 'pt', int(NOW))
  redis.call('ZREM', P .. 'heartbeats', agent)
  return withdraw_all(agent, 'e_wd')
end
local member = {}
for i = 7, #ARGV do member[ARGV[i]] = true end
local queues = {}
for _, offer in ipairs(redis.call('SMEMBERS', P .. 'agent-offers:' .. agent)) do
  local q = redis.call('HGET', P .. 'offer:' .. offer, 'q')
  if q and not member[q] and end_offer(offer, 'withdrawn', 'e_lq', false) then
    queues[#queues + 1] = q
  end
end
return queues
)lua";

// ARGV: conv. Makes a queued conversation urgent (served first, by deadline).
inline constexpr char kPromote[] = R"lua(
local conv = ARGV[4]
local ckey = P .. 'conv:' .. conv
redis.call('ZREM', P .. 'urgent-at', conv)
local c = redis.call('HMGET', ckey, 'st', 'q', 'dl')
if not c[1] then return 0 end
local score = int(num(c[3]) - 1e13)
redis.call('HSET', ckey, 'score', score, 'urgent', '1')
if c[1] == 'queued' then redis.call('ZADD', P .. 'queue:' .. c[2], score, conv) end
return 1
)lua";

// ARGV: conv, closed event without agent_id and released_capacity (the script appends them:
// AgentEvent.agent_id = 2, AgentEvent.conversation_closed = 16 { released_capacity = 3 }).
// Returns {outcome, agent, released capacity, state it was in}; outcome ok | unknown.
inline constexpr char kFinish[] = R"lua(
local conv = ARGV[4]
local ckey = P .. 'conv:' .. conv
redis.call('SET', P .. 'finished:' .. conv, '1', 'EX', 604800)
local c = redis.call('HMGET', ckey, 'st', 'q', 'offer', 'agent', 'cost')
if not c[1] then return {'unknown', '', 0, ''} end
local agent, released = '', 0
if c[1] == 'offered' then
  agent = redis.call('HGET', P .. 'offer:' .. c[3], 'agent') or ''
  end_offer(c[3], 'withdrawn', 'e_cl', false)
  released = num(c[5])
elseif c[1] == 'assigned' then
  agent = c[4]
  released = num(c[5])
  release(agent, conv, released)
  local capacity = string.char(24) .. varint(released)
  event(agent, ARGV[5] .. string.char(18) .. varint(#agent) .. agent ..
               string.char(130, 1) .. varint(#capacity) .. capacity)
end
redis.call('ZREM', P .. 'queue:' .. c[2], conv)
redis.call('ZREM', P .. 'urgent-at', conv)
redis.call('DEL', ckey, P .. 'conv-tried:' .. conv)
return {'ok', agent, released, c[1]}
)lua";

// ARGV: conv, expected ver, agent, assigned event, session update, request key, response.
// Returns {outcome, detail...}: ok | repeat (response) | gone | taken | retry | disabled |
// presence (number) | capacity (free, cost).
inline constexpr char kPick[] = R"lua(
local conv, ver, agent = ARGV[4], ARGV[5], ARGV[6]
local prior = redis.call('GET', ARGV[9])
if prior then return {'repeat', prior} end
local ckey = P .. 'conv:' .. conv
local c = redis.call('HMGET', ckey, 'st', 'ver', 'cost', 'q')
if not c[1] then return {'gone'} end
if c[1] ~= 'queued' then return {'taken'} end
if c[2] ~= ver then return {'retry'} end
local cost = num(c[3])
local ok, presence, free, enabled = room(agent, cost)
if not enabled then return {'disabled'} end
if presence ~= '1' and presence ~= '2' then return {'presence', presence} end
if not ok then return {'capacity', tostring(free), tostring(cost)} end
redis.call('ZREM', P .. 'queue:' .. c[4], conv)
redis.call('ZREM', P .. 'urgent-at', conv)
assign(conv, agent, '2', '')
hold(agent, conv, cost)
note_rate(c[4])
event(agent, ARGV[7])
session_update(conv, ARGV[8])
redis.call('SET', ARGV[9], ARGV[10], 'EX', 86400)
return {'ok'}
)lua";

// ARGV: conv, expected ver, from agent, to agent ('' for a queue), to queue ('' for an agent),
// transferred event (source), assigned event (target), session update, request key, response.
// Returns {outcome, detail...}: ok (position) | repeat (response) | gone | denied | retry |
// disabled | presence (number) | capacity (free, cost).
inline constexpr char kTransfer[] = R"lua(
local conv, ver, from, to, to_queue = ARGV[4], ARGV[5], ARGV[6], ARGV[7], ARGV[8]
local prior = redis.call('GET', ARGV[12])
if prior then return {'repeat', prior} end
local ckey = P .. 'conv:' .. conv
local c = redis.call('HMGET', ckey, 'st', 'ver', 'agent', 'cost', 'score')
if not c[1] then return {'gone'} end
if c[1] ~= 'assigned' or c[3] ~= from then return {'denied'} end
if c[2] ~= ver then return {'retry'} end
local cost = num(c[4])
local position = 0
if to ~= '' then
  local ok, presence, free, enabled = room(to, cost)
  if not enabled then return {'disabled'} end
  if presence ~= '1' and presence ~= '2' then return {'presence', presence} end
  if not ok then return {'capacity', tostring(free), tostring(cost)} end
  release(from, conv, cost)
  assign(conv, to, '3', from)
  hold(to, conv, cost)
  event(to, ARGV[10])
else
  release(from, conv, cost)
  redis.call('HSET', ckey, 'st', 'queued', 'agent', '', 'q', to_queue)
  redis.call('HINCRBY', ckey, 'ver', 1)
  redis.call('ZADD', P .. 'queue:' .. to_queue, c[5], conv)
  position = redis.call('ZRANK', P .. 'queue:' .. to_queue, conv) + 1
end
event(from, ARGV[9])
session_update(conv, ARGV[11])
redis.call('SET', ARGV[12], ARGV[13], 'EX', 86400)
return {'ok', tostring(position)}
)lua";

// ARGV: conv, ws, queue, ctx, enq, dl, cost, agent. Rebuild after Redis lost its data: records
// a conversation session has as assigned, holding the agent's capacity; no events.
inline constexpr char kRestoreAssigned[] = R"lua(
local conv, agent, cost = ARGV[4], ARGV[11], num(ARGV[10])
local ckey = P .. 'conv:' .. conv
if redis.call('EXISTS', ckey) == 1 then return 0 end
redis.call('HSET', ckey, 'st', 'assigned', 'ver', 1, 'ws', ARGV[5], 'q', ARGV[6], 'rule', '',
           'ctx', ARGV[7], 'enq', ARGV[8], 'dl', ARGV[9], 'cost', cost, 'sk', '',
           'score', ARGV[8], 'offer', '', 'agent', agent, 'seq', 0, 'noff', 0, 'at', int(NOW))
hold(agent, conv, cost)
return 1
)lua";

// Read only. ARGV: queue, start, count. Returns {length, {conv, queue, ws, ctx, enq, dl,
// cost, skills, urgent}...}.
inline constexpr char kQueuePage[] = R"lua(
local qkey = P .. 'queue:' .. ARGV[4]
local out = {}
for _, conv in ipairs(redis.call('ZRANGE', qkey, ARGV[5], tonumber(ARGV[5]) + tonumber(ARGV[6]) - 1)) do
  local c = redis.call('HMGET', P .. 'conv:' .. conv, 'ws', 'ctx', 'enq', 'dl', 'cost', 'sk', 'urgent', 'score')
  if c[1] then
    out[#out + 1] = {conv, c[1], c[2], c[3], c[4], c[5], c[6] or '', c[7] or '', c[8]}
  end
end
return {redis.call('ZCARD', qkey), out}
)lua";

}  // namespace parley::router::engine::scripts

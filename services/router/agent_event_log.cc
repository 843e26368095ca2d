#include "services/router/agent_event_log.h"

#include <algorithm>

#include "absl/strings/ascii.h"
#include "absl/strings/escaping.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "google/protobuf/util/time_util.h"
#include "libs/common/log.h"
#include "services/router/admin_checks.h"

namespace parley::router {
namespace {

// Shared by the scripts below: compares two normalized entry ids ("<ms>-<seq>", no leading
// zeros) as numbers, by string length first, so that ids beyond 2^53 compare right too.
constexpr char kIdCompare[] = R"lua(
local function cmp_num(a, b)
  if #a ~= #b then return #a < #b and -1 or 1 end
  if a == b then return 0 end
  return a < b and -1 or 1
end
local function cmp_id(a, b)
  local am, as = string.match(a, '^(%d+)-(%d+)$')
  local bm, bs = string.match(b, '^(%d+)-(%d+)$')
  local c = cmp_num(am, bm)
  if c ~= 0 then return c end
  return cmp_num(as, bs)
end
local function stream_info(key)
  local info = redis.call('XINFO', 'STREAM', key)
  local f = {}
  for i = 1, #info, 2 do f[info[i]] = info[i + 1] end
  return f
end
)lua";

// KEYS[1] the stream. Returns {last id, entries added}; {"0-0", "0"} when there is no stream.
constexpr char kTailBody[] = R"lua(
if redis.call('EXISTS', KEYS[1]) == 0 then return {'0-0', '0'} end
local f = stream_info(KEYS[1])
return {f['last-generated-id'], tostring(f['entries-added'])}
)lua";

// KEYS[1] the stream; ARGV: cursor id, cursor ordinal (-1 unknown), count.
// Returns {'gone'} when entries after the cursor are no longer kept, else
// {'ok', next ordinal (-1 unknown), entries}.
constexpr char kReadBody[] = R"lua(
local key, cursor, ordinal, count = KEYS[1], ARGV[1], tonumber(ARGV[2]), tonumber(ARGV[3])
if redis.call('EXISTS', key) == 0 then
  if ordinal == 0 then return {'ok', '0', {}} end
  return {'gone'}
end
local f = stream_info(key)
local added, len, last = f['entries-added'], f['length'], f['last-generated-id']
if cmp_id(cursor, last) > 0 then return {'gone'} end
if ordinal >= 0 then
  if added < ordinal or added - len > ordinal then return {'gone'} end
else
  if cmp_id(cursor, last) == 0 then return {'ok', tostring(added), {}} end
  if len == 0 then return {'gone'} end
  if cmp_id(cursor, f['first-entry'][1]) < 0 then return {'gone'} end
end
local entries = redis.call('XRANGE', key, '(' .. cursor, '+', 'COUNT', count)
local next_ordinal = -1
if ordinal >= 0 then
  next_ordinal = ordinal + #entries
elseif #entries > 0 and entries[#entries][1] == last then
  next_ordinal = added
end
return {'ok', tostring(next_ordinal), entries}
)lua";

// KEYS[1] the conversation (engine hash), KEYS[2] the dedupe key of source_event_id.
// ARGV: agent stream key prefix (up to the agent id), event bytes without agent_id, MAXLEN,
// dedupe TTL seconds, the oldest id to keep (max age). Returns {1, event id} when appended, {0,
// why} otherwise. The dedupe key is written last: a script that fails half-way changes nothing a
// retry would skip.
constexpr char kPublishBody[] = R"lua(
if redis.call('EXISTS', KEYS[2]) == 1 then return {0, 'repeat'} end
local st = redis.call('HGET', KEYS[1], 'st')
local agent = redis.call('HGET', KEYS[1], 'agent')
if st ~= 'assigned' or not agent or agent == '' then
  redis.call('SET', KEYS[2], '0', 'EX', ARGV[4])
  return {0, 'not assigned'}
end
local bytes = ARGV[2]
if #agent < 128 then bytes = bytes .. '\18' .. string.char(#agent) .. agent end
local stream = ARGV[1] .. agent .. '}'
local id = redis.call('XADD', stream, 'MAXLEN', '~', ARGV[3], '*', 'e', bytes)
redis.call('XTRIM', stream, 'MINID', '~', ARGV[5])
redis.call('SET', KEYS[2], '1', 'EX', ARGV[4])
return {1, id}
)lua";

// The published events' dedupe keys: `<prefix>published:<source_event_id>`.
std::string PublishedKey(const engine::Keys& keys, absl::string_view source_event_id) {
  return absl::StrCat(keys.prefix(), "published:", source_event_id);
}

absl::Status Unexpected(absl::string_view what) {
  return absl::InternalError(absl::StrCat("redis: unexpected reply to ", what));
}

// One stream entry {id, {field, value, ...}} as an event; nullopt-like false when its `e`
// field is missing or does not parse (logged and skipped: one bad entry must not stop a stream).
bool DecodeEntry(const redis::Reply& entry, absl::string_view agent_id, v1::AgentEvent& out) {
  if (entry.type != redis::Reply::Type::kArray || entry.elements.size() != 2) return false;
  const redis::Reply& fields = entry.elements[1];
  for (size_t i = 0; i + 1 < fields.elements.size(); i += 2) {
    if (fields.elements[i].str != "e") continue;
    if (!out.ParseFromString(fields.elements[i + 1].str)) break;
    out.set_event_id(entry.elements[0].str);
    out.set_agent_id(std::string(agent_id));
    return true;
  }
  log::Warn("agent event entry skipped: no parsable field e",
            {{"agent_id", agent_id}, {"event_id", entry.elements[0].str}});
  return false;
}

}  // namespace

absl::StatusOr<std::string> ParseEventId(absl::string_view id, absl::string_view field) {
  const std::vector<absl::string_view> parts = absl::StrSplit(id, '-');
  uint64_t ms = 0, seq = 0;
  const auto digits = [](absl::string_view p) {
    return !p.empty() && p.size() <= 20 &&
           std::all_of(p.begin(), p.end(), [](char c) { return absl::ascii_isdigit(c); });
  };
  if (parts.size() != 2 || !digits(parts[0]) || !digits(parts[1]) ||
      !absl::SimpleAtoi(parts[0], &ms) || !absl::SimpleAtoi(parts[1], &seq)) {
    return absl::InvalidArgumentError(
        absl::StrCat("`", field, "` must be an event id as received (<ms>-<seq>), got '",
                     absl::CHexEscape(id.substr(0, 64)), "'"));
  }
  return absl::StrCat(ms, "-", seq);
}

absl::Status ValidatePublishRequest(const v1::PublishConversationEventRequest& request) {
  if (absl::Status s = CheckUuid("source_event_id", request.source_event_id()); !s.ok()) {
    return s;
  }
  if (absl::Status s = CheckUuid("conversation_id", request.conversation_id()); !s.ok()) {
    return s;
  }
  if (request.event_case() == v1::PublishConversationEventRequest::EVENT_NOT_SET) {
    return absl::InvalidArgumentError(
        "`event` must be set: `customer_message` or `delivery_status`");
  }
  return absl::OkStatus();
}

AgentEventLog::AgentEventLog(engine::RedisPool& redis, engine::Keys keys,
                             AgentEventLogOptions options)
    : redis_(redis),
      keys_(std::move(keys)),
      options_(options),
      tail_script_(absl::StrCat(kIdCompare, kTailBody)),
      read_script_(absl::StrCat(kIdCompare, kReadBody)),
      publish_script_(kPublishBody) {}

absl::StatusOr<EventCursor> AgentEventLog::Tail(absl::string_view agent_id) {
  absl::StatusOr<redis::Reply> reply =
      tail_script_.Run(redis_.Get(), {keys_.AgentEvents(agent_id)}, {});
  if (!reply.ok()) return reply.status();
  EventCursor cursor;
  if (reply->elements.size() != 2 || !absl::SimpleAtoi(reply->elements[1].str, &cursor.ordinal)) {
    return Unexpected("the tail script");
  }
  cursor.id = reply->elements[0].str;
  return cursor;
}

absl::StatusOr<AgentEventPage> AgentEventLog::Read(absl::string_view agent_id, EventCursor& cursor,
                                                   int limit) {
  absl::StatusOr<redis::Reply> reply =
      read_script_.Run(redis_.Get(), {keys_.AgentEvents(agent_id)},
                       {cursor.id, absl::StrCat(cursor.ordinal), absl::StrCat(limit)});
  if (!reply.ok()) return reply.status();
  if (reply->elements.empty()) return Unexpected("the read script");
  if (reply->elements[0].str == "gone") {
    return absl::OutOfRangeError(absl::StrCat(
        "events after ", cursor.id,
        " are no longer kept (the agent's event history was trimmed or lost); reload the "
        "agent's state and reconnect with an empty `after_event_id`"));
  }
  int64_t next_ordinal = -1;
  if (reply->elements.size() != 3 || !absl::SimpleAtoi(reply->elements[1].str, &next_ordinal)) {
    return Unexpected("the read script");
  }
  AgentEventPage page;
  const std::vector<redis::Reply>& entries = reply->elements[2].elements;
  page.events.reserve(entries.size());
  for (const redis::Reply& entry : entries) {
    v1::AgentEvent event;
    if (DecodeEntry(entry, agent_id, event)) page.events.push_back(std::move(event));
  }
  if (!entries.empty()) cursor.id = entries.back().elements[0].str;
  cursor.ordinal = next_ordinal;
  page.more = static_cast<int>(entries.size()) >= limit;
  return page;
}

absl::StatusOr<std::string> AgentEventLog::Append(absl::string_view agent_id,
                                                  const v1::AgentEvent& event) {
  v1::AgentEvent stored = event;
  stored.clear_event_id();
  stored.set_agent_id(std::string(agent_id));
  absl::StatusOr<redis::Reply> reply =
      redis_.Get().Command({"XADD", keys_.AgentEvents(agent_id), "MAXLEN", "~",
                            absl::StrCat(options_.max_len), "*", "e", stored.SerializeAsString()});
  if (!reply.ok()) return reply.status();
  if (reply->type != redis::Reply::Type::kString) return Unexpected("XADD");
  return reply->str;
}

absl::StatusOr<bool> AgentEventLog::Publish(const v1::PublishConversationEventRequest& request,
                                            absl::Time now) {
  v1::AgentEvent event;
  event.set_conversation_id(request.conversation_id());
  *event.mutable_event_time() =
      google::protobuf::util::TimeUtil::NanosecondsToTimestamp(absl::ToUnixNanos(now));
  if (request.has_customer_message()) {
    *event.mutable_customer_message() = request.customer_message();
  } else {
    *event.mutable_delivery_status() = request.delivery_status();
  }
  std::string stream_prefix = keys_.AgentEvents("");
  stream_prefix.pop_back();  // the closing brace comes after the agent id
  absl::StatusOr<redis::Reply> reply = publish_script_.Run(
      redis_.Get(),
      {keys_.Conversation(request.conversation_id()),
       PublishedKey(keys_, request.source_event_id())},
      {stream_prefix, event.SerializeAsString(), absl::StrCat(options_.max_len),
       absl::StrCat(absl::ToInt64Seconds(options_.dedupe_ttl)),
       absl::StrCat(std::max<int64_t>(absl::ToUnixMillis(now - options_.max_age), 0), "-0")});
  if (!reply.ok()) return reply.status();
  if (reply->elements.empty() || reply->elements[0].type != redis::Reply::Type::kInteger) {
    return Unexpected("the publish script");
  }
  return reply->elements[0].integer == 1;
}

}  // namespace parley::router

// The agents' event streams in Redis, as the event stream service reads and appends them. One
// Redis Stream per agent, `<prefix>agent-events:{<agent_id>}`, written by the engine's Lua
// scripts (offers, assignments, transfers, closes) and by PublishConversationEvent (customer
// messages and delivery statuses); entry field `e` holds a serialized router.v1.AgentEvent
// whose `event_id` is the entry id. Streams are trimmed to a bounded length (XADD MAXLEN ~).
//
// Reading is cursor-based and exact about trimming: every read checks, in the same Lua script
// as its XRANGE, that no entry after the cursor has been trimmed away or lost with the stream
// (deleted, or Redis restarted without its data), and answers OUT_OF_RANGE when one was. A
// cursor knows its entry's ordinal (Redis' entries-added count) once it has caught up with the
// stream's end, so that from then on the check is exact even for streams that were empty or
// missing; a cursor made from a client's id alone is checked by comparing ids with the oldest
// entry kept (conservative only when the client's own entry was the newest one trimmed).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "parley/router/v1/router.pb.h"
#include "services/router/engine/keys.h"
#include "services/router/engine/lua_script.h"
#include "services/router/engine/redis_pool.h"

namespace parley::router {

// A position in one agent's stream: the last entry consumed.
struct EventCursor {
  std::string id = "0-0";  // entry id, normalized "<ms>-<seq>"
  int64_t ordinal = -1;    // how many entries the stream had added up to `id`; -1 unknown
};

struct AgentEventPage {
  std::vector<v1::AgentEvent> events;
  bool more = false;  // the page was full: more may follow at once
};

// Checks a client's event id ("<ms>-<seq>", both decimal) and returns it normalized.
// INVALID_ARGUMENT naming `field` otherwise.
absl::StatusOr<std::string> ParseEventId(absl::string_view id, absl::string_view field);

struct AgentEventLogOptions {
  int64_t max_len = 10000;                      // XADD MAXLEN ~ of appends made here
  absl::Duration max_age = absl::Hours(24);     // and XTRIM MINID ~ now - max_age
  absl::Duration dedupe_ttl = absl::Hours(24);  // how long a source_event_id is remembered
};

class AgentEventLog {
 public:
  AgentEventLog(engine::RedisPool& redis, engine::Keys keys, AgentEventLogOptions options = {});

  const engine::Keys& keys() const { return keys_; }
  engine::RedisPool& redis() { return redis_; }

  // The stream's current end: reading from it returns only events appended afterwards.
  absl::StatusOr<EventCursor> Tail(absl::string_view agent_id);

  // A cursor just after the client's `after_event_id` (already normalized by ParseEventId).
  static EventCursor After(std::string event_id) { return {std::move(event_id), -1}; }

  // Up to `limit` events after `cursor`, oldest first, with event_id and agent_id set; moves
  // `cursor` past them. OUT_OF_RANGE when events after the cursor are no longer kept;
  // UNAVAILABLE when Redis does not answer.
  absl::StatusOr<AgentEventPage> Read(absl::string_view agent_id, EventCursor& cursor, int limit);

  // Appends `event` to the agent's stream and returns its event id (what the engine's scripts
  // do for their own events; used by tests and tools).
  absl::StatusOr<std::string> Append(absl::string_view agent_id, const v1::AgentEvent& event);

  // PublishConversationEvent: appends the event to the stream of the agent the conversation is
  // assigned to, atomically with the check, and remembers `source_event_id`. True when
  // appended; false when the conversation is not assigned (dropped) or the id was seen before.
  // The request must be valid (ValidatePublishRequest).
  absl::StatusOr<bool> Publish(const v1::PublishConversationEventRequest& request, absl::Time now);

 private:
  engine::RedisPool& redis_;
  const engine::Keys keys_;
  const AgentEventLogOptions options_;
  const engine::LuaScript tail_script_;
  const engine::LuaScript read_script_;
  const engine::LuaScript publish_script_;
};

// INVALID_ARGUMENT for what the proto lists: `source_event_id` or `conversation_id` not a
// UUID; no event.
absl::Status ValidatePublishRequest(const v1::PublishConversationEventRequest& request);

}  // namespace parley::router

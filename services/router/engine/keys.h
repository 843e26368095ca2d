// The Redis key schema of router's engine, in one place so that every component (the engine's
// Lua scripts, the sweeper, the session relay, the agent event stream) names keys the same
// way. Every key starts with a configurable prefix. See docs/adr/0011-router-on-redis.md.
#pragma once

#include <string>

#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"

namespace parley::router::engine {

class Keys {
 public:
  explicit Keys(std::string prefix) : prefix_(std::move(prefix)) {}

  const std::string& prefix() const { return prefix_; }
  std::string Conversation(absl::string_view id) const { return Key("conv:", id); }
  std::string ConversationTried(absl::string_view id) const { return Key("conv-tried:", id); }
  std::string Finished(absl::string_view id) const { return Key("finished:", id); }
  std::string Queue(absl::string_view id) const { return Key("queue:", id); }
  std::string UrgentAt() const { return prefix_ + "urgent-at"; }
  std::string Offer(absl::string_view id) const { return Key("offer:", id); }
  std::string OfferDeadlines() const { return prefix_ + "offer-deadlines"; }
  std::string Agent(absl::string_view id) const { return Key("agent:", id); }
  std::string AgentConversations(absl::string_view id) const { return Key("agent-convs:", id); }
  std::string AgentOffers(absl::string_view id) const { return Key("agent-offers:", id); }
  std::string Heartbeats() const { return prefix_ + "heartbeats"; }
  std::string RoundRobin(absl::string_view queue_id) const { return Key("rr:", queue_id); }
  std::string QueueRate(absl::string_view queue_id) const { return Key("qrate:", queue_id); }
  std::string Request(absl::string_view request_id) const { return Key("req:", request_id); }
  std::string SessionUpdates() const { return prefix_ + "session-updates"; }
  std::string Epoch() const { return prefix_ + "epoch"; }
  // Braces are literal: a Redis Cluster hash tag, so that one agent's stream stays on one node.
  std::string AgentEvents(absl::string_view agent_id) const {
    return absl::StrCat(prefix_, "agent-events:{", agent_id, "}");
  }

 private:
  std::string Key(absl::string_view kind, absl::string_view id) const {
    return absl::StrCat(prefix_, kind, id);
  }

  std::string prefix_;
};

}  // namespace parley::router::engine

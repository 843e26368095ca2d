// Router's engine: queues, presence, capacity, offers and assignment, kept in Redis and changed
// only by the Lua scripts of scripts.h, so that any number of router replicas can serve at
// once. Conversations are queued FIFO (by enqueue time) within each queue, urgent ones (reply
// deadline near) first; push-mode dispatch offers queue heads to Available agents with room,
// chosen by the work stream's strategy; an offer reserves capacity until accepted (held),
// rejected or expired (released, offered to someone else). Every change is appended, in the
// same script, to the agent's event stream and (queued/assigned) to session's update stream.
//
// The gRPC layer (presence_service.h, routing_service.h) validates requests before calling in;
// the engine checks what needs the definitions or Redis' state (NOT_FOUND, PERMISSION_DENIED,
// FAILED_PRECONDITION) and returns the statuses router.proto lists. Redis errors come back as
// UNAVAILABLE. The background work (offer expiry, heartbeats, urgency, periodic dispatch) is
// SweepOnce(), run by every replica's Sweeper. See docs/adr/0011-router-on-redis.md.
#pragma once

#include <cstdint>
#include <mutex>
#include <string>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "libs/common/executor.h"
#include "libs/redis/client.h"
#include "parley/router/v1/router.pb.h"
#include "services/router/engine/keys.h"
#include "services/router/engine/lua_script.h"
#include "services/router/engine/redis_pool.h"
#include "services/router/routing_definitions.h"

namespace parley::router {
class RouterMetrics;
enum class OfferOutcome;
}  // namespace parley::router

namespace parley::router::engine {

struct EngineOptions {
  std::string key_prefix = "parley:router:";
  absl::Duration offline_after = absl::Seconds(45);       // no heartbeat for this long: OFFLINE
  absl::Duration heartbeat_interval = absl::Seconds(15);  // what clients are told
  int64_t event_stream_max_len = 10000;                   // XADD MAXLEN ~ of agent streams
  int dispatch_batch = 16;                                // queue heads looked at per round
  int sweep_batch = 200;                                  // due offers/agents handled per sweep
};

// What a sweep did, for logs and tests.
struct SweepResult {
  int offers_expired = 0;
  int agents_offline = 0;
  int promoted = 0;
  int offers_made = 0;
};

class RedisEngine {
 public:
  // `metrics` (may be null in tests) learns how offers end and how long assignment took.
  RedisEngine(RedisPool& redis, const RoutingDefinitions& definitions, EngineOptions options,
              RouterMetrics* metrics = nullptr);

  const Keys& keys() const { return keys_; }
  const EngineOptions& options() const { return options_; }

  // Presence. NOT_FOUND for an unknown agent; FAILED_PRECONDITION when a disabled agent asks
  // for anything but OFFLINE. Leaving AVAILABLE withdraws pending offers; becoming AVAILABLE
  // dispatches the agent's queues.
  absl::StatusOr<v1::AgentStatus> SetPresence(const std::string& agent_id, v1::Presence presence);
  absl::StatusOr<v1::AgentStatus> Heartbeat(const std::string& agent_id);
  absl::StatusOr<v1::AgentStatus> GetAgentStatus(const std::string& agent_id);

  // Routing; requests are already validated (ids are UUIDs, required fields set).
  absl::StatusOr<v1::EnqueueConversationResponse> Enqueue(
      const v1::EnqueueConversationRequest& request);
  absl::StatusOr<v1::GetQueuePositionResponse> GetQueuePosition(const std::string& conversation_id);
  absl::StatusOr<v1::Assignment> AcceptOffer(const std::string& offer_id,
                                             const std::string& agent_id);
  absl::Status RejectOffer(const std::string& offer_id, const std::string& agent_id);
  // The conversations the agent could pick (pick-mode work streams, skills matched), in
  // serving order; `queue_id` empty for all the agent's queues. `offset`/`limit` page them.
  absl::StatusOr<std::vector<v1::QueuedConversation>> ListQueued(const std::string& agent_id,
                                                                 const std::string& queue_id,
                                                                 int offset, int limit);
  absl::StatusOr<v1::Assignment> Pick(const std::string& agent_id,
                                      const std::string& conversation_id,
                                      const std::string& request_id);
  absl::StatusOr<v1::TransferConversationResponse> Transfer(
      const v1::TransferConversationRequest& request);
  absl::StatusOr<v1::FinishConversationResponse> Finish(
      const v1::FinishConversationRequest& request);

  // Offers the queue's waiting conversations while some Available agent can take them.
  // Returns how many offers this call made. One dispatch per queue runs at a time in this
  // replica: a call that finds one running only asks it to look again (and returns 0), and
  // when such requests came in during the caller's own pass, the dispatcher thread takes over
  // the next passes, so that a burst of enqueues costs a few batched passes, not one pass
  // each racing the others, and no caller waits behind somebody else's work.
  absl::StatusOr<int> DispatchQueue(const std::string& queue_id);
  // Dispatches every queue of the agent, highest priority first.
  absl::Status DispatchAgent(const std::string& agent_id);
  // Every push-mode queue that has conversations waiting (the periodic safety net).
  absl::StatusOr<int> DispatchAll();

  // Offer expiry, heartbeat expiry, urgency promotion, then DispatchAll.
  absl::StatusOr<SweepResult> SweepOnce();

  // Copies capacity and enabled of every agent of the snapshot into Redis (a disabled agent
  // goes OFFLINE, withdrawing its offers), withdraws the offers an agent still has for queues
  // it is no longer a member of, and dispatches again.
  absl::Status SyncAgents(const RoutingSnapshot& snapshot);

  // Rebuild after Redis lost its data: records a conversation session has as assigned
  // (ACTIVE, WAITING, WRAP_UP), holding the agent's capacity. False when already known.
  absl::StatusOr<bool> RestoreAssigned(const std::string& conversation_id,
                                       const std::string& work_stream_id,
                                       const std::string& queue_id,
                                       const common::v1::EngagementContext& context,
                                       int64_t enqueue_ms, int64_t deadline_ms,
                                       const std::string& agent_id);

  // Runs one of scripts.h (prelude added) with the prefix, the time and MAXLEN in front of
  // `args`.
  absl::StatusOr<redis::Reply> Run(const LuaScript& script, std::vector<std::string> args);

 private:
  struct Head;
  struct Candidate;
  // One round: peek (or use `peeked`, kPeek's answer read already), decide, offer.
  absl::StatusOr<int> DispatchRound(const RoutingSnapshot& snapshot, const v1::Queue& queue,
                                    const redis::Reply* peeked, bool* more);
  // Rounds until the queue has nothing more to offer; DispatchQueue's one pass. `peeked`: the
  // first round's peek, when the caller has it.
  absl::StatusOr<int> DispatchPass(const RoutingSnapshot& snapshot, const std::string& queue_id,
                                   const redis::Reply* peeked);
  // Marks a pass over the queue as running in this caller; false when one already runs.
  bool ClaimDispatch(const std::string& queue_id);
  // After a pass: whether a look again was asked for meanwhile (the pass then goes on in the
  // dispatcher thread), else the queue is marked idle.
  bool ContinueDispatch(const std::string& queue_id, bool failed);
  void ContinueInBackground(const std::string& queue_id);
  absl::Status DispatchQueues(const std::vector<std::string>& queue_ids);
  v1::AgentStatus StatusFrom(const RoutingSnapshot& snapshot, const std::string& agent_id,
                             const redis::Reply& reply) const;
  absl::StatusOr<redis::Reply> ReadConversation(const std::string& conversation_id);
  absl::StatusOr<std::string> PriorResponse(const std::string& request_id);
  // Metrics, when there are any: `n` offers ended so; an assignment after `waited_ms`.
  void NoteOffersEnded(OfferOutcome outcome, size_t n);
  void NoteAssigned(const std::string& queue_id, int64_t waited_ms);

  RedisPool& redis_;
  const RoutingDefinitions& definitions_;
  const EngineOptions options_;
  const Keys keys_;
  RouterMetrics* const metrics_;

  struct DispatchState {
    bool again = false;  // someone asked for another pass while one was running
  };
  std::mutex dispatch_mu_;
  absl::flat_hash_map<std::string, DispatchState> dispatching_;  // queues with a pass running
  Executor dispatcher_{1};  // declared last: joined first, while the rest is still alive
};

}  // namespace parley::router::engine

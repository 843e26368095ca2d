// The routing definitions in PostgreSQL (schema `router`): work streams, queues and their
// members, routing rules, agents. Every method validates its request completely (the errors
// router.proto lists for RoutingAdminService, with the field path in the message), so a direct
// caller gets exactly what a gRPC client gets. Every change bumps router.revision in the same
// transaction, which is how the caches of every replica notice it (definitions_cache.h).
#pragma once

#include <cstdint>
#include <functional>
#include <string>

#include "absl/status/statusor.h"
#include "libs/pg/pool.h"
#include "parley/router/v1/router.pb.h"
#include "services/router/routing_definitions.h"

namespace parley::router {

// What the live engine (Redis) knows and PostgreSQL does not: how many conversations use a
// queue, a work stream or an agent. The admin API consults it before deleting, and for
// Queue.depth. An unset function counts as 0 (no engine wired in).
struct LiveUsage {
  // Conversations waiting in the queue.
  std::function<absl::StatusOr<int64_t>(const std::string& queue_id)> queue_depth;
  // Conversations of the work stream queued, offered or assigned.
  std::function<absl::StatusOr<int64_t>(const std::string& work_stream_id)>
      work_stream_conversations;
  // Conversations assigned to the agent plus offers pending for them.
  std::function<absl::StatusOr<int64_t>(const std::string& agent_id)> agent_conversations;
};

class PgRoutingStore {
 public:
  explicit PgRoutingStore(pg::Pool& pool, LiveUsage usage = {})
      : pool_(pool), usage_(std::move(usage)) {}

  // Not thread-safe against concurrent calls: set once before serving.
  void set_live_usage(LiveUsage usage) { usage_ = std::move(usage); }

  absl::StatusOr<v1::WorkStream> CreateWorkStream(const v1::CreateWorkStreamRequest& request);
  absl::StatusOr<v1::WorkStream> GetWorkStream(const v1::GetWorkStreamRequest& request);
  absl::StatusOr<v1::ListWorkStreamsResponse> ListWorkStreams(
      const v1::ListWorkStreamsRequest& request);
  absl::StatusOr<v1::WorkStream> UpdateWorkStream(const v1::UpdateWorkStreamRequest& request);
  absl::Status DeleteWorkStream(const v1::DeleteWorkStreamRequest& request);

  absl::StatusOr<v1::Queue> CreateQueue(const v1::CreateQueueRequest& request);
  absl::StatusOr<v1::Queue> GetQueue(const v1::GetQueueRequest& request);
  absl::StatusOr<v1::ListQueuesResponse> ListQueues(const v1::ListQueuesRequest& request);
  absl::StatusOr<v1::Queue> UpdateQueue(const v1::UpdateQueueRequest& request);
  absl::Status DeleteQueue(const v1::DeleteQueueRequest& request);

  absl::StatusOr<v1::RoutingRule> CreateRoutingRule(const v1::CreateRoutingRuleRequest& request);
  absl::StatusOr<v1::RoutingRule> GetRoutingRule(const v1::GetRoutingRuleRequest& request);
  absl::StatusOr<v1::ListRoutingRulesResponse> ListRoutingRules(
      const v1::ListRoutingRulesRequest& request);
  absl::StatusOr<v1::RoutingRule> UpdateRoutingRule(const v1::UpdateRoutingRuleRequest& request);
  absl::Status DeleteRoutingRule(const v1::DeleteRoutingRuleRequest& request);
  absl::StatusOr<v1::ReorderRoutingRulesResponse> ReorderRoutingRules(
      const v1::ReorderRoutingRulesRequest& request);

  absl::StatusOr<v1::Agent> CreateAgent(const v1::CreateAgentRequest& request);
  absl::StatusOr<v1::Agent> GetAgent(const v1::GetAgentRequest& request);
  absl::StatusOr<v1::ListAgentsResponse> ListAgents(const v1::ListAgentsRequest& request);
  absl::StatusOr<v1::Agent> UpdateAgent(const v1::UpdateAgentRequest& request);
  absl::Status DeleteAgent(const v1::DeleteAgentRequest& request);

  // The current revision (0 before any change).
  absl::StatusOr<int64_t> Revision();
  // Every definition at one instant (one REPEATABLE READ transaction), with its revision.
  absl::StatusOr<RoutingSnapshot> LoadSnapshot();

 private:
  int32_t Depth(const std::string& queue_id) const;

  pg::Pool& pool_;
  LiveUsage usage_;
};

}  // namespace parley::router

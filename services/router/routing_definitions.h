// The routing definitions (work streams, queues, rules, agents) as the rest of router reads
// them: an immutable snapshot, replaced as a whole when an administrator changes anything on
// any replica. The definitions live in PostgreSQL (pg_routing_store.h); the cache
// (definitions_cache.h) reloads them within seconds of a change. The engine (Redis) never
// queries PostgreSQL on the hot path.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "parley/common/v1/common.pb.h"
#include "parley/router/v1/router.pb.h"

namespace parley::router {

struct RoutingSnapshot {
  // Every map is keyed by Parley id.
  absl::flat_hash_map<std::string, parley::router::v1::WorkStream> work_streams;
  absl::flat_hash_map<std::string, parley::router::v1::Queue> queues;  // agent_ids filled in
  absl::flat_hash_map<std::string, parley::router::v1::Agent> agents;  // queue_ids filled in
  // Enabled and disabled rules of each work stream, in `position` order.
  absl::flat_hash_map<std::string, std::vector<parley::router::v1::RoutingRule>> rules;
  // Increases with every change; lets consumers (the Redis sync of agents) skip no-op reloads.
  int64_t revision = 0;
};

// Where a new conversation goes.
struct RouteDecision {
  std::string queue_id;
  std::vector<std::string> required_skills;  // from the matching rule; empty for the default
  std::string rule_id;                       // empty when the default queue was used
};

// Evaluates the work stream's enabled rules in order against the engagement context; the first
// that matches wins, else the work stream's default queue. NOT_FOUND when the work stream is
// unknown. Defined in rules.cc.
absl::StatusOr<RouteDecision> Route(const RoutingSnapshot& snapshot,
                                    absl::string_view work_stream_id,
                                    const parley::common::v1::EngagementContext& context);

class RoutingDefinitions {
 public:
  virtual ~RoutingDefinitions() = default;
  // The newest snapshot loaded; never null (empty before the first load).
  virtual std::shared_ptr<const RoutingSnapshot> Current() const = 0;
};

}  // namespace parley::router

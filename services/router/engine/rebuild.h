// Rebuilds router's Redis state from session, the system of record, after Redis lost its data
// (a restart without persistence, a failover to an empty replica): every OPEN conversation is
// queued again (EnqueueConversation's own idempotency makes a second rebuild harmless), and
// every ACTIVE, WAITING or WRAP_UP conversation is recorded as assigned to its agent, holding
// the agent's capacity, so that nothing is stranded and no agent is overloaded afterwards.
#pragma once

#include "absl/status/status.h"
#include "absl/time/time.h"
#include "parley/session/v1/session.grpc.pb.h"
#include "services/router/engine/redis_engine.h"

namespace parley::router::engine {

struct RebuildCounts {
  int queued = 0;
  int assigned = 0;
};

// Pages through session's ListConversations; UNAVAILABLE when session does not answer (the
// sweeper tries again next round).
absl::StatusOr<RebuildCounts> RebuildFromSession(
    RedisEngine& engine, session::v1::ConversationService::StubInterface& session,
    absl::Duration call_timeout);

}  // namespace parley::router::engine

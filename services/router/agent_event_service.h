// AgentEventService (callback API): StreamAgentEvents sends an agent's events from a Redis
// Stream, first those after the client's last id (catch-up), then new ones as the hub
// (agent_event_hub.h) announces them; PublishConversationEvent appends session's customer
// messages and delivery statuses to the assigned agent's stream, once per source_event_id.
//
// Each open stream is a ServerWriteReactor with its own cursor; Redis reads run on the
// executor, one at a time per stream, and the next page is read only when the previous one
// has been written, so a slow client holds at most one page in memory. Several streams of one
// agent (two desktops) each read everything. The stream ends with CANCELLED when the client
// goes away, OUT_OF_RANGE when history after its position was trimmed, and UNAVAILABLE when
// Redis fails or the replica shuts down (the hub closes every subscription then).
#pragma once

#include "libs/common/executor.h"
#include "parley/router/v1/router.grpc.pb.h"
#include "services/router/agent_event_hub.h"
#include "services/router/agent_event_log.h"
#include "services/router/router_metrics.h"
#include "services/router/routing_definitions.h"

namespace parley::router {

class AgentEventServiceImpl : public v1::AgentEventService::CallbackService {
 public:
  // Everything must outlive the gRPC server and `executor`'s last task. `metrics` may be null.
  AgentEventServiceImpl(AgentEventLog& log, AgentEventHub& hub,
                        const RoutingDefinitions& definitions, Executor& executor,
                        RouterMetrics* metrics);

  grpc::ServerWriteReactor<v1::AgentEvent>* StreamAgentEvents(
      grpc::CallbackServerContext* ctx, const v1::StreamAgentEventsRequest* req) override;
  grpc::ServerUnaryReactor* PublishConversationEvent(
      grpc::CallbackServerContext* ctx, const v1::PublishConversationEventRequest* req,
      v1::PublishConversationEventResponse* resp) override;

 private:
  class Stream;
  struct Deps {
    AgentEventLog& log;
    AgentEventHub& hub;
    const RoutingDefinitions& definitions;
    Executor& executor;
    RouterMetrics* metrics;
  };

  AgentEventLog& log_;
  AgentEventHub& hub_;
  const RoutingDefinitions& definitions_;
  Executor& executor_;
  RouterMetrics* metrics_;
};

// INVALID_ARGUMENT naming the field: `agent_id` not a UUID, `after_event_id` malformed,
// `client_id` not 1..64 characters.
absl::Status ValidateStreamRequest(const v1::StreamAgentEventsRequest& request);

}  // namespace parley::router

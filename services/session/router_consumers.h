// Outbox consumers that hand rows to router over gRPC: conversations to route
// (RoutingService.EnqueueConversation, the row id as `request_id`) and customer messages for
// the assigned agent (AgentEventService.PublishConversationEvent, the row id as
// `source_event_id`). Router ignores a repeated id, so a second hand-over changes nothing.
#pragma once

#include <memory>
#include <string>

#include "absl/time/time.h"
#include "parley/router/v1/router.grpc.pb.h"
#include "services/session/outbox_relay.h"

namespace parley::session {

class RouterConsumers {
 public:
  // `address` is router's host:port; each call waits at most `timeout`.
  RouterConsumers(const std::string& address, absl::Duration timeout);

  OutboxConsumer& enqueue() { return enqueue_; }
  OutboxConsumer& agent_events() { return agent_events_; }

 private:
  class Enqueue : public OutboxConsumer {
   public:
    Enqueue(std::unique_ptr<router::v1::RoutingService::Stub> stub, absl::Duration timeout)
        : stub_(std::move(stub)), timeout_(timeout) {}
    absl::Status Deliver(const OutboxRow& row) override;

   private:
    std::unique_ptr<router::v1::RoutingService::Stub> stub_;
    absl::Duration timeout_;
  };
  class AgentEvents : public OutboxConsumer {
   public:
    AgentEvents(std::unique_ptr<router::v1::AgentEventService::Stub> stub, absl::Duration timeout)
        : stub_(std::move(stub)), timeout_(timeout) {}
    absl::Status Deliver(const OutboxRow& row) override;

   private:
    std::unique_ptr<router::v1::AgentEventService::Stub> stub_;
    absl::Duration timeout_;
  };

  Enqueue enqueue_;
  AgentEvents agent_events_;
};

}  // namespace parley::session

// Outbox consumers that hand rows to router over gRPC: conversations to route
// (RoutingService.EnqueueConversation, the row id as `request_id`), customer messages for the
// assigned agent (AgentEventService.PublishConversationEvent, the row id as `source_event_id`)
// and closed conversations (RoutingService.FinishConversation, the row id as `request_id`).
// Router ignores a repeated id, so a second hand-over changes nothing.
#pragma once

#include <functional>
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
  OutboxConsumer& finish() { return finish_; }

 private:
  class Consumer : public OutboxConsumer {
   public:
    explicit Consumer(std::function<absl::Status(const OutboxRow&)> deliver)
        : deliver_(std::move(deliver)) {}
    absl::Status Deliver(const OutboxRow& row) override { return deliver_(row); }

   private:
    std::function<absl::Status(const OutboxRow&)> deliver_;
  };

  std::unique_ptr<router::v1::RoutingService::Stub> routing_;
  std::unique_ptr<router::v1::AgentEventService::Stub> events_;
  const absl::Duration timeout_;
  Consumer enqueue_;
  Consumer agent_events_;
  Consumer finish_;
};

}  // namespace parley::session

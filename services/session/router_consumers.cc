#include "services/session/router_consumers.h"

#include "absl/strings/str_cat.h"
#include "grpcpp/grpcpp.h"
#include "libs/grpc/status.h"

namespace parley::session {
namespace {

std::shared_ptr<grpc::Channel> Channel(const std::string& address) {
  return grpc::CreateChannel(address, grpc::InsecureChannelCredentials());
}

void SetDeadline(grpc::ClientContext* ctx, absl::Duration timeout) {
  ctx->set_deadline(std::chrono::system_clock::now() + absl::ToChronoMilliseconds(timeout));
}

}  // namespace

RouterConsumers::RouterConsumers(const std::string& address, absl::Duration timeout)
    : enqueue_(router::v1::RoutingService::NewStub(Channel(address)), timeout),
      agent_events_(router::v1::AgentEventService::NewStub(Channel(address)), timeout) {}

absl::Status RouterConsumers::Enqueue::Deliver(const OutboxRow& row) {
  router::v1::EnqueueConversationRequest req;
  if (!req.ParseFromString(row.payload)) {
    return absl::DataLossError(absl::StrCat("outbox row ", row.id, ": payload does not parse"));
  }
  req.set_request_id(row.id);
  router::v1::EnqueueConversationResponse resp;
  grpc::ClientContext ctx;
  SetDeadline(&ctx, timeout_);
  return FromGrpcStatus(stub_->EnqueueConversation(&ctx, req, &resp));
}

absl::Status RouterConsumers::AgentEvents::Deliver(const OutboxRow& row) {
  router::v1::PublishConversationEventRequest req;
  if (!req.ParseFromString(row.payload)) {
    return absl::DataLossError(absl::StrCat("outbox row ", row.id, ": payload does not parse"));
  }
  req.set_source_event_id(row.id);
  router::v1::PublishConversationEventResponse resp;
  grpc::ClientContext ctx;
  SetDeadline(&ctx, timeout_);
  return FromGrpcStatus(stub_->PublishConversationEvent(&ctx, req, &resp));
}

}  // namespace parley::session

#include "services/session/router_consumers.h"

#include "absl/strings/str_cat.h"
#include "grpcpp/grpcpp.h"
#include "libs/grpc/status.h"

namespace parley::session {
namespace {

std::shared_ptr<grpc::Channel> Channel(const std::string& address) {
  return grpc::CreateChannel(address, grpc::InsecureChannelCredentials());
}

// Parses the row's payload as `Request`, lets `set_id` stamp the row id on it, and makes the
// call with `timeout`.
template <typename Request, typename Response, typename Call, typename SetId>
absl::Status HandOver(const OutboxRow& row, absl::Duration timeout, SetId set_id, Call call) {
  Request request;
  if (!request.ParseFromString(row.payload)) {
    return absl::DataLossError(absl::StrCat("outbox row ", row.id, ": payload does not parse"));
  }
  set_id(request, row.id);
  Response response;
  grpc::ClientContext ctx;
  ctx.set_deadline(std::chrono::system_clock::now() + absl::ToChronoMilliseconds(timeout));
  return FromGrpcStatus(call(&ctx, request, &response));
}

}  // namespace

RouterConsumers::RouterConsumers(const std::string& address, absl::Duration timeout)
    : routing_(router::v1::RoutingService::NewStub(Channel(address))),
      events_(router::v1::AgentEventService::NewStub(Channel(address))),
      timeout_(timeout),
      enqueue_([this](const OutboxRow& row) {
        using Req = router::v1::EnqueueConversationRequest;
        return HandOver<Req, router::v1::EnqueueConversationResponse>(
            row, timeout_, [](Req& r, const std::string& id) { r.set_request_id(id); },
            [this](auto* ctx, const auto& req, auto* resp) {
              return routing_->EnqueueConversation(ctx, req, resp);
            });
      }),
      agent_events_([this](const OutboxRow& row) {
        using Req = router::v1::PublishConversationEventRequest;
        return HandOver<Req, router::v1::PublishConversationEventResponse>(
            row, timeout_, [](Req& r, const std::string& id) { r.set_source_event_id(id); },
            [this](auto* ctx, const auto& req, auto* resp) {
              return events_->PublishConversationEvent(ctx, req, resp);
            });
      }),
      finish_([this](const OutboxRow& row) {
        using Req = router::v1::FinishConversationRequest;
        return HandOver<Req, router::v1::FinishConversationResponse>(
            row, timeout_, [](Req& r, const std::string& id) { r.set_request_id(id); },
            [this](auto* ctx, const auto& req, auto* resp) {
              return routing_->FinishConversation(ctx, req, resp);
            });
      }) {}

}  // namespace parley::session

#include "services/router/routing_service.h"

#include "absl/strings/str_cat.h"
#include "services/router/admin_checks.h"
#include "services/router/rules.h"
#include "services/router/service_call.h"

namespace parley::router {
namespace {

constexpr int kMaxReason = 500;

absl::Status CheckReason(absl::string_view reason) {
  if (const int n = CodePoints(reason); n > kMaxReason) {
    return absl::InvalidArgumentError(
        absl::StrCat("reason: ", n, " characters, at most ", kMaxReason));
  }
  return absl::OkStatus();
}

absl::Status FirstError(std::initializer_list<absl::Status> checks) {
  for (const absl::Status& s : checks) {
    if (!s.ok()) return s;
  }
  return absl::OkStatus();
}

}  // namespace

absl::Status CheckEnqueue(const v1::EnqueueConversationRequest& r) {
  if (absl::Status s = CheckUuid("conversation_id", r.conversation_id()); !s.ok()) return s;
  if (absl::Status s = CheckUuid("request_id", r.request_id()); !s.ok()) return s;
  if (!r.has_context()) return absl::InvalidArgumentError("context: missing");
  if (r.context().channel() == common::v1::CHANNEL_UNSPECIFIED) {
    return absl::InvalidArgumentError("context.channel: unspecified");
  }
  if (!r.has_enqueue_time()) return absl::InvalidArgumentError("enqueue_time: unset");
  if (r.work_stream_id().empty()) return absl::NotFoundError("work_stream_id: missing");
  return absl::OkStatus();
}

absl::Status CheckTransfer(const v1::TransferConversationRequest& r) {
  if (absl::Status s = CheckUuid("conversation_id", r.conversation_id()); !s.ok()) return s;
  if (absl::Status s = CheckUuid("agent_id", r.agent_id()); !s.ok()) return s;
  if (absl::Status s = CheckUuid("request_id", r.request_id()); !s.ok()) return s;
  switch (r.target_case()) {
    case v1::TransferConversationRequest::kToAgentId:
      if (absl::Status s = CheckUuid("to_agent_id", r.to_agent_id()); !s.ok()) return s;
      if (r.to_agent_id() == r.agent_id()) {
        return absl::InvalidArgumentError("to_agent_id: the conversation's current agent");
      }
      break;
    case v1::TransferConversationRequest::kToQueueId:
      if (absl::Status s = CheckUuid("to_queue_id", r.to_queue_id()); !s.ok()) return s;
      break;
    default:
      return absl::InvalidArgumentError("target: set to_agent_id or to_queue_id");
  }
  return CheckReason(r.reason());
}

grpc::ServerUnaryReactor* RoutingServiceImpl::EnqueueConversation(
    grpc::CallbackServerContext* ctx, const v1::EnqueueConversationRequest* req,
    v1::EnqueueConversationResponse* resp) {
  return RunCall(ctx, executor_, CheckEnqueue(*req), [this, req, resp]() -> absl::Status {
    absl::StatusOr<v1::EnqueueConversationResponse> r = engine_.Enqueue(*req);
    if (!r.ok()) return r.status();
    *resp = *std::move(r);
    return absl::OkStatus();
  });
}

grpc::ServerUnaryReactor* RoutingServiceImpl::GetQueuePosition(
    grpc::CallbackServerContext* ctx, const v1::GetQueuePositionRequest* req,
    v1::GetQueuePositionResponse* resp) {
  return RunCall(ctx, executor_, CheckUuid("conversation_id", req->conversation_id()),
                 [this, req, resp]() -> absl::Status {
                   absl::StatusOr<v1::GetQueuePositionResponse> r =
                       engine_.GetQueuePosition(req->conversation_id());
                   if (!r.ok()) return r.status();
                   *resp = *std::move(r);
                   return absl::OkStatus();
                 });
}

grpc::ServerUnaryReactor* RoutingServiceImpl::AcceptOffer(grpc::CallbackServerContext* ctx,
                                                          const v1::AcceptOfferRequest* req,
                                                          v1::AcceptOfferResponse* resp) {
  absl::Status check =
      FirstError({CheckUuid("offer_id", req->offer_id()), CheckUuid("agent_id", req->agent_id())});
  return RunCall(ctx, executor_, check, [this, req, resp]() -> absl::Status {
    absl::StatusOr<v1::Assignment> a = engine_.AcceptOffer(req->offer_id(), req->agent_id());
    if (!a.ok()) return a.status();
    *resp->mutable_assignment() = *std::move(a);
    return absl::OkStatus();
  });
}

grpc::ServerUnaryReactor* RoutingServiceImpl::RejectOffer(grpc::CallbackServerContext* ctx,
                                                          const v1::RejectOfferRequest* req,
                                                          v1::RejectOfferResponse*) {
  absl::Status check =
      FirstError({CheckUuid("offer_id", req->offer_id()), CheckUuid("agent_id", req->agent_id()),
                  CheckReason(req->reason())});
  return RunCall(ctx, executor_, check,
                 [this, req] { return engine_.RejectOffer(req->offer_id(), req->agent_id()); });
}

grpc::ServerUnaryReactor* RoutingServiceImpl::ListQueuedConversations(
    grpc::CallbackServerContext* ctx, const v1::ListQueuedConversationsRequest* req,
    v1::ListQueuedConversationsResponse* resp) {
  const std::string list = absl::StrCat("queued/", req->agent_id(), "/", req->queue_id());
  absl::StatusOr<Page> page = ParsePage(list, req->page_size(), req->page_token());
  absl::Status check = FirstError(
      {CheckUuid("agent_id", req->agent_id()),
       req->queue_id().empty() ? absl::OkStatus() : CheckUuid("queue_id", req->queue_id()),
       page.status()});
  return RunCall(ctx, executor_, check, [this, req, resp, list, page]() -> absl::Status {
    absl::StatusOr<std::vector<v1::QueuedConversation>> r =
        engine_.ListQueued(req->agent_id(), req->queue_id(), page->offset, page->size);
    if (!r.ok()) return r.status();
    for (size_t i = 0; i < r->size() && static_cast<int>(i) < page->size; ++i) {
      *resp->add_conversations() = std::move((*r)[i]);
    }
    if (static_cast<int>(r->size()) > page->size) {
      resp->set_next_page_token(NextPageToken(list, *page));
    }
    return absl::OkStatus();
  });
}

grpc::ServerUnaryReactor* RoutingServiceImpl::PickConversation(
    grpc::CallbackServerContext* ctx, const v1::PickConversationRequest* req,
    v1::PickConversationResponse* resp) {
  absl::Status check = FirstError({CheckUuid("agent_id", req->agent_id()),
                                   CheckUuid("conversation_id", req->conversation_id()),
                                   CheckUuid("request_id", req->request_id())});
  return RunCall(ctx, executor_, check, [this, req, resp]() -> absl::Status {
    absl::StatusOr<v1::Assignment> a =
        engine_.Pick(req->agent_id(), req->conversation_id(), req->request_id());
    if (!a.ok()) return a.status();
    *resp->mutable_assignment() = *std::move(a);
    return absl::OkStatus();
  });
}

grpc::ServerUnaryReactor* RoutingServiceImpl::TransferConversation(
    grpc::CallbackServerContext* ctx, const v1::TransferConversationRequest* req,
    v1::TransferConversationResponse* resp) {
  return RunCall(ctx, executor_, CheckTransfer(*req), [this, req, resp]() -> absl::Status {
    absl::StatusOr<v1::TransferConversationResponse> r = engine_.Transfer(*req);
    if (!r.ok()) return r.status();
    *resp = *std::move(r);
    return absl::OkStatus();
  });
}

grpc::ServerUnaryReactor* RoutingServiceImpl::FinishConversation(
    grpc::CallbackServerContext* ctx, const v1::FinishConversationRequest* req,
    v1::FinishConversationResponse* resp) {
  absl::Status check = FirstError({CheckUuid("conversation_id", req->conversation_id()),
                                   CheckUuid("request_id", req->request_id())});
  return RunCall(ctx, executor_, check, [this, req, resp]() -> absl::Status {
    absl::StatusOr<v1::FinishConversationResponse> r = engine_.Finish(*req);
    if (!r.ok()) return r.status();
    *resp = *std::move(r);
    return absl::OkStatus();
  });
}

}  // namespace parley::router

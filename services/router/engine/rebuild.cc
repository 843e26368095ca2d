#include "services/router/engine/rebuild.h"

#include <chrono>

#include "absl/strings/str_cat.h"
#include "libs/common/log.h"
#include "libs/grpc/status.h"
#include "services/router/engine/util.h"

namespace parley::router::engine {
namespace {

using common::v1::ConversationState;
using session::v1::Conversation;

absl::Status ForEach(session::v1::ConversationService::StubInterface& session,
                     const std::vector<ConversationState>& states, absl::Duration timeout,
                     const std::function<absl::Status(const Conversation&)>& visit) {
  std::string token;
  do {
    session::v1::ListConversationsRequest request;
    for (ConversationState s : states) request.add_states(s);
    request.set_page_size(500);
    request.set_page_token(token);
    session::v1::ListConversationsResponse response;
    grpc::ClientContext context;
    context.set_deadline(std::chrono::system_clock::now() + absl::ToChronoMilliseconds(timeout));
    grpc::Status status = session.ListConversations(&context, request, &response);
    if (!status.ok()) {
      absl::Status s = FromGrpcStatus(status);
      return absl::UnavailableError(absl::StrCat("session ListConversations: ", s.message()));
    }
    for (const Conversation& c : response.conversations()) {
      if (absl::Status s = visit(c); !s.ok()) return s;
    }
    token = response.next_page_token();
  } while (!token.empty());
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<RebuildCounts> RebuildFromSession(
    RedisEngine& engine, session::v1::ConversationService::StubInterface& session,
    absl::Duration call_timeout) {
  RebuildCounts counts;
  absl::Status open = ForEach(
      session, {common::v1::CONVERSATION_STATE_OPEN}, call_timeout, [&](const Conversation& c) {
        v1::EnqueueConversationRequest request;
        request.set_conversation_id(c.id());
        request.set_request_id(NewUuid());
        request.set_work_stream_id(c.work_stream_id());
        *request.mutable_context() = c.engagement_context();
        *request.mutable_enqueue_time() = c.open_time();
        if (c.has_reply_deadline()) *request.mutable_reply_deadline() = c.reply_deadline();
        absl::StatusOr<v1::EnqueueConversationResponse> r = engine.Enqueue(request);
        if (absl::IsUnavailable(r.status())) return r.status();
        if (!r.ok()) {
          log::Warn("rebuild: conversation not queued",
                    {{"conversation_id", c.id()}, {"error", r.status().ToString()}});
          return absl::OkStatus();
        }
        if (!r->already_routed()) ++counts.queued;
        return absl::OkStatus();
      });
  if (!open.ok()) return open;
  absl::Status held = ForEach(
      session,
      {common::v1::CONVERSATION_STATE_ACTIVE, common::v1::CONVERSATION_STATE_WAITING,
       common::v1::CONVERSATION_STATE_WRAP_UP},
      call_timeout, [&](const Conversation& c) {
        if (c.agent_id().empty()) return absl::OkStatus();
        absl::StatusOr<bool> restored = engine.RestoreAssigned(
            c.id(), c.work_stream_id(), c.queue_id(), c.engagement_context(), ToMs(c.open_time()),
            c.has_reply_deadline() ? ToMs(c.reply_deadline()) : 0, c.agent_id());
        if (!restored.ok()) return restored.status();
        if (*restored) ++counts.assigned;
        return absl::OkStatus();
      });
  if (!held.ok()) return held;
  log::Info("rebuilt router state from session",
            {{"queued", absl::StrCat(counts.queued)}, {"assigned", absl::StrCat(counts.assigned)}});
  return counts;
}

}  // namespace parley::router::engine

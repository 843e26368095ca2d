#include "services/router/presence_service.h"

#include <algorithm>

#include "absl/strings/str_cat.h"
#include "services/router/admin_checks.h"
#include "services/router/engine/util.h"
#include "services/router/rules.h"
#include "services/router/service_call.h"

namespace parley::router {
namespace {

absl::Status CheckClientId(absl::string_view client_id) {
  const int n = CodePoints(client_id);
  if (n < 1 || n > 64) {
    return absl::InvalidArgumentError(absl::StrCat("client_id: ", n, " characters, must be 1..64"));
  }
  return absl::OkStatus();
}

absl::Status CheckSetPresence(const v1::SetPresenceRequest& r) {
  if (absl::Status s = CheckUuid("agent_id", r.agent_id()); !s.ok()) return s;
  if (r.presence() == v1::PRESENCE_UNSPECIFIED || !v1::Presence_IsValid(r.presence())) {
    return absl::InvalidArgumentError("presence: unspecified");
  }
  return CheckClientId(r.client_id());
}

absl::Status CheckHeartbeat(const v1::HeartbeatRequest& r) {
  if (absl::Status s = CheckUuid("agent_id", r.agent_id()); !s.ok()) return s;
  return CheckClientId(r.client_id());
}

}  // namespace

grpc::ServerUnaryReactor* PresenceServiceImpl::SetPresence(grpc::CallbackServerContext* ctx,
                                                           const v1::SetPresenceRequest* req,
                                                           v1::SetPresenceResponse* resp) {
  return RunCall(ctx, executor_, CheckSetPresence(*req), [this, req, resp]() -> absl::Status {
    absl::StatusOr<v1::AgentStatus> s = engine_.SetPresence(req->agent_id(), req->presence());
    if (!s.ok()) return s.status();
    *resp->mutable_status() = *std::move(s);
    return absl::OkStatus();
  });
}

grpc::ServerUnaryReactor* PresenceServiceImpl::Heartbeat(grpc::CallbackServerContext* ctx,
                                                         const v1::HeartbeatRequest* req,
                                                         v1::HeartbeatResponse* resp) {
  return RunCall(ctx, executor_, CheckHeartbeat(*req), [this, req, resp]() -> absl::Status {
    absl::StatusOr<v1::AgentStatus> s = engine_.Heartbeat(req->agent_id());
    if (!s.ok()) return s.status();
    *resp->mutable_status() = *std::move(s);
    engine::SetDurationMs(absl::ToInt64Milliseconds(engine_.options().heartbeat_interval),
                          resp->mutable_heartbeat_interval());
    engine::SetDurationMs(absl::ToInt64Milliseconds(engine_.options().offline_after),
                          resp->mutable_offline_after());
    return absl::OkStatus();
  });
}

grpc::ServerUnaryReactor* PresenceServiceImpl::GetAgentStatus(grpc::CallbackServerContext* ctx,
                                                              const v1::GetAgentStatusRequest* req,
                                                              v1::GetAgentStatusResponse* resp) {
  return RunCall(ctx, executor_, CheckUuid("agent_id", req->agent_id()),
                 [this, req, resp]() -> absl::Status {
                   absl::StatusOr<v1::AgentStatus> s = engine_.GetAgentStatus(req->agent_id());
                   if (!s.ok()) return s.status();
                   *resp->mutable_status() = *std::move(s);
                   return absl::OkStatus();
                 });
}

grpc::ServerUnaryReactor* PresenceServiceImpl::ListAgentStatuses(
    grpc::CallbackServerContext* ctx, const v1::ListAgentStatusesRequest* req,
    v1::ListAgentStatusesResponse* resp) {
  absl::Status check =
      req->queue_id().empty() ? absl::OkStatus() : CheckUuid("queue_id", req->queue_id());
  std::string list = absl::StrCat("agent-statuses/", req->queue_id());
  for (int p : req->presences()) absl::StrAppend(&list, ",", p);
  absl::StatusOr<Page> page = ParsePage(list, req->page_size(), req->page_token());
  if (check.ok() && !page.ok()) check = page.status();
  return RunCall(ctx, executor_, check, [this, req, resp, list, page]() -> absl::Status {
    std::shared_ptr<const RoutingSnapshot> snapshot = definitions_.Current();
    std::vector<const v1::Agent*> agents;
    for (const auto& [id, agent] : snapshot->agents) {
      if (!req->queue_id().empty() && std::find(agent.queue_ids().begin(), agent.queue_ids().end(),
                                                req->queue_id()) == agent.queue_ids().end()) {
        continue;
      }
      agents.push_back(&agent);
    }
    std::sort(agents.begin(), agents.end(), [](const v1::Agent* a, const v1::Agent* b) {
      return a->display_name() != b->display_name() ? a->display_name() < b->display_name()
                                                    : a->id() < b->id();
    });
    // Presence changes all the time, so the filter applies before paging, on what Redis says
    // now; a page may therefore shift when agents change presence between pages.
    int skipped = 0;
    for (const v1::Agent* agent : agents) {
      absl::StatusOr<v1::AgentStatus> s = engine_.GetAgentStatus(agent->id());
      if (!s.ok()) return s.status();
      if (req->presences_size() > 0 && std::find(req->presences().begin(), req->presences().end(),
                                                 s->presence()) == req->presences().end()) {
        continue;
      }
      if (skipped < page->offset) {
        ++skipped;
        continue;
      }
      if (resp->statuses_size() == page->size) {
        resp->set_next_page_token(NextPageToken(list, *page));
        break;
      }
      *resp->add_statuses() = *std::move(s);
    }
    return absl::OkStatus();
  });
}

}  // namespace parley::router

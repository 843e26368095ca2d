#include "services/router/routing_admin_service.h"

#include <utility>

#include "libs/grpc/status.h"

namespace parley::router {

// Runs `call` on the executor, moves its value into the response with `set`, asks the cache to
// reload after a successful mutation, and finishes the call from there.
template <typename Req, typename Resp, typename Call, typename Set>
grpc::ServerUnaryReactor* RoutingAdminServiceImpl::Handle(grpc::CallbackServerContext* ctx,
                                                          const Req* req, Resp* resp, bool mutation,
                                                          Call call, Set set) {
  grpc::ServerUnaryReactor* reactor = ctx->DefaultReactor();
  executor_.Post([this, reactor, req, resp, mutation, call, set] {
    auto result = call(*req);
    if constexpr (std::is_same_v<decltype(result), absl::Status>) {
      if (result.ok() && mutation && cache_ != nullptr) cache_->RequestReload();
      reactor->Finish(ToGrpcStatus(result));
    } else {
      if (result.ok()) {
        set(*std::move(result), resp);
        if (mutation && cache_ != nullptr) cache_->RequestReload();
      }
      reactor->Finish(ToGrpcStatus(result.status()));
    }
  });
  return reactor;
}

namespace {

constexpr bool kRead = false;
constexpr bool kWrite = true;

template <typename T>
void Assign(T value, T* out) {
  *out = std::move(value);
}
constexpr auto Nothing = [](auto&&, auto*) {};

}  // namespace

// clang-format off
#define PARLEY_ADMIN_RPC(Rpc, Mutation, StoreCall, Setter)                                 \
  grpc::ServerUnaryReactor* RoutingAdminServiceImpl::Rpc(                                  \
      grpc::CallbackServerContext* ctx, const v1::Rpc##Request* req,                       \
      v1::Rpc##Response* resp) {                                                           \
    return Handle(ctx, req, resp, Mutation,                                                \
                  [this](const v1::Rpc##Request& r) { return store_.StoreCall(r); }, Setter); \
  }
// clang-format on

PARLEY_ADMIN_RPC(CreateWorkStream, kWrite, CreateWorkStream,
                 [](v1::WorkStream w, auto* out) { *out->mutable_work_stream() = std::move(w); })
PARLEY_ADMIN_RPC(GetWorkStream, kRead, GetWorkStream,
                 [](v1::WorkStream w, auto* out) { *out->mutable_work_stream() = std::move(w); })
PARLEY_ADMIN_RPC(ListWorkStreams, kRead, ListWorkStreams, Assign<v1::ListWorkStreamsResponse>)
PARLEY_ADMIN_RPC(UpdateWorkStream, kWrite, UpdateWorkStream,
                 [](v1::WorkStream w, auto* out) { *out->mutable_work_stream() = std::move(w); })
PARLEY_ADMIN_RPC(DeleteWorkStream, kWrite, DeleteWorkStream, Nothing)

PARLEY_ADMIN_RPC(CreateQueue, kWrite, CreateQueue,
                 [](v1::Queue q, auto* out) { *out->mutable_queue() = std::move(q); })
PARLEY_ADMIN_RPC(GetQueue, kRead, GetQueue,
                 [](v1::Queue q, auto* out) { *out->mutable_queue() = std::move(q); })
PARLEY_ADMIN_RPC(ListQueues, kRead, ListQueues, Assign<v1::ListQueuesResponse>)
PARLEY_ADMIN_RPC(UpdateQueue, kWrite, UpdateQueue,
                 [](v1::Queue q, auto* out) { *out->mutable_queue() = std::move(q); })
PARLEY_ADMIN_RPC(DeleteQueue, kWrite, DeleteQueue, Nothing)

PARLEY_ADMIN_RPC(CreateRoutingRule, kWrite, CreateRoutingRule,
                 [](v1::RoutingRule r, auto* out) { *out->mutable_rule() = std::move(r); })
PARLEY_ADMIN_RPC(GetRoutingRule, kRead, GetRoutingRule,
                 [](v1::RoutingRule r, auto* out) { *out->mutable_rule() = std::move(r); })
PARLEY_ADMIN_RPC(ListRoutingRules, kRead, ListRoutingRules, Assign<v1::ListRoutingRulesResponse>)
PARLEY_ADMIN_RPC(UpdateRoutingRule, kWrite, UpdateRoutingRule,
                 [](v1::RoutingRule r, auto* out) { *out->mutable_rule() = std::move(r); })
PARLEY_ADMIN_RPC(DeleteRoutingRule, kWrite, DeleteRoutingRule, Nothing)
PARLEY_ADMIN_RPC(ReorderRoutingRules, kWrite, ReorderRoutingRules,
                 Assign<v1::ReorderRoutingRulesResponse>)

PARLEY_ADMIN_RPC(CreateAgent, kWrite, CreateAgent,
                 [](v1::Agent a, auto* out) { *out->mutable_agent() = std::move(a); })
PARLEY_ADMIN_RPC(GetAgent, kRead, GetAgent,
                 [](v1::Agent a, auto* out) { *out->mutable_agent() = std::move(a); })
PARLEY_ADMIN_RPC(ListAgents, kRead, ListAgents, Assign<v1::ListAgentsResponse>)
PARLEY_ADMIN_RPC(UpdateAgent, kWrite, UpdateAgent,
                 [](v1::Agent a, auto* out) { *out->mutable_agent() = std::move(a); })
PARLEY_ADMIN_RPC(DeleteAgent, kWrite, DeleteAgent, Nothing)

#undef PARLEY_ADMIN_RPC

}  // namespace parley::router

// RoutingAdminService (gRPC callback API): each handler hands the store call to the Executor
// (PostgreSQL never blocks gRPC's callback threads, docs/adr/0007), converts the Status, and
// after a successful change asks the local cache to reload at once (the other replicas see it
// at their next poll). No SQL and no validation here: the store validates.
#pragma once

#include "libs/common/executor.h"
#include "parley/router/v1/router.grpc.pb.h"
#include "services/router/definitions_cache.h"
#include "services/router/pg_routing_store.h"

namespace parley::router {

class RoutingAdminServiceImpl : public v1::RoutingAdminService::CallbackService {
 public:
  // `cache` may be null (no local reload).
  RoutingAdminServiceImpl(PgRoutingStore& store, DefinitionsCache* cache, Executor& executor)
      : store_(store), cache_(cache), executor_(executor) {}

  grpc::ServerUnaryReactor* CreateWorkStream(grpc::CallbackServerContext* ctx,
                                             const v1::CreateWorkStreamRequest* req,
                                             v1::CreateWorkStreamResponse* resp) override;
  grpc::ServerUnaryReactor* GetWorkStream(grpc::CallbackServerContext* ctx,
                                          const v1::GetWorkStreamRequest* req,
                                          v1::GetWorkStreamResponse* resp) override;
  grpc::ServerUnaryReactor* ListWorkStreams(grpc::CallbackServerContext* ctx,
                                            const v1::ListWorkStreamsRequest* req,
                                            v1::ListWorkStreamsResponse* resp) override;
  grpc::ServerUnaryReactor* UpdateWorkStream(grpc::CallbackServerContext* ctx,
                                             const v1::UpdateWorkStreamRequest* req,
                                             v1::UpdateWorkStreamResponse* resp) override;
  grpc::ServerUnaryReactor* DeleteWorkStream(grpc::CallbackServerContext* ctx,
                                             const v1::DeleteWorkStreamRequest* req,
                                             v1::DeleteWorkStreamResponse* resp) override;

  grpc::ServerUnaryReactor* CreateQueue(grpc::CallbackServerContext* ctx,
                                        const v1::CreateQueueRequest* req,
                                        v1::CreateQueueResponse* resp) override;
  grpc::ServerUnaryReactor* GetQueue(grpc::CallbackServerContext* ctx,
                                     const v1::GetQueueRequest* req,
                                     v1::GetQueueResponse* resp) override;
  grpc::ServerUnaryReactor* ListQueues(grpc::CallbackServerContext* ctx,
                                       const v1::ListQueuesRequest* req,
                                       v1::ListQueuesResponse* resp) override;
  grpc::ServerUnaryReactor* UpdateQueue(grpc::CallbackServerContext* ctx,
                                        const v1::UpdateQueueRequest* req,
                                        v1::UpdateQueueResponse* resp) override;
  grpc::ServerUnaryReactor* DeleteQueue(grpc::CallbackServerContext* ctx,
                                        const v1::DeleteQueueRequest* req,
                                        v1::DeleteQueueResponse* resp) override;

  grpc::ServerUnaryReactor* CreateRoutingRule(grpc::CallbackServerContext* ctx,
                                              const v1::CreateRoutingRuleRequest* req,
                                              v1::CreateRoutingRuleResponse* resp) override;
  grpc::ServerUnaryReactor* GetRoutingRule(grpc::CallbackServerContext* ctx,
                                           const v1::GetRoutingRuleRequest* req,
                                           v1::GetRoutingRuleResponse* resp) override;
  grpc::ServerUnaryReactor* ListRoutingRules(grpc::CallbackServerContext* ctx,
                                             const v1::ListRoutingRulesRequest* req,
                                             v1::ListRoutingRulesResponse* resp) override;
  grpc::ServerUnaryReactor* UpdateRoutingRule(grpc::CallbackServerContext* ctx,
                                              const v1::UpdateRoutingRuleRequest* req,
                                              v1::UpdateRoutingRuleResponse* resp) override;
  grpc::ServerUnaryReactor* DeleteRoutingRule(grpc::CallbackServerContext* ctx,
                                              const v1::DeleteRoutingRuleRequest* req,
                                              v1::DeleteRoutingRuleResponse* resp) override;
  grpc::ServerUnaryReactor* ReorderRoutingRules(grpc::CallbackServerContext* ctx,
                                                const v1::ReorderRoutingRulesRequest* req,
                                                v1::ReorderRoutingRulesResponse* resp) override;

  grpc::ServerUnaryReactor* CreateAgent(grpc::CallbackServerContext* ctx,
                                        const v1::CreateAgentRequest* req,
                                        v1::CreateAgentResponse* resp) override;
  grpc::ServerUnaryReactor* GetAgent(grpc::CallbackServerContext* ctx,
                                     const v1::GetAgentRequest* req,
                                     v1::GetAgentResponse* resp) override;
  grpc::ServerUnaryReactor* ListAgents(grpc::CallbackServerContext* ctx,
                                       const v1::ListAgentsRequest* req,
                                       v1::ListAgentsResponse* resp) override;
  grpc::ServerUnaryReactor* UpdateAgent(grpc::CallbackServerContext* ctx,
                                        const v1::UpdateAgentRequest* req,
                                        v1::UpdateAgentResponse* resp) override;
  grpc::ServerUnaryReactor* DeleteAgent(grpc::CallbackServerContext* ctx,
                                        const v1::DeleteAgentRequest* req,
                                        v1::DeleteAgentResponse* resp) override;

 private:
  template <typename Req, typename Resp, typename Call, typename Set>
  grpc::ServerUnaryReactor* Handle(grpc::CallbackServerContext* ctx, const Req* req, Resp* resp,
                                   bool mutation, Call call, Set set);

  PgRoutingStore& store_;
  DefinitionsCache* cache_;
  Executor& executor_;
};

}  // namespace parley::router

// PresenceService (gRPC callback API): validates each request as router.proto states it, then
// hands the Redis work to the Executor (gRPC's callback threads never wait on Redis) and the
// engine (engine/redis_engine.h), which checks agents against the definitions.
#pragma once

#include "libs/common/executor.h"
#include "parley/router/v1/router.grpc.pb.h"
#include "services/router/engine/redis_engine.h"

namespace parley::router {

class PresenceServiceImpl : public v1::PresenceService::CallbackService {
 public:
  PresenceServiceImpl(engine::RedisEngine& engine, const RoutingDefinitions& definitions,
                      Executor& executor)
      : engine_(engine), definitions_(definitions), executor_(executor) {}

  grpc::ServerUnaryReactor* SetPresence(grpc::CallbackServerContext* ctx,
                                        const v1::SetPresenceRequest* req,
                                        v1::SetPresenceResponse* resp) override;
  grpc::ServerUnaryReactor* Heartbeat(grpc::CallbackServerContext* ctx,
                                      const v1::HeartbeatRequest* req,
                                      v1::HeartbeatResponse* resp) override;
  grpc::ServerUnaryReactor* GetAgentStatus(grpc::CallbackServerContext* ctx,
                                           const v1::GetAgentStatusRequest* req,
                                           v1::GetAgentStatusResponse* resp) override;
  grpc::ServerUnaryReactor* ListAgentStatuses(grpc::CallbackServerContext* ctx,
                                              const v1::ListAgentStatusesRequest* req,
                                              v1::ListAgentStatusesResponse* resp) override;

 private:
  engine::RedisEngine& engine_;
  const RoutingDefinitions& definitions_;
  Executor& executor_;
};

}  // namespace parley::router

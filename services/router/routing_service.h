// RoutingService (gRPC callback API): validates each request as router.proto states it
// (INVALID_ARGUMENT naming the field), then runs the engine call on the Executor. Everything
// about queues, offers and capacity is the engine's (engine/redis_engine.h).
#pragma once

#include "libs/common/executor.h"
#include "parley/router/v1/router.grpc.pb.h"
#include "services/router/engine/redis_engine.h"

namespace parley::router {

// Request checks, exposed for tests: OK or InvalidArgument naming the field.
absl::Status CheckEnqueue(const v1::EnqueueConversationRequest& r);
absl::Status CheckTransfer(const v1::TransferConversationRequest& r);

class RoutingServiceImpl : public v1::RoutingService::CallbackService {
 public:
  RoutingServiceImpl(engine::RedisEngine& engine, Executor& executor)
      : engine_(engine), executor_(executor) {}

  grpc::ServerUnaryReactor* EnqueueConversation(grpc::CallbackServerContext* ctx,
                                                const v1::EnqueueConversationRequest* req,
                                                v1::EnqueueConversationResponse* resp) override;
  grpc::ServerUnaryReactor* GetQueuePosition(grpc::CallbackServerContext* ctx,
                                             const v1::GetQueuePositionRequest* req,
                                             v1::GetQueuePositionResponse* resp) override;
  grpc::ServerUnaryReactor* AcceptOffer(grpc::CallbackServerContext* ctx,
                                        const v1::AcceptOfferRequest* req,
                                        v1::AcceptOfferResponse* resp) override;
  grpc::ServerUnaryReactor* RejectOffer(grpc::CallbackServerContext* ctx,
                                        const v1::RejectOfferRequest* req,
                                        v1::RejectOfferResponse* resp) override;
  grpc::ServerUnaryReactor* ListQueuedConversations(
      grpc::CallbackServerContext* ctx, const v1::ListQueuedConversationsRequest* req,
      v1::ListQueuedConversationsResponse* resp) override;
  grpc::ServerUnaryReactor* PickConversation(grpc::CallbackServerContext* ctx,
                                             const v1::PickConversationRequest* req,
                                             v1::PickConversationResponse* resp) override;
  grpc::ServerUnaryReactor* TransferConversation(grpc::CallbackServerContext* ctx,
                                                 const v1::TransferConversationRequest* req,
                                                 v1::TransferConversationResponse* resp) override;
  grpc::ServerUnaryReactor* FinishConversation(grpc::CallbackServerContext* ctx,
                                               const v1::FinishConversationRequest* req,
                                               v1::FinishConversationResponse* resp) override;

 private:
  engine::RedisEngine& engine_;
  Executor& executor_;
};

}  // namespace parley::router

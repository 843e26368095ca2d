// The gRPC shell of ProviderGatewayService (callback API): each call is handed to the ingress
// Executor (through `post`), because provider calls block for up to provider_timeout and gRPC's
// callback threads must never wait (docs/adr/0007); the logic is ProviderGateway's
// (provider_gateway.h).
#pragma once

#include <functional>
#include <memory>

#include "libs/pg/pool.h"
#include "parley/ingress/v1/ingress.grpc.pb.h"
#include "services/ingress/provider_gateway.h"

namespace parley::ingress {

class ProviderGatewayServiceImpl : public v1::ProviderGatewayService::CallbackService {
 public:
  // `post` runs a task on a thread that may block (the runtime's Executor).
  using Post = std::function<void(std::function<void()>)>;
  ProviderGatewayServiceImpl(ProviderGateway& gateway, Post post)
      : gateway_(gateway), post_(std::move(post)) {}

  grpc::ServerUnaryReactor* SendMessage(grpc::CallbackServerContext* ctx,
                                        const v1::SendMessageRequest* req,
                                        v1::SendMessageResponse* resp) override;
  grpc::ServerUnaryReactor* FetchInboundMedia(grpc::CallbackServerContext* ctx,
                                              const v1::FetchInboundMediaRequest* req,
                                              v1::FetchInboundMediaResponse* resp) override;

 private:
  ProviderGateway& gateway_;
  Post post_;
};

// ProviderGatewayService with everything it needs, owned (HTTP client, accepted-parts ledger,
// metrics, the gateway, its own outbound_threads), configured from OutboundSettings(); for
// IngressRuntime. Outbound attachments and FetchInboundMedia answer UNAVAILABLE until the
// attachments service's client exists (docs/adr/0010). InvalidArgument names a wrong setting.
absl::StatusOr<std::unique_ptr<grpc::Service>> NewProviderGatewayService(
    const Config& config, pg::Pool& pool, prometheus::Registry& registry,
    std::shared_ptr<ChannelDirectory> directory, std::string public_base_url);

}  // namespace parley::ingress

#include "services/ingress/provider_gateway_service.h"

#include "libs/common/executor.h"
#include "libs/grpc/status.h"

namespace parley::ingress {

grpc::ServerUnaryReactor* ProviderGatewayServiceImpl::SendMessage(grpc::CallbackServerContext* ctx,
                                                                  const v1::SendMessageRequest* req,
                                                                  v1::SendMessageResponse* resp) {
  grpc::ServerUnaryReactor* reactor = ctx->DefaultReactor();
  post_([this, reactor, req, resp] {
    absl::StatusOr<v1::SendMessageResponse> r = gateway_.SendMessage(*req);
    if (r.ok()) *resp = *std::move(r);
    reactor->Finish(ToGrpcStatus(r.status()));
  });
  return reactor;
}

grpc::ServerUnaryReactor* ProviderGatewayServiceImpl::FetchInboundMedia(
    grpc::CallbackServerContext* ctx, const v1::FetchInboundMediaRequest* req,
    v1::FetchInboundMediaResponse* resp) {
  grpc::ServerUnaryReactor* reactor = ctx->DefaultReactor();
  post_([this, reactor, req, resp] {
    absl::StatusOr<v1::FetchInboundMediaResponse> r = gateway_.FetchInboundMedia(*req);
    if (r.ok()) *resp = *std::move(r);
    reactor->Finish(ToGrpcStatus(r.status()));
  });
  return reactor;
}

namespace {

// The service and what it refers to, in one object whose lifetime the server manages.
class OwningGatewayService : public ProviderGatewayServiceImpl {
 public:
  struct Parts {
    explicit Parts(pg::Pool& pool, prometheus::Registry& registry)
        : sent(pool), metrics(registry) {}
    http_client::Client http;
    SentParts sent;
    OutboundMetrics metrics;
    std::unique_ptr<ProviderGateway> gateway;
  };
  OwningGatewayService(std::unique_ptr<Parts> parts, int threads)
      : ProviderGatewayServiceImpl(
            *parts->gateway,
            [this](std::function<void()> task) { executor_->Post(std::move(task)); }),
        parts_(std::move(parts)),
        executor_(std::make_unique<Executor>(threads)) {}

 private:
  std::unique_ptr<Parts> parts_;
  // Declared last: destroyed first, finishing the calls in flight while parts_ still exists.
  std::unique_ptr<Executor> executor_;
};

}  // namespace

absl::StatusOr<std::unique_ptr<grpc::Service>> NewProviderGatewayService(
    const Config& config, pg::Pool& pool, prometheus::Registry& registry,
    std::shared_ptr<ChannelDirectory> directory, std::string public_base_url) {
  absl::StatusOr<OutboundOptions> options = ReadOutboundOptions(config);
  if (!options.ok()) return options.status();
  int threads = options->threads;
  auto parts = std::make_unique<OwningGatewayService::Parts>(pool, registry);
  parts->gateway =
      std::make_unique<ProviderGateway>(GatewayDeps{.directory = std::move(directory),
                                                    .http = &parts->http,
                                                    .sent_parts = &parts->sent,
                                                    .files = nullptr,
                                                    .media_store = nullptr,
                                                    .metrics = &parts->metrics,
                                                    .public_base_url = std::move(public_base_url)},
                                        *std::move(options));
  return std::make_unique<OwningGatewayService>(std::move(parts), threads);
}

}  // namespace parley::ingress

// parley-ingress: webhooks of each channel and outbound delivery to the providers. See
// libs/service/service_main.h for the commands, settings and exit codes every service shares.
#include "grpcpp/grpcpp.h"
#include "ingress_migrations.h"
#include "libs/service/service_main.h"
#include "services/ingress/http_endpoints.h"

namespace {

using Services = std::vector<std::unique_ptr<grpc::Service>>;

// The service's gRPC API (proto/parley/ingress/v1) is implemented by the issues that follow the
// foundation; until then the binary serves health, reflection, metrics and the HTTP server.
absl::StatusOr<Services> Build(parley::service::Context& context) {
  absl::StatusOr<std::unique_ptr<parley::service::Component>> http =
      parley::ingress::NewHttpComponent(context);
  if (!http.ok()) return http.status();
  context.components.push_back(*std::move(http));
  return Services{};
}

}  // namespace

int main(int argc, char** argv) {
  parley::service::Spec spec{
      .name = "ingress",
      .grpc_port = 50051,
      .metrics_port = 9101,
      .uses_redis = false,
      .migrations = &parley::ingress::Migrations(),
      .extra_settings = parley::ingress::HttpSettings(),
  };
  return parley::service::Main(argc, argv, std::move(spec), Build);
}

// parley-ingress: webhooks of each channel and outbound delivery to the providers. See
// libs/service/service_main.h for the commands, settings and exit codes every service shares.
#include "grpcpp/grpcpp.h"
#include "ingress_migrations.h"
#include "libs/service/service_main.h"

int main(int argc, char** argv) {
  parley::service::Spec spec{
      .name = "ingress",
      .grpc_port = 50051,
      .metrics_port = 9101,
      .uses_redis = false,
      .migrations = &parley::ingress::Migrations(),
  };
  // The service's gRPC API (proto/parley/ingress/v1) is implemented by the issues that follow the
  // foundation; until then the binary serves health, reflection and metrics.
  return parley::service::Main(argc, argv, std::move(spec), [](parley::service::Context&) {
    return std::vector<std::unique_ptr<grpc::Service>>{};
  });
}

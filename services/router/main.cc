// parley-router: work streams, queues, presence, offers and assignment. See
// libs/service/service_main.h for the commands, settings and exit codes every service shares.
#include "grpcpp/grpcpp.h"
#include "libs/service/service_main.h"
#include "router_migrations.h"

int main(int argc, char** argv) {
  parley::service::Spec spec{
      .name = "router",
      .grpc_port = 50052,
      .metrics_port = 9102,
      .uses_redis = true,
      .migrations = &parley::router::Migrations(),
  };
  // The service's gRPC API (proto/parley/router/v1) is implemented by the issues that follow the
  // foundation; until then the binary serves health, reflection and metrics.
  return parley::service::Main(argc, argv, std::move(spec), [](parley::service::Context&) {
    return std::vector<std::unique_ptr<grpc::Service>>{};
  });
}

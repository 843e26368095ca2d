// parley-attachments: files in both directions. See libs/service/service_main.h for the
// commands, settings and exit codes every service shares.
#include "attachments_migrations.h"
#include "grpcpp/grpcpp.h"
#include "libs/service/service_main.h"

int main(int argc, char** argv) {
  parley::service::Spec spec{
      .name = "attachments",
      .grpc_port = 50054,
      .metrics_port = 9104,
      .uses_redis = false,
      .migrations = &parley::attachments::Migrations(),
  };
  // The service's gRPC API (proto/parley/attachments/v1) is implemented by the issues that follow
  // the foundation; until then the binary serves health, reflection and metrics.
  return parley::service::Main(argc, argv, std::move(spec), [](parley::service::Context&) {
    return std::vector<std::unique_ptr<grpc::Service>>{};
  });
}

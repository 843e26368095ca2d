// parley-session: conversations, messages, contacts and transcripts. See
// libs/service/service_main.h for the commands, settings and exit codes every service shares.
#include "grpcpp/grpcpp.h"
#include "libs/service/service_main.h"
#include "session_migrations.h"

int main(int argc, char** argv) {
  parley::service::Spec spec{
      .name = "session",
      .grpc_port = 50053,
      .metrics_port = 9103,
      .uses_redis = false,
      .migrations = &parley::session::Migrations(),
  };
  // The service's gRPC API (proto/parley/session/v1) is implemented by the issues that follow the
  // foundation; until then the binary serves health, reflection and metrics.
  return parley::service::Main(argc, argv, std::move(spec), [](parley::service::Context&) {
    return std::vector<std::unique_ptr<grpc::Service>>{};
  });
}

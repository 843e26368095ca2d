// parley-session: conversations, messages, contacts and transcripts. See
// libs/service/service_main.h for the commands, settings and exit codes every service shares,
// and services/session/session_runtime.h for what this one adds.
#include <memory>

#include "libs/service/service_main.h"
#include "services/session/session_runtime.h"
#include "session_migrations.h"

namespace {

absl::StatusOr<std::vector<std::unique_ptr<grpc::Service>>> Build(
    parley::service::Context& context) {
  absl::StatusOr<parley::session::SessionOptions> options =
      parley::session::ReadSessionOptions(context.config);
  if (!options.ok()) return options.status();
  auto runtime = std::make_unique<parley::session::SessionRuntime>(
      context.pg, context.metrics, *std::move(options), context.pg.options().size);
  std::vector<std::unique_ptr<grpc::Service>> services = runtime->Services();
  context.components.push_back(std::move(runtime));  // outlives the services
  return services;
}

}  // namespace

int main(int argc, char** argv) {
  parley::service::Spec spec{
      .name = "session",
      .grpc_port = 50053,
      .metrics_port = 9103,
      .uses_redis = false,
      .migrations = &parley::session::Migrations(),
      .extra_settings = parley::session::SessionSettings(),
  };
  return parley::service::Main(argc, argv, std::move(spec), Build);
}

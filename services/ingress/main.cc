// parley-ingress: webhooks of each channel, channel administration and outbound delivery to the
// providers. See libs/service/service_main.h for the commands, settings and exit codes every
// service shares, and services/ingress/ingress_runtime.h for what this one adds.
#include <memory>

#include "ingress_migrations.h"
#include "libs/service/service_main.h"
#include "services/ingress/ingress_runtime.h"

namespace {

absl::StatusOr<std::vector<std::unique_ptr<grpc::Service>>> Build(
    parley::service::Context& context) {
  absl::StatusOr<std::unique_ptr<parley::ingress::IngressRuntime>> runtime =
      parley::ingress::IngressRuntime::Create(context);
  if (!runtime.ok()) return runtime.status();
  std::vector<std::unique_ptr<grpc::Service>> services = (*runtime)->Services();
  context.components.push_back(*std::move(runtime));  // outlives the services
  return services;
}

}  // namespace

int main(int argc, char** argv) {
  parley::service::Spec spec{
      .name = "ingress",
      .grpc_port = 50051,
      .metrics_port = 9101,
      .uses_redis = false,
      .migrations = &parley::ingress::Migrations(),
      .extra_settings = parley::ingress::IngressSettings(),
  };
  return parley::service::Main(argc, argv, std::move(spec), Build);
}

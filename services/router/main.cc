// parley-router: work streams, queues, presence, offers and assignment. See
// libs/service/service_main.h for the commands, settings and exit codes every service shares,
// and services/router/router_runtime.h for what this one adds.
#include <memory>

#include "libs/service/service_main.h"
#include "router_migrations.h"
#include "services/router/agent_events.h"
#include "services/router/engine/engine_runtime.h"
#include "services/router/router_runtime.h"

namespace {

absl::StatusOr<std::vector<std::unique_ptr<grpc::Service>>> Build(
    parley::service::Context& context) {
  absl::StatusOr<parley::router::RouterOptions> options =
      parley::router::ReadRouterOptions(context.config);
  if (!options.ok()) return options.status();
  auto runtime = std::make_unique<parley::router::RouterRuntime>(
      context.pg, context.metrics, *std::move(options), context.pg.options().size);
  std::vector<std::unique_ptr<grpc::Service>> services = runtime->Services();
  // The Redis engine: presence, queues, offers and assignment (engine/engine_runtime.h).
  absl::StatusOr<parley::router::engine::EngineRuntimeOptions> engine_options =
      parley::router::engine::ReadEngineOptions(context.config);
  if (!engine_options.ok()) return engine_options.status();
  // The agent event stream and router's metrics (agent_events.h).
  auto events = std::make_unique<parley::router::AgentEvents>(
      runtime->definitions(), context.metrics,
      parley::router::AgentEventsOptions{
          .redis = engine_options->redis,
          .key_prefix = engine_options->engine.key_prefix,
          .stream_max_len = engine_options->engine.event_stream_max_len});
  services.push_back(events->Service());
  auto engine = std::make_unique<parley::router::engine::EngineRuntime>(
      runtime->definitions(), *std::move(engine_options), &events->metrics());
  runtime->SetLiveUsage(engine->Usage());
  for (auto& service : engine->Services()) services.push_back(std::move(service));
  runtime->AddComponent(std::move(engine));
  runtime->AddComponent(std::move(events));  // shut down first: streams end before the engine
  context.components.push_back(std::move(runtime));  // outlives the services
  return services;
}

}  // namespace

int main(int argc, char** argv) {
  std::vector<parley::Setting> settings = parley::router::RouterSettings();
  for (parley::Setting& s : parley::router::engine::EngineSettings()) {
    settings.push_back(std::move(s));
  }
  parley::service::Spec spec{
      .name = "router",
      .grpc_port = 50052,
      .metrics_port = 9102,
      .uses_redis = true,
      .migrations = &parley::router::Migrations(),
      .extra_settings = std::move(settings),
  };
  return parley::service::Main(argc, argv, std::move(spec), Build);
}

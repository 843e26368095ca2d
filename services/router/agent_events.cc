#include "services/router/agent_events.h"

#include "services/router/agent_event_service.h"

namespace parley::router {

AgentEvents::AgentEvents(const RoutingDefinitions& definitions, prometheus::Registry& registry,
                         const AgentEventsOptions& options)
    : definitions_(definitions),
      redis_(options.redis, options.redis_connections),
      metrics_(std::make_unique<RouterMetrics>(registry)),
      log_(
          std::make_unique<AgentEventLog>(redis_, engine::Keys(options.key_prefix),
                                          AgentEventLogOptions{.max_len = options.stream_max_len})),
      hub_(std::make_unique<AgentEventHub>(*log_, options.redis)),
      collector_(std::make_unique<RouterMetricsCollector>(redis_, engine::Keys(options.key_prefix),
                                                          definitions, *metrics_,
                                                          options.metrics_interval)),
      executor_(options.workers) {}

AgentEvents::~AgentEvents() { Shutdown(absl::ZeroDuration()); }

std::unique_ptr<grpc::Service> AgentEvents::Service() {
  return std::make_unique<AgentEventServiceImpl>(*log_, *hub_, definitions_, executor_,
                                                 metrics_.get());
}

absl::Status AgentEvents::Start() {
  if (absl::Status s = hub_->Start(); !s.ok()) return s;
  return collector_->Start();
}

void AgentEvents::Shutdown(absl::Duration grace) {
  hub_->Shutdown(grace);
  collector_->Shutdown(grace);
}

}  // namespace parley::router

// Everything of the agent event stream and router's metrics in one Component, so that main.cc
// wires them with a few lines: the event log, the live-tail hub, the metrics (which the engine
// also reports to) and their collector, with their own Redis connections and a small executor,
// so that event delivery never waits behind the engine's or the admin handlers' work.
//
//   auto events = std::make_unique<AgentEvents>(definitions, context.metrics, options);
//   services.push_back(events->Service());   // the engine may report to &events->metrics()
//   runtime->AddComponent(std::move(events));   // started after the definitions' first load
#pragma once

#include <memory>
#include <string>

#include "absl/time/time.h"
#include "grpcpp/impl/codegen/service_type.h"
#include "libs/common/executor.h"
#include "libs/service/service_main.h"
#include "services/router/agent_event_hub.h"
#include "services/router/agent_event_log.h"
#include "services/router/engine/redis_pool.h"
#include "services/router/router_metrics.h"
#include "services/router/routing_definitions.h"

namespace parley::router {

struct AgentEventsOptions {
  redis::ClientOptions redis;                 // the engine's Redis
  int redis_connections = 2;                  // pooled, besides the hub's own blocking one
  std::string key_prefix = "parley:router:";  // the engine's redis_key_prefix
  int64_t stream_max_len = 10000;             // the engine's agent_event_stream_max_len
  absl::Duration metrics_interval = absl::Seconds(5);
  int workers = 2;  // threads reading the streams from Redis
};

class AgentEvents : public service::Component {
 public:
  // `definitions` and `registry` must outlive this.
  AgentEvents(const RoutingDefinitions& definitions, prometheus::Registry& registry,
              const AgentEventsOptions& options);
  ~AgentEvents() override;

  RouterMetrics& metrics() { return *metrics_; }
  AgentEventLog& log() { return *log_; }
  AgentEventHub& hub() { return *hub_; }

  // The AgentEventService; it refers to this, which must outlive the gRPC server.
  std::unique_ptr<grpc::Service> Service();

  // service::Component: the hub and the metrics collector. Shutdown closes every open event
  // stream with UNAVAILABLE (before gRPC drains).
  absl::Status Start() override;
  void Shutdown(absl::Duration grace) override;

 private:
  const RoutingDefinitions& definitions_;
  engine::RedisPool redis_;
  std::unique_ptr<RouterMetrics> metrics_;
  std::unique_ptr<AgentEventLog> log_;
  std::unique_ptr<AgentEventHub> hub_;
  std::unique_ptr<RouterMetricsCollector> collector_;
  Executor executor_;  // declared last: joined first, after its tasks finished
};

}  // namespace parley::router

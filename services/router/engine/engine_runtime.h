// Everything router's Redis engine runs inside the parley-router binary: its settings, the
// Redis connections, the engine, the presence and routing gRPC services, the sweeper and the
// session relay (with the gRPC channel to session they use). main.cc builds it and hands it to
// RouterRuntime::AddComponent, so that it starts after the definitions are loaded.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "grpcpp/grpcpp.h"
#include "libs/common/config.h"
#include "libs/common/executor.h"
#include "libs/service/service_main.h"
#include "parley/session/v1/session.grpc.pb.h"
#include "services/router/engine/redis_engine.h"
#include "services/router/engine/session_relay.h"
#include "services/router/engine/sweeper.h"
#include "services/router/pg_routing_store.h"

namespace parley::router::engine {

struct EngineRuntimeOptions {
  EngineOptions engine;
  redis::ClientOptions redis;
  int redis_pool_size = 8;
  int workers = 16;
  std::string session_address = "127.0.0.1:50053";
  absl::Duration session_timeout = absl::Seconds(5);
  absl::Duration sweep_interval = absl::Milliseconds(250);
};

// The settings the engine adds: redis_key_prefix, redis_pool_size, router_workers,
// session_address, session_timeout, presence_offline_after, heartbeat_interval,
// agent_event_stream_max_len, sweep_interval.
std::vector<Setting> EngineSettings();
// InvalidArgument naming the setting.
absl::StatusOr<EngineRuntimeOptions> ReadEngineOptions(const Config& config);

class EngineRuntime : public service::Component {
 public:
  // `metrics` (outliving this) learns how offers end and how long assignment took.
  EngineRuntime(const RoutingDefinitions& definitions, EngineRuntimeOptions options,
                RouterMetrics* metrics);
  ~EngineRuntime() override;

  RedisEngine& engine() { return *engine_; }
  // What the admin service needs to refuse deleting queues, work streams and agents in use.
  LiveUsage Usage();
  // PresenceService and RoutingService; they refer to this runtime.
  std::vector<std::unique_ptr<grpc::Service>> Services();

  // service::Component: the sweeper and the session relay.
  absl::Status Start() override;
  void Shutdown(absl::Duration grace) override;

 private:
  const RoutingDefinitions& definitions_;
  const EngineRuntimeOptions options_;
  RedisPool pool_;
  std::unique_ptr<RedisEngine> engine_;
  Executor executor_;
  std::shared_ptr<grpc::Channel> session_channel_;
  std::unique_ptr<session::v1::ConversationService::Stub> session_;
  std::unique_ptr<Sweeper> sweeper_;
  std::unique_ptr<SessionRelay> relay_;
};

}  // namespace parley::router::engine

// Everything the parley-router binary runs besides the shared service frame: its settings, the
// PostgreSQL routing store, the definitions cache and the admin service; and the place where
// the Redis engine plugs in (AddComponent, SetLiveUsage). main.cc declares the Spec and hands
// over.
#pragma once

#include <memory>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "grpcpp/impl/codegen/service_type.h"
#include "libs/common/config.h"
#include "libs/common/executor.h"
#include "libs/pg/pool.h"
#include "libs/service/service_main.h"
#include "services/router/definitions_cache.h"
#include "services/router/pg_routing_store.h"

namespace prometheus {
class Registry;
}  // namespace prometheus

namespace parley::router {

struct RouterOptions {
  // How often each replica checks whether the definitions changed.
  absl::Duration definitions_poll_interval = absl::Seconds(1);
};

// The settings router adds: definitions_poll_interval.
std::vector<Setting> RouterSettings();
// InvalidArgument naming the setting.
absl::StatusOr<RouterOptions> ReadRouterOptions(const Config& config);

// Owns the store, the cache and the executor. As a service::Component it starts the cache
// (one load attempt, then polling) and then the components added with AddComponent (the
// engine), and shuts them down in reverse order. Main destroys it after the services.
class RouterRuntime : public service::Component {
 public:
  // `workers` threads run the admin handlers' PostgreSQL work (the pool's size is a good value).
  RouterRuntime(pg::Pool& pool, prometheus::Registry& metrics, RouterOptions options, int workers);
  ~RouterRuntime() override;

  pg::Pool& pool() { return pool_; }
  prometheus::Registry& metrics() { return metrics_; }
  PgRoutingStore& store() { return *store_; }
  // The snapshot source (RoutingDefinitions) the engine reads; AddListener for change events.
  DefinitionsCache& definitions() { return *cache_; }
  Executor& executor() { return executor_; }

  // Before serving: what the engine knows about live conversations (deletes, Queue.depth).
  void SetLiveUsage(LiveUsage usage) { store_->set_live_usage(std::move(usage)); }
  // Before Start: a component (the engine) started after the cache, stopped before it, and
  // destroyed before everything this runtime owns.
  void AddComponent(std::unique_ptr<service::Component> component);

  // The admin gRPC service; it refers to this runtime, which must outlive it.
  std::vector<std::unique_ptr<grpc::Service>> Services();

  // service::Component
  absl::Status Start() override;
  void Shutdown(absl::Duration grace) override;

 private:
  pg::Pool& pool_;
  prometheus::Registry& metrics_;
  Executor executor_;
  std::unique_ptr<PgRoutingStore> store_;
  std::unique_ptr<DefinitionsCache> cache_;
  // Declared last: destroyed first.
  std::vector<std::unique_ptr<service::Component>> components_;
  size_t started_ = 0;
};

}  // namespace parley::router

// What every Parley service binary does, from flags to exit, so that each main.cc only says
// what is particular to its service:
//   <binary> [--flags]          serve: connect, migrate (unless --migrate_on_start=false),
//                               gRPC with health and reflection, /metrics, and the service's
//                               own extra servers (Components, e.g. ingress's webhook HTTP)
//   <binary> migrate [--flags]  apply the service's migrations and exit (the Kubernetes Job)
//   <binary> --help             list every setting with its variable and default
// On SIGTERM: the service stops being ready, each Component drains (up to shutdown_grace), then
// gRPC drains (up to shutdown_grace).
// Exit codes: 0 after a clean shutdown or migration, 1 when a dependency or a port fails at
// start-up or a migration fails, 2 for a configuration error.
#pragma once

#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "grpcpp/impl/codegen/service_type.h"
#include "libs/common/config.h"

namespace prometheus {
class Registry;
}  // namespace prometheus

namespace parley::pg {
class MigrationSet;
class Pool;
}  // namespace parley::pg
namespace parley::redis {
class Client;
}  // namespace parley::redis

namespace parley::service {

struct Spec {
  std::string name;      // "session": logs, metrics label, health
  int grpc_port = 0;     // default port of the gRPC server
  int metrics_port = 0;  // default port of /metrics
  bool uses_redis = false;
  const pg::MigrationSet* migrations = nullptr;  // the service's schema
  std::vector<Setting> extra_settings;           // settings only this service has
};

// A server a service runs beside gRPC (ingress's webhook HTTP server). Main starts it once
// gRPC serves, and on SIGTERM shuts it down before gRPC drains.
class Component {
 public:
  virtual ~Component() = default;
  // Binds and serves; an error stops start-up (exit code 1).
  virtual absl::Status Start() = 0;
  // Stops accepting work, lets work in flight finish for up to `grace`, then stops.
  virtual void Shutdown(absl::Duration grace) = 0;
};

// What a service builds its handlers from; owned by Main and alive until the server stopped.
struct Context {
  const Config& config;
  pg::Pool& pg;
  redis::Client* redis;  // null unless Spec::uses_redis
  prometheus::Registry& metrics;
  // Whether the service is ready: every dependency probe passed in the last round and it is not
  // stopping; what grpc.health.v1 says, for a Component's own readiness endpoint. Thread-safe.
  std::function<bool()> ready;
  // The service's Components, added by its ServiceFactory; Main runs them in this order.
  std::vector<std::unique_ptr<Component>> components;
};

// Builds the gRPC services the binary serves (and adds any Components to the Context).
// InvalidArgument means a setting is wrong (exit code 2); any other error exits with 1.
using ServiceFactory =
    std::function<absl::StatusOr<std::vector<std::unique_ptr<grpc::Service>>>(Context&)>;

// Runs the binary as described above and returns its exit code.
int Main(int argc, char** argv, Spec spec, const ServiceFactory& factory);

}  // namespace parley::service

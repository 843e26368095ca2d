// Runs a gRPC server the way every Parley service needs it:
//   - grpc.health.v1, NOT_SERVING until every dependency probe passes and whenever one fails
//     (the overall "" status, which Kubernetes' native gRPC readiness probe asks about), and
//     the service name "liveness", SERVING while the process runs until shutdown begins, for
//     a liveness probe that must not restart pods when only the database is away;
//   - server reflection, so grpcurl and grpcui work against any replica;
//   - interceptors (per-RPC metrics);
//   - graceful shutdown: NOT_SERVING at once, no new calls, in-flight calls drained for up to
//     the grace period, then cancelled.
// Services use gRPC's callback API and are owned by the caller; they must outlive the runner.
#pragma once

#include <atomic>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/time/time.h"
#include "libs/grpc/dependency_monitor.h"

namespace grpc {
class Server;
class Service;
namespace experimental {
class ServerInterceptorFactoryInterface;
}  // namespace experimental
}  // namespace grpc

namespace parley {

// The health service name that only says the process is alive.
inline constexpr char kLivenessService[] = "liveness";

struct ServerOptions {
  // host:port to listen on; port 0 picks a free port (see ServerRunner::port).
  std::string address = "0.0.0.0:0";
  // How often the dependencies are probed.
  absl::Duration health_poll_interval = absl::Seconds(1);
  // How long Shutdown lets in-flight calls finish before cancelling them.
  absl::Duration shutdown_grace = absl::Seconds(10);
};

class ServerRunner {
 public:
  ServerRunner(ServerOptions options, std::vector<DependencyProbe> probes);
  ~ServerRunner();  // Shutdown() if still running
  ServerRunner(const ServerRunner&) = delete;
  ServerRunner& operator=(const ServerRunner&) = delete;

  // Before Start: what the server serves and how.
  void AddService(grpc::Service* service);
  void AddInterceptor(std::unique_ptr<grpc::experimental::ServerInterceptorFactoryInterface> f);
  // Also told of every probe round (e.g. to export a per-dependency gauge).
  void SetProbeListener(DependencyMonitor::Listener listener);

  // Binds and serves. Unavailable when the address cannot be bound.
  absl::Status Start();
  // The bound port, after Start.
  int port() const { return port_; }
  // Whether health currently says SERVING.
  bool serving() const;

  // NOT_SERVING from now on, while calls are still accepted (the first step of a shutdown,
  // so that load balancers move away before anything drains). Idempotent.
  void StopServing();
  // StopServing, stop accepting calls, drain in-flight ones, stop. Idempotent.
  void Shutdown();

 private:
  void OnProbeRound(const std::vector<std::pair<std::string, absl::Status>>& results, bool all_ok);

  const ServerOptions options_;
  std::vector<grpc::Service*> services_;
  std::vector<std::unique_ptr<grpc::experimental::ServerInterceptorFactoryInterface>> interceptors_;
  DependencyMonitor::Listener probe_listener_;
  std::unique_ptr<grpc::Server> server_;
  std::unique_ptr<DependencyMonitor> monitor_;
  int port_ = 0;
  std::atomic<bool> serving_{false};
  std::atomic<bool> stopped_serving_{false};
  std::atomic<bool> shut_down_{false};
};

}  // namespace parley

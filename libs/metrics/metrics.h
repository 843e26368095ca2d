// Prometheus metrics of a Parley service: one registry per process, served on its own port at
// /metrics by prometheus-cpp's exposer, and the per-RPC metrics that every gRPC server records
// through an interceptor (names follow go-grpc-prometheus, so that existing dashboards work):
//   grpc_server_started_total{grpc_service,grpc_method,grpc_type}
//   grpc_server_handled_total{grpc_service,grpc_method,grpc_type,grpc_code}
//   grpc_server_handling_seconds{grpc_service,grpc_method,grpc_type}   (histogram)
#pragma once

#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "grpcpp/support/server_interceptor.h"

namespace prometheus {
class Exposer;
class Registry;
}  // namespace prometheus

namespace parley::metrics {

// Serves a registry over HTTP. Stops serving when destroyed.
class MetricsServer {
 public:
  // Binds `address` ("0.0.0.0:9103"; port 0 picks a free port). Unavailable when it cannot.
  static absl::StatusOr<std::unique_ptr<MetricsServer>> Start(
      const std::string& address, const std::shared_ptr<prometheus::Registry>& registry);
  ~MetricsServer();

  // The port actually bound.
  int port() const { return port_; }

 private:
  MetricsServer(std::unique_ptr<prometheus::Exposer> exposer, int port);

  std::unique_ptr<prometheus::Exposer> exposer_;
  int port_;
};

// Records the metrics above for every RPC of the server it is given to. The registry must
// outlive the server.
std::unique_ptr<grpc::experimental::ServerInterceptorFactoryInterface> NewRpcMetricsInterceptor(
    prometheus::Registry& registry);

// parley_build_info{service="...",version="..."} 1: tells dashboards what runs where.
void RegisterBuildInfo(prometheus::Registry& registry, const std::string& service,
                       const std::string& version);

}  // namespace parley::metrics

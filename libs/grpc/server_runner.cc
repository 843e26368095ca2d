#include "libs/grpc/server_runner.h"

#include <chrono>
#include <utility>

#include "absl/strings/str_cat.h"
#include "grpcpp/ext/proto_server_reflection_plugin.h"
#include "grpcpp/grpcpp.h"
#include "grpcpp/health_check_service_interface.h"
#include "libs/common/log.h"
#include "libs/grpc/undecodable_request.h"

namespace parley {

ServerRunner::ServerRunner(ServerOptions options, std::vector<DependencyProbe> probes)
    : options_(std::move(options)) {
  monitor_ = std::make_unique<DependencyMonitor>(
      std::move(probes), options_.health_poll_interval,
      [this](const auto& results, bool all_ok) { OnProbeRound(results, all_ok); });
}

ServerRunner::~ServerRunner() { Shutdown(); }

void ServerRunner::AddService(grpc::Service* service) { services_.push_back(service); }

void ServerRunner::AddInterceptor(
    std::unique_ptr<grpc::experimental::ServerInterceptorFactoryInterface> f) {
  interceptors_.push_back(std::move(f));
}

void ServerRunner::SetProbeListener(DependencyMonitor::Listener listener) {
  probe_listener_ = std::move(listener);
}

bool ServerRunner::serving() const { return serving_.load(); }

absl::Status ServerRunner::Start() {
  grpc::EnableDefaultHealthCheckService(true);
  grpc::reflection::InitProtoReflectionServerBuilderPlugin();
  grpc::ServerBuilder builder;
  // Without SO_REUSEPORT a second process on the same port fails here instead of sharing it.
  builder.AddChannelArgument(GRPC_ARG_ALLOW_REUSEPORT, 0);
  builder.AddListeningPort(options_.address, grpc::InsecureServerCredentials(), &port_);
  for (grpc::Service* service : services_) builder.RegisterService(service);
  // First, so that every other interceptor (metrics) sees the status it sets.
  interceptors_.insert(interceptors_.begin(), NewUndecodableRequestInterceptor());
  builder.experimental().SetInterceptorCreators(std::move(interceptors_));
  server_ = builder.BuildAndStart();
  if (server_ == nullptr || port_ == 0) {
    server_.reset();
    return absl::UnavailableError(absl::StrCat("grpc: cannot listen on ", options_.address));
  }
  server_->GetHealthCheckService()->SetServingStatus("", false);
  server_->GetHealthCheckService()->SetServingStatus(kLivenessService, true);
  monitor_->Start();
  return absl::OkStatus();
}

void ServerRunner::OnProbeRound(const std::vector<std::pair<std::string, absl::Status>>& results,
                                bool all_ok) {
  if (probe_listener_) probe_listener_(results, all_ok);
  if (stopped_serving_.load()) return;
  const bool was = serving_.exchange(all_ok);
  if (was == all_ok) return;
  server_->GetHealthCheckService()->SetServingStatus("", all_ok);
  if (all_ok) {
    log::Info("serving: every dependency answers");
    return;
  }
  for (const auto& [name, status] : results) {
    if (!status.ok())
      log::Warn("not serving", {{"dependency", name}, {"error", status.ToString()}});
  }
}

void ServerRunner::StopServing() {
  if (server_ == nullptr || stopped_serving_.exchange(true)) return;
  monitor_->Stop();
  serving_ = false;
  // NOT_SERVING for every service, and no later change.
  server_->GetHealthCheckService()->Shutdown();
}

void ServerRunner::Shutdown() {
  if (server_ == nullptr || shut_down_.exchange(true)) return;
  StopServing();
  const auto deadline =
      std::chrono::system_clock::now() + absl::ToChronoMilliseconds(options_.shutdown_grace);
  server_->Shutdown(deadline);
  server_->Wait();
  // Destroyed now, so that the services it referred to may go before the runner does.
  server_.reset();
}

}  // namespace parley

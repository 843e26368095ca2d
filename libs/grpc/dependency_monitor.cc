#include "libs/grpc/dependency_monitor.h"

#include <chrono>
#include <utility>

namespace parley {

DependencyMonitor::DependencyMonitor(std::vector<DependencyProbe> probes, absl::Duration interval,
                                     Listener listener)
    : probes_(std::move(probes)), interval_(interval), listener_(std::move(listener)) {}

DependencyMonitor::~DependencyMonitor() { Stop(); }

void DependencyMonitor::Start() {
  thread_ = std::thread([this] { Run(); });
}

void DependencyMonitor::Stop() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    stopping_ = true;
  }
  wake_.notify_all();
  if (thread_.joinable()) thread_.join();
}

void DependencyMonitor::Run() {
  std::unique_lock<std::mutex> lock(mu_);
  while (!stopping_) {
    lock.unlock();
    std::vector<std::pair<std::string, absl::Status>> results;
    bool all_ok = true;
    for (const DependencyProbe& probe : probes_) {
      absl::Status status = probe.check();
      all_ok = all_ok && status.ok();
      results.emplace_back(probe.name, std::move(status));
    }
    listener_(results, all_ok);
    lock.lock();
    wake_.wait_for(lock, absl::ToChronoMilliseconds(interval_), [this] { return stopping_; });
  }
}

}  // namespace parley

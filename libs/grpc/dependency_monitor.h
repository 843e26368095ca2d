// Readiness from the dependencies: polls each probe (PostgreSQL answers, Redis answers, ...)
// on a background thread and reports whether all of them passed. The server runner turns that
// into grpc.health.v1 status, so Kubernetes stops sending traffic to a replica whose database
// is gone and sends it again when the database is back, without a restart.
#pragma once

#include <condition_variable>
#include <functional>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "absl/status/status.h"
#include "absl/time/time.h"

namespace parley {

// One dependency: `check` returns OK when it answers. It is called from the monitor's thread
// and must return within a bounded time (use the client's own timeouts).
struct DependencyProbe {
  std::string name;  // "postgresql", "redis"; used in logs and metrics
  std::function<absl::Status()> check;
};

class DependencyMonitor {
 public:
  // Called after every round with each probe's result and whether all passed.
  using Listener =
      std::function<void(const std::vector<std::pair<std::string, absl::Status>>&, bool all_ok)>;

  DependencyMonitor(std::vector<DependencyProbe> probes, absl::Duration interval,
                    Listener listener);
  ~DependencyMonitor();  // stops the thread

  // Starts polling; the first round runs at once.
  void Start();
  void Stop();

 private:
  void Run();

  const std::vector<DependencyProbe> probes_;
  const absl::Duration interval_;
  const Listener listener_;
  std::mutex mu_;
  std::condition_variable wake_;
  bool stopping_ = false;
  std::thread thread_;
};

}  // namespace parley

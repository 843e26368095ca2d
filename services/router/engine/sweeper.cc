#include "services/router/engine/sweeper.h"

#include "libs/common/log.h"
#include "services/router/engine/util.h"

namespace parley::router::engine {

Sweeper::Sweeper(RedisEngine& engine, RedisPool& redis, const RoutingDefinitions& definitions,
                 absl::Duration interval, std::function<absl::Status()> rebuild)
    : engine_(engine),
      redis_(redis),
      definitions_(definitions),
      interval_(interval),
      rebuild_(std::move(rebuild)) {}

Sweeper::~Sweeper() { Shutdown(absl::ZeroDuration()); }

absl::Status Sweeper::CheckEpoch() {
  const std::string key = engine_.keys().Epoch();
  absl::StatusOr<redis::Reply> epoch = redis_.Get().Command({"GET", key});
  if (!epoch.ok()) return epoch.status();
  if (epoch->type != redis::Reply::Type::kNil) return absl::OkStatus();
  log::Warn("router data missing in Redis (first start or Redis restarted empty): rebuilding");
  synced_revision_ = -1;  // agent definitions are gone too
  if (absl::Status s = engine_.SyncAgents(*definitions_.Current()); !s.ok()) return s;
  if (rebuild_) {
    if (absl::Status s = rebuild_(); !s.ok()) return s;  // retried next round
  }
  absl::StatusOr<redis::Reply> set = redis_.Get().Command({"SET", key, NewUuid(), "NX"});
  if (!set.ok()) return set.status();
  log::Info("router data rebuilt in Redis");
  return absl::OkStatus();
}

absl::Status Sweeper::RunOnce() {
  if (absl::Status s = CheckEpoch(); !s.ok()) return s;
  std::shared_ptr<const RoutingSnapshot> snapshot = definitions_.Current();
  if (snapshot->revision != synced_revision_) {
    if (absl::Status s = engine_.SyncAgents(*snapshot); !s.ok()) return s;
    synced_revision_ = snapshot->revision;
  }
  absl::StatusOr<SweepResult> result = engine_.SweepOnce();
  return result.ok() ? absl::OkStatus() : result.status();
}

absl::Status Sweeper::Start() {
  std::lock_guard<std::mutex> lock(mu_);
  if (thread_.joinable()) return absl::OkStatus();
  stopping_ = false;
  thread_ = std::thread([this] { Loop(); });
  return absl::OkStatus();
}

void Sweeper::Shutdown(absl::Duration) {
  {
    std::lock_guard<std::mutex> lock(mu_);
    stopping_ = true;
  }
  wake_.notify_all();
  if (thread_.joinable()) thread_.join();
}

void Sweeper::Loop() {
  absl::Status last = absl::OkStatus();
  while (true) {
    absl::Status s = RunOnce();
    if (!s.ok() && s.ToString() != last.ToString()) {
      log::Warn("router sweep failed", {{"error", s.ToString()}});
    }
    last = s;
    std::unique_lock<std::mutex> lock(mu_);
    if (wake_.wait_for(lock, absl::ToChronoMilliseconds(interval_), [this] { return stopping_; })) {
      return;
    }
  }
}

}  // namespace parley::router::engine

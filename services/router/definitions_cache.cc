#include "services/router/definitions_cache.h"

#include <chrono>
#include <utility>

#include "absl/strings/str_cat.h"
#include "libs/common/log.h"

namespace parley::router {

DefinitionsCache::DefinitionsCache(PgRoutingStore& store, absl::Duration poll_interval)
    : store_(store),
      poll_interval_(poll_interval),
      snapshot_(std::make_shared<const RoutingSnapshot>()) {}

DefinitionsCache::~DefinitionsCache() { Shutdown(absl::ZeroDuration()); }

std::shared_ptr<const RoutingSnapshot> DefinitionsCache::Current() const {
  std::lock_guard<std::mutex> lock(snapshot_mu_);
  return snapshot_;
}

bool DefinitionsCache::loaded() const {
  std::lock_guard<std::mutex> lock(snapshot_mu_);
  return loaded_;
}

void DefinitionsCache::AddListener(Listener listener) { listeners_.push_back(std::move(listener)); }

absl::Status DefinitionsCache::Reload() {
  std::lock_guard<std::mutex> one_at_a_time(reload_mu_);
  absl::StatusOr<int64_t> revision = store_.Revision();
  if (!revision.ok()) return revision.status();
  {
    std::lock_guard<std::mutex> lock(snapshot_mu_);
    if (loaded_ && snapshot_->revision == *revision) return absl::OkStatus();
  }
  absl::StatusOr<RoutingSnapshot> fresh = store_.LoadSnapshot();
  if (!fresh.ok()) return fresh.status();
  auto next = std::make_shared<const RoutingSnapshot>(*std::move(fresh));
  {
    std::lock_guard<std::mutex> lock(snapshot_mu_);
    snapshot_ = next;
    loaded_ = true;
  }
  log::Debug("routing definitions loaded", {{"revision", absl::StrCat(next->revision)}});
  for (const Listener& listener : listeners_) listener(next);
  return absl::OkStatus();
}

void DefinitionsCache::RequestReload() {
  {
    std::lock_guard<std::mutex> lock(poll_mu_);
    wake_ = true;
  }
  poll_cv_.notify_all();
}

absl::Status DefinitionsCache::Start() {
  if (absl::Status s = Reload(); !s.ok()) {
    log::Warn("routing definitions not loaded yet; retrying", {{"error", s.ToString()}});
  }
  std::lock_guard<std::mutex> lock(poll_mu_);
  if (poller_.joinable()) return absl::OkStatus();
  stopping_ = false;
  poller_ = std::thread([this] { Poll(); });
  return absl::OkStatus();
}

void DefinitionsCache::Shutdown(absl::Duration /*grace*/) {
  std::thread poller;
  {
    std::lock_guard<std::mutex> lock(poll_mu_);
    stopping_ = true;
    poller = std::move(poller_);
  }
  poll_cv_.notify_all();
  if (poller.joinable()) poller.join();
}

void DefinitionsCache::Poll() {
  const auto interval = absl::ToChronoMilliseconds(poll_interval_);
  bool failing = false;
  while (true) {
    {
      std::unique_lock<std::mutex> lock(poll_mu_);
      poll_cv_.wait_for(lock, interval, [this] { return stopping_ || wake_; });
      if (stopping_) return;
      wake_ = false;
    }
    absl::Status s = Reload();
    if (!s.ok() && !failing) {
      log::Warn("routing definitions reload failed", {{"error", s.ToString()}});
    } else if (s.ok() && failing) {
      log::Info("routing definitions reload recovered");
    }
    failing = !s.ok();
  }
}

}  // namespace parley::router

#include "services/session/auto_closer.h"

#include "libs/common/log.h"
#include "prometheus/counter.h"
#include "prometheus/registry.h"

namespace parley::session {
namespace {

constexpr int kBatch = 100;

}  // namespace

AutoCloser::AutoCloser(PgConversationStore& store, absl::Duration interval,
                       prometheus::Registry* metrics)
    : store_(store), interval_(interval) {
  if (metrics == nullptr) return;
  closed_ = &prometheus::BuildCounter()
                 .Name("parley_session_conversations_auto_closed_total")
                 .Help("Conversations closed after their work stream's inactivity time.")
                 .Register(*metrics)
                 .Add({});
}

AutoCloser::~AutoCloser() { Stop(); }

void AutoCloser::Start() {
  std::lock_guard<std::mutex> lock(mu_);
  if (thread_.joinable()) return;
  stopping_ = false;
  thread_ = std::thread([this] { Loop(); });
}

void AutoCloser::Stop() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (!thread_.joinable()) return;
    stopping_ = true;
  }
  wake_.notify_all();
  thread_.join();
}

absl::StatusOr<int> AutoCloser::RunOnce() {
  int total = 0;
  while (true) {
    absl::StatusOr<int> closed = store_.CloseInactive(kBatch);
    if (!closed.ok()) return closed.status();
    total += *closed;
    if (closed_ != nullptr) closed_->Increment(*closed);
    if (*closed < kBatch) return total;
  }
}

void AutoCloser::Loop() {
  while (true) {
    absl::StatusOr<int> closed = RunOnce();
    if (!closed.ok()) {
      log::Warn("auto-close round failed", {{"error", closed.status().ToString()}});
    } else if (*closed > 0) {
      log::Info("closed idle conversations", {{"count", std::to_string(*closed)}});
    }
    std::unique_lock<std::mutex> lock(mu_);
    wake_.wait_for(lock, absl::ToChronoMilliseconds(interval_), [this] { return stopping_; });
    if (stopping_) return;
  }
}

}  // namespace parley::session

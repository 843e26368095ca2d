// Closes conversations that stayed idle for longer than their work stream's auto-close time
// (CLOSE_REASON_INACTIVITY), every `interval`. Safe with several session replicas: each round
// locks the due rows with SKIP LOCKED, so two replicas never close the same conversation.
#pragma once

#include <condition_variable>
#include <mutex>
#include <thread>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "services/session/pg_conversation_store.h"

namespace prometheus {
class Counter;
class Registry;
}  // namespace prometheus

namespace parley::session {

class AutoCloser {
 public:
  AutoCloser(PgConversationStore& store, absl::Duration interval, prometheus::Registry* metrics);
  ~AutoCloser();  // Stop()
  AutoCloser(const AutoCloser&) = delete;
  AutoCloser& operator=(const AutoCloser&) = delete;

  void Start();
  void Stop();  // finishes the round in progress

  // One round: closes everything due, in batches; returns how many were closed.
  absl::StatusOr<int> RunOnce();

 private:
  void Loop();

  PgConversationStore& store_;
  const absl::Duration interval_;
  prometheus::Counter* closed_ = nullptr;
  std::mutex mu_;
  std::condition_variable wake_;
  bool stopping_ = false;
  std::thread thread_;
};

}  // namespace parley::session

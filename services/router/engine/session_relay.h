// Hands routing updates to session reliably. The engine's scripts append each update (queued,
// assigned, transferred) to the `session-updates` stream in the same atomic step as the change;
// this loop, run by every replica as a member of one consumer group, calls session's
// ConversationService.ApplyRoutingUpdate for each entry and acknowledges (and deletes) it only
// once session answered. While session is down, entries wait in the stream and are retried
// with capped backoff; entries a dead replica had claimed are taken over after `claim_after`.
// Session ignores repeats (routing_event_id) and stale updates (routing_sequence), so
// at-least-once delivery in any order is enough.
#pragma once

#include <condition_variable>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <thread>

#include "absl/status/status.h"
#include "absl/time/time.h"
#include "libs/redis/client.h"
#include "libs/service/service_main.h"
#include "parley/session/v1/session.pb.h"
#include "services/router/engine/keys.h"

namespace parley::router::engine {

// Delivers one update to session; OK once session applied or ignored it.
using DeliverUpdate = std::function<absl::Status(const session::v1::ApplyRoutingUpdateRequest&)>;

struct SessionRelayOptions {
  int batch = 100;
  absl::Duration block = absl::Milliseconds(200);  // XREADGROUP BLOCK when idle
  absl::Duration claim_after = absl::Seconds(30);  // take over a silent replica's entries
  absl::Duration initial_backoff = absl::Milliseconds(200);
  absl::Duration max_backoff = absl::Seconds(10);
};

class SessionRelay : public service::Component {
 public:
  SessionRelay(const redis::ClientOptions& redis, Keys keys, DeliverUpdate deliver,
               SessionRelayOptions options);
  ~SessionRelay() override;

  // One round: claim, deliver, acknowledge. Returns how many entries were delivered.
  absl::StatusOr<int> RunOnce();

  absl::Status Start() override;
  void Shutdown(absl::Duration grace) override;

 private:
  absl::Status EnsureGroup();
  absl::StatusOr<int> DeliverEntries(const redis::Reply& entries);
  void Loop();

  redis::Client redis_;  // its own connection: XREADGROUP blocks
  const Keys keys_;
  DeliverUpdate deliver_;
  const SessionRelayOptions options_;
  const std::string consumer_;

  std::mutex mu_;
  std::condition_variable wake_;
  bool stopping_ = false;
  std::thread thread_;
};

}  // namespace parley::router::engine

// Live tail of the agents' event streams for one router replica: one thread and one dedicated
// Redis connection run a single blocking XREAD over the streams of every agent that has an
// open StreamAgentEvents call here, and tell that agent's subscribers when entries arrive. It
// only says "there is something new": each subscriber reads the entries itself from its own
// cursor (AgentEventLog::Read), so that catch-up and live delivery are one code path and a slow
// desktop never holds up another.
//
// A subscription added while the XREAD is blocked wakes it through a private wake stream
// (`<prefix>agent-events-wake:{<random>}`), so no append is noticed late. When Redis fails the
// XREAD, every subscription is closed with UNAVAILABLE (the clients reconnect with their last
// id and the log tells them whether anything was lost); on Shutdown every subscription is
// closed with UNAVAILABLE before gRPC drains.
#pragma once

#include <condition_variable>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/status/status.h"
#include "absl/time/time.h"
#include "libs/redis/client.h"
#include "libs/service/service_main.h"
#include "services/router/agent_event_log.h"

namespace parley::router {

struct AgentEventHubOptions {
  absl::Duration block = absl::Seconds(2);  // XREAD BLOCK; bounds Shutdown when Redis hangs
  absl::Duration retry_after = absl::Milliseconds(500);  // pause after a failed XREAD
};

class AgentEventHub : public service::Component {
 public:
  class Subscriber {
   public:
    virtual ~Subscriber() = default;
    // New entries were appended to the agent's stream. Called on the hub's thread with the hub's
    // lock held: must be quick and must not call the hub.
    virtual void OnAppended() = 0;
    // The subscription is over (already removed): Redis failed or the hub is shutting down.
    // Same calling rules as OnAppended.
    virtual void OnClosed(const absl::Status& status) = 0;
  };

  // `redis` gives the address of the dedicated connection; `log` names the streams and finds
  // their ends.
  AgentEventHub(AgentEventLog& log, redis::ClientOptions redis, AgentEventHubOptions options = {});
  ~AgentEventHub() override;  // Shutdown(0) if running
  AgentEventHub(const AgentEventHub&) = delete;
  AgentEventHub& operator=(const AgentEventHub&) = delete;

  // From now on `subscriber` hears of every entry appended to the agent's stream after this
  // returns OK. UNAVAILABLE when Redis does not answer or the hub is not running.
  absl::Status Subscribe(const std::string& agent_id, Subscriber* subscriber);
  // Ends a subscription; no call reaches `subscriber` after this returns. Idempotent.
  void Unsubscribe(const std::string& agent_id, Subscriber* subscriber);

  // Open subscriptions (for metrics and tests).
  int subscriber_count() const;

  // service::Component
  absl::Status Start() override;
  void Shutdown(absl::Duration grace) override;

 private:
  struct Watch {
    std::string cursor;  // last entry id the hub has seen
    std::vector<Subscriber*> subscribers;
  };

  void Run();
  // Closes every subscription with `status`; mu_ held.
  void CloseAllLocked(const absl::Status& status);
  // Appends to the wake stream so that a blocked XREAD returns.
  void Wake();

  AgentEventLog& log_;
  const AgentEventHubOptions options_;
  const std::string wake_key_;
  std::unique_ptr<redis::Client> reader_;  // used by the hub's thread only

  mutable std::mutex mu_;
  std::condition_variable stop_cv_;
  absl::flat_hash_map<std::string, Watch> watches_;  // by agent id
  std::string wake_cursor_ = "0-0";
  bool running_ = false;
  bool stopping_ = false;
  std::thread thread_;
};

}  // namespace parley::router

// The engine's background loop, run by every router replica: each round it checks that Redis
// still has router's data (the `epoch` marker; when missing, Redis restarted empty and queues
// and assignments are rebuilt from session's open conversations before the marker is set
// again), copies changed agent definitions into Redis, and runs RedisEngine::SweepOnce (offer
// expiry, heartbeat expiry, urgency, dispatch). Because every replica sweeps the same sorted
// sets, a replica that dies mid-offer leaves nothing behind: another one expires its offers.
#pragma once

#include <condition_variable>
#include <functional>
#include <mutex>
#include <thread>

#include "absl/status/status.h"
#include "absl/time/time.h"
#include "libs/service/service_main.h"
#include "services/router/engine/redis_engine.h"

namespace parley::router::engine {

class Sweeper : public service::Component {
 public:
  // `rebuild` refills Redis from session (rebuild.h); OK when done.
  Sweeper(RedisEngine& engine, RedisPool& redis, const RoutingDefinitions& definitions,
          absl::Duration interval, std::function<absl::Status()> rebuild);
  ~Sweeper() override;

  // One round, as the loop runs it (tests call it directly).
  absl::Status RunOnce();

  absl::Status Start() override;
  void Shutdown(absl::Duration grace) override;

 private:
  absl::Status CheckEpoch();
  void Loop();

  RedisEngine& engine_;
  RedisPool& redis_;
  const RoutingDefinitions& definitions_;
  const absl::Duration interval_;
  std::function<absl::Status()> rebuild_;
  int64_t synced_revision_ = -1;

  std::mutex mu_;
  std::condition_variable wake_;
  bool stopping_ = false;
  std::thread thread_;
};

}  // namespace parley::router::engine

// Router's own Prometheus metrics (besides the per-RPC ones every service has):
//   parley_router_offers_total{outcome="accepted|rejected|expired|withdrawn"}   counter
//   parley_router_time_to_assign_seconds{queue_id}   histogram, enqueue to assignment
//   parley_router_queue_depth{queue_id}              gauge, conversations waiting
//   parley_router_queue_oldest_wait_seconds{queue_id} gauge, 0 when the queue is empty
//   parley_router_agents{presence="available|busy|do_not_disturb|away|offline"}  gauge
//   parley_router_capacity_units{kind="used|total"}  gauge, over agents not offline
//   parley_router_agent_event_streams                gauge, open StreamAgentEvents calls here
//   parley_router_agent_events_sent_total            counter, events written to streams
//   parley_router_published_events_total{outcome="delivered|dropped"}   counter
// The engine reports offers and assignments as they happen (RouterMetrics); the gauges of
// queues, presence and capacity are read from Redis by RouterMetricsCollector, a Component
// that refreshes them every `interval` on one replica's view of the shared state (every
// replica exports the same values; dashboards take max() over replicas).
#pragma once

#include <condition_variable>
#include <memory>
#include <mutex>
#include <string>
#include <thread>

#include "absl/container/flat_hash_set.h"
#include "absl/status/status.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "libs/service/service_main.h"
#include "services/router/engine/keys.h"
#include "services/router/engine/lua_script.h"
#include "services/router/engine/redis_pool.h"
#include "services/router/routing_definitions.h"

namespace prometheus {
class Registry;
class Counter;
class Gauge;
class Histogram;
template <typename T>
class Family;
}  // namespace prometheus

namespace parley::router {

enum class OfferOutcome { kAccepted, kRejected, kExpired, kWithdrawn };

class RouterMetrics {
 public:
  explicit RouterMetrics(prometheus::Registry& registry);
  RouterMetrics(const RouterMetrics&) = delete;
  RouterMetrics& operator=(const RouterMetrics&) = delete;

  // Called by the engine. Thread-safe.
  void OfferEnded(OfferOutcome outcome);
  void Assigned(absl::string_view queue_id, absl::Duration waited);

  // Called by the event stream service. Thread-safe.
  void StreamOpened();
  void StreamClosed();
  void EventsSent(int count);
  void EventPublished(bool delivered);

  // Called by the collector.
  struct QueueLoad {
    std::string queue_id;
    int64_t depth = 0;
    absl::Duration oldest_wait;
  };
  struct AgentLoad {
    int64_t by_presence[6] = {};  // indexed by router.v1.Presence (0 unused)
    int64_t capacity_used = 0;
    int64_t capacity_total = 0;
  };
  // Replaces the queue gauges (queues no longer listed are removed) and the agent gauges.
  void SetLoad(const std::vector<QueueLoad>& queues, const AgentLoad& agents);

 private:
  prometheus::Family<prometheus::Counter>& offers_;
  prometheus::Family<prometheus::Histogram>& time_to_assign_;
  prometheus::Family<prometheus::Gauge>& queue_depth_;
  prometheus::Family<prometheus::Gauge>& queue_oldest_;
  prometheus::Family<prometheus::Gauge>& agents_;
  prometheus::Family<prometheus::Gauge>& capacity_;
  prometheus::Gauge& streams_;
  prometheus::Counter& events_sent_;
  prometheus::Family<prometheus::Counter>& published_;

  std::mutex load_mu_;
  absl::flat_hash_set<std::string> queues_shown_;
};

// Reads queue depth, oldest wait, presence and capacity from the engine's keys every
// `interval` (one Lua script per round, over the queues and agents of the current routing
// definitions) into RouterMetrics. A failed round leaves the last values and logs once.
class RouterMetricsCollector : public service::Component {
 public:
  RouterMetricsCollector(engine::RedisPool& redis, engine::Keys keys,
                         const RoutingDefinitions& definitions, RouterMetrics& metrics,
                         absl::Duration interval = absl::Seconds(5));
  ~RouterMetricsCollector() override;

  // One round now (tests; the loop calls it too).
  absl::Status CollectOnce(absl::Time now);

  // service::Component
  absl::Status Start() override;
  void Shutdown(absl::Duration grace) override;

 private:
  void Loop();

  engine::RedisPool& redis_;
  const engine::Keys keys_;
  const RoutingDefinitions& definitions_;
  RouterMetrics& metrics_;
  const absl::Duration interval_;
  const engine::LuaScript script_;

  std::mutex mu_;
  std::condition_variable cv_;
  bool stopping_ = false;
  bool failing_ = false;
  std::thread thread_;
};

}  // namespace parley::router

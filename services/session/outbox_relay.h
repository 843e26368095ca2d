// The transactional outbox's relay: rows written in the same transaction as the change they
// announce (a conversation to route, a message for the assigned agent) are handed to their
// consumer at least once, in a loop owned by this class. Each round claims due rows with
// `FOR UPDATE SKIP LOCKED` (so several session replicas share the work without handing a row
// over twice at the same time), hands each to the consumer of its kind, deletes it on
// success, and on failure counts the attempt and schedules the next one with capped
// exponential backoff. A crash between commit and hand-over loses nothing: the row is still
// there for the next round of any replica. The row id travels with it as the consumer's
// idempotency key. See docs/adr/0007-session-outbox.md.
#pragma once

#include <atomic>
#include <condition_variable>
#include <map>
#include <mutex>
#include <string>
#include <thread>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "libs/pg/pool.h"

namespace prometheus {
class Registry;
template <typename T>
class Family;
class Gauge;
class Counter;
}  // namespace prometheus

namespace parley::session {

// Outbox kinds: a new or reopened conversation for router's RoutingService.EnqueueConversation
// (payload: router.v1.EnqueueConversationRequest without request_id), and a customer message
// for the assigned agent, for AgentEventService.PublishConversationEvent (payload:
// router.v1.PublishConversationEventRequest without source_event_id), and a closed conversation
// for RoutingService.FinishConversation (payload: router.v1.FinishConversationRequest without
// request_id), which releases the agent's capacity and tells the agent.
inline constexpr char kOutboxRouteConversation[] = "route_conversation";
inline constexpr char kOutboxAgentMessage[] = "agent_message";
inline constexpr char kOutboxFinishConversation[] = "finish_conversation";

struct OutboxRow {
  std::string id;       // UUID: the consumer's idempotency key
  std::string kind;     // one of the kinds above
  std::string payload;  // serialized protobuf, by kind
  int attempts = 0;     // failed hand-overs so far
};

// Receives outbox rows of one kind.
class OutboxConsumer {
 public:
  virtual ~OutboxConsumer() = default;
  // Hands the row over; OK once the receiver has durably accepted it (or had it already).
  // Any error schedules a retry.
  virtual absl::Status Deliver(const OutboxRow& row) = 0;
};

struct OutboxRelayOptions {
  int batch_size = 32;                                     // rows claimed per round
  absl::Duration poll_interval = absl::Milliseconds(200);  // pause when nothing is due
  absl::Duration initial_backoff = absl::Seconds(1);       // after the first failure
  absl::Duration max_backoff = absl::Minutes(5);           // cap of the exponential backoff
};

// The delay before attempt `attempts + 1` after `attempts` failures (attempts >= 1):
// initial * 2^(attempts-1), at most `max`.
absl::Duration OutboxBackoff(int attempts, absl::Duration initial, absl::Duration max);

class OutboxRelay {
 public:
  // `consumers` by kind; they must outlive the relay. `metrics` may be null.
  OutboxRelay(pg::Pool& pool, std::map<std::string, OutboxConsumer*> consumers,
              OutboxRelayOptions options, prometheus::Registry* metrics);
  ~OutboxRelay();  // Stop()
  OutboxRelay(const OutboxRelay&) = delete;
  OutboxRelay& operator=(const OutboxRelay&) = delete;

  // Starts the loop thread; Stop() ends it after the round in progress. Both idempotent.
  void Start();
  void Stop();

  // One round: claims due rows, hands them over, deletes or reschedules them; returns how
  // many were delivered. Unavailable when PostgreSQL does not answer. Used by the loop and by
  // tests.
  absl::StatusOr<int> RunOnce();

  // Refreshes the gauges the loop keeps: outbox depth and oldest age, and (being the session's
  // one periodic task) parley_session_conversations{state}.
  absl::Status UpdateGauges();

 private:
  void Loop();

  pg::Pool& pool_;
  const std::map<std::string, OutboxConsumer*> consumers_;
  const OutboxRelayOptions options_;
  prometheus::Gauge* depth_ = nullptr;
  prometheus::Gauge* oldest_age_ = nullptr;
  prometheus::Family<prometheus::Gauge>* by_state_ = nullptr;
  prometheus::Family<prometheus::Counter>* handed_over_ = nullptr;
  std::mutex mu_;
  std::condition_variable wake_;
  bool stopping_ = false;
  std::thread thread_;
};

}  // namespace parley::session

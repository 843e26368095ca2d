#include "services/router/router_metrics.h"

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "libs/common/log.h"
#include "prometheus/counter.h"
#include "prometheus/gauge.h"
#include "prometheus/histogram.h"
#include "prometheus/registry.h"

namespace parley::router {
namespace {

// Upper bounds in seconds, from a second to an hour: how long customers wait for an agent.
prometheus::Histogram::BucketBoundaries AssignBuckets() {
  return {1, 5, 10, 30, 60, 120, 300, 600, 1200, 1800, 3600};
}

constexpr const char* kPresenceNames[] = {"unspecified",    "available", "busy",
                                          "do_not_disturb", "away",      "offline"};
constexpr int kOffline = 5;

const char* OutcomeName(OfferOutcome outcome) {
  switch (outcome) {
    case OfferOutcome::kAccepted:
      return "accepted";
    case OfferOutcome::kRejected:
      return "rejected";
    case OfferOutcome::kExpired:
      return "expired";
    case OfferOutcome::kWithdrawn:
      return "withdrawn";
  }
  return "withdrawn";
}

// ARGV: key prefix, number of queues, the queue ids, then the agent ids.
// Returns, per queue, depth and the oldest enqueue ms (-1 when empty); then, per presence
// 1..5, the number of agents (agents without presence count as offline); then the capacity
// used and total of agents not offline.
constexpr char kCollectScript[] = R"lua(
local prefix, nq = ARGV[1], tonumber(ARGV[2])
local out = {}
for i = 3, 2 + nq do
  local key = prefix .. 'queue:' .. ARGV[i]
  out[#out + 1] = redis.call('ZCARD', key)
  local oldest = -1
  local fifo = redis.call('ZRANGEBYSCORE', key, 0, '+inf', 'WITHSCORES', 'LIMIT', 0, 1)
  if #fifo == 2 then oldest = tonumber(fifo[2]) end
  local urgent = redis.call('ZRANGEBYSCORE', key, '-inf', '(0', 'LIMIT', 0, 100)
  for _, conv in ipairs(urgent) do
    local enq = tonumber(redis.call('HGET', prefix .. 'conv:' .. conv, 'enq'))
    if enq and (oldest < 0 or enq < oldest) then oldest = enq end
  end
  out[#out + 1] = tostring(oldest)
end
local counts, used, total = {0, 0, 0, 0, 0}, 0, 0
for i = 3 + nq, #ARGV do
  local a = redis.call('HMGET', prefix .. 'agent:' .. ARGV[i], 'p', 'used', 'cap')
  local p = tonumber(a[1]) or 5
  if p < 1 or p > 5 then p = 5 end
  counts[p] = counts[p] + 1
  if p ~= 5 then
    used = used + (tonumber(a[2]) or 0)
    total = total + (tonumber(a[3]) or 0)
  end
end
for p = 1, 5 do out[#out + 1] = counts[p] end
out[#out + 1] = used
out[#out + 1] = total
return out
)lua";

}  // namespace

RouterMetrics::RouterMetrics(prometheus::Registry& registry)
    : offers_(prometheus::BuildCounter()
                  .Name("parley_router_offers_total")
                  .Help("Offers that ended, by outcome (accepted, rejected, expired, withdrawn).")
                  .Register(registry)),
      time_to_assign_(prometheus::BuildHistogram()
                          .Name("parley_router_time_to_assign_seconds")
                          .Help("Time from enqueue to assignment, by queue.")
                          .Register(registry)),
      queue_depth_(prometheus::BuildGauge()
                       .Name("parley_router_queue_depth")
                       .Help("Conversations waiting in the queue.")
                       .Register(registry)),
      queue_oldest_(prometheus::BuildGauge()
                        .Name("parley_router_queue_oldest_wait_seconds")
                        .Help("How long the longest-waiting conversation of the queue has "
                              "waited; 0 when the queue is empty.")
                        .Register(registry)),
      agents_(prometheus::BuildGauge()
                  .Name("parley_router_agents")
                  .Help("Enabled and disabled agents by presence.")
                  .Register(registry)),
      capacity_(prometheus::BuildGauge()
                    .Name("parley_router_capacity_units")
                    .Help("Capacity of the agents not offline: used (held and reserved) and total.")
                    .Register(registry)),
      streams_(prometheus::BuildGauge()
                   .Name("parley_router_agent_event_streams")
                   .Help("Open StreamAgentEvents calls on this replica.")
                   .Register(registry)
                   .Add({})),
      events_sent_(prometheus::BuildCounter()
                       .Name("parley_router_agent_events_sent_total")
                       .Help("Agent events written to event streams by this replica.")
                       .Register(registry)
                       .Add({})),
      published_(prometheus::BuildCounter()
                     .Name("parley_router_published_events_total")
                     .Help("PublishConversationEvent calls by outcome (delivered; dropped: not "
                           "assigned or a repeat).")
                     .Register(registry)) {
  for (OfferOutcome o : {OfferOutcome::kAccepted, OfferOutcome::kRejected, OfferOutcome::kExpired,
                         OfferOutcome::kWithdrawn}) {
    offers_.Add({{"outcome", OutcomeName(o)}});
  }
  for (int p = 1; p <= kOffline; ++p) agents_.Add({{"presence", kPresenceNames[p]}});
  published_.Add({{"outcome", "delivered"}});
  published_.Add({{"outcome", "dropped"}});
}

void RouterMetrics::OfferEnded(OfferOutcome outcome) {
  offers_.Add({{"outcome", OutcomeName(outcome)}}).Increment();
}

void RouterMetrics::Assigned(absl::string_view queue_id, absl::Duration waited) {
  time_to_assign_.Add({{"queue_id", std::string(queue_id)}}, AssignBuckets())
      .Observe(absl::ToDoubleSeconds(std::max(waited, absl::ZeroDuration())));
}

void RouterMetrics::StreamOpened() { streams_.Increment(); }
void RouterMetrics::StreamClosed() { streams_.Decrement(); }
void RouterMetrics::EventsSent(int count) { events_sent_.Increment(count); }

void RouterMetrics::EventPublished(bool delivered) {
  published_.Add({{"outcome", delivered ? "delivered" : "dropped"}}).Increment();
}

void RouterMetrics::SetLoad(const std::vector<QueueLoad>& queues, const AgentLoad& agents) {
  std::lock_guard<std::mutex> lock(load_mu_);
  absl::flat_hash_set<std::string> shown;
  for (const QueueLoad& q : queues) {
    queue_depth_.Add({{"queue_id", q.queue_id}}).Set(static_cast<double>(q.depth));
    queue_oldest_.Add({{"queue_id", q.queue_id}}).Set(absl::ToDoubleSeconds(q.oldest_wait));
    shown.insert(q.queue_id);
  }
  for (const std::string& old : queues_shown_) {
    if (shown.contains(old)) continue;
    queue_depth_.Remove(&queue_depth_.Add({{"queue_id", old}}));
    queue_oldest_.Remove(&queue_oldest_.Add({{"queue_id", old}}));
  }
  queues_shown_ = std::move(shown);
  for (int p = 1; p <= kOffline; ++p) {
    agents_.Add({{"presence", kPresenceNames[p]}}).Set(static_cast<double>(agents.by_presence[p]));
  }
  capacity_.Add({{"kind", "used"}}).Set(static_cast<double>(agents.capacity_used));
  capacity_.Add({{"kind", "total"}}).Set(static_cast<double>(agents.capacity_total));
}

RouterMetricsCollector::RouterMetricsCollector(engine::RedisPool& redis, engine::Keys keys,
                                               const RoutingDefinitions& definitions,
                                               RouterMetrics& metrics, absl::Duration interval)
    : redis_(redis),
      keys_(std::move(keys)),
      definitions_(definitions),
      metrics_(metrics),
      interval_(interval),
      script_(kCollectScript) {}

RouterMetricsCollector::~RouterMetricsCollector() { Shutdown(absl::ZeroDuration()); }

absl::Status RouterMetricsCollector::CollectOnce(absl::Time now) {
  std::shared_ptr<const RoutingSnapshot> snapshot = definitions_.Current();
  std::vector<std::string> args = {keys_.prefix(), absl::StrCat(snapshot->queues.size())};
  std::vector<std::string> queue_ids;
  for (const auto& [id, queue] : snapshot->queues) {
    queue_ids.push_back(id);
    args.push_back(id);
  }
  for (const auto& [id, agent] : snapshot->agents) args.push_back(id);
  absl::StatusOr<redis::Reply> reply = script_.Run(redis_.Get(), {}, args);
  if (!reply.ok()) return reply.status();
  const std::vector<redis::Reply>& out = reply->elements;
  if (out.size() != queue_ids.size() * 2 + kOffline + 2) {
    return absl::InternalError("redis: unexpected reply to the metrics script");
  }
  std::vector<RouterMetrics::QueueLoad> queues;
  for (size_t i = 0; i < queue_ids.size(); ++i) {
    RouterMetrics::QueueLoad q{.queue_id = queue_ids[i], .depth = out[2 * i].integer};
    int64_t oldest_ms = -1;
    if (absl::SimpleAtoi(out[2 * i + 1].str, &oldest_ms) && oldest_ms >= 0 && q.depth > 0) {
      q.oldest_wait = std::max(now - absl::FromUnixMillis(oldest_ms), absl::ZeroDuration());
    }
    queues.push_back(std::move(q));
  }
  RouterMetrics::AgentLoad agents;
  const size_t base = queue_ids.size() * 2;
  for (int p = 1; p <= kOffline; ++p) agents.by_presence[p] = out[base + p - 1].integer;
  agents.capacity_used = out[base + kOffline].integer;
  agents.capacity_total = out[base + kOffline + 1].integer;
  metrics_.SetLoad(queues, agents);
  return absl::OkStatus();
}

absl::Status RouterMetricsCollector::Start() {
  std::lock_guard<std::mutex> lock(mu_);
  if (thread_.joinable() || stopping_) return absl::OkStatus();
  thread_ = std::thread([this] { Loop(); });
  return absl::OkStatus();
}

void RouterMetricsCollector::Shutdown(absl::Duration /*grace*/) {
  {
    std::lock_guard<std::mutex> lock(mu_);
    stopping_ = true;
  }
  cv_.notify_all();
  if (thread_.joinable()) thread_.join();
}

void RouterMetricsCollector::Loop() {
  std::unique_lock<std::mutex> lock(mu_);
  while (!stopping_) {
    lock.unlock();
    absl::Status status = CollectOnce(absl::Now());
    lock.lock();
    if (!status.ok() && !failing_) {
      log::Warn("router metrics: cannot read queues and presence", {{"error", status.message()}});
    }
    failing_ = !status.ok();
    cv_.wait_for(lock, absl::ToChronoMilliseconds(interval_), [this] { return stopping_; });
  }
}

}  // namespace parley::router

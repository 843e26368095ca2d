#include "services/session/outbox_relay.h"

#include <algorithm>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "libs/common/failure_log.h"
#include "libs/common/log.h"
#include "prometheus/counter.h"
#include "prometheus/gauge.h"
#include "prometheus/registry.h"
#include "services/session/conversation_state.h"
#include "services/session/rows.h"

namespace parley::session {
namespace {

// $1 batch size.
constexpr char kClaim[] = R"sql(
SELECT id::text, kind, encode(payload, 'hex'), attempts FROM session.outbox
WHERE next_attempt_at <= now()
ORDER BY next_attempt_at, created_at
LIMIT $1
FOR UPDATE SKIP LOCKED)sql";

constexpr char kDelete[] = "DELETE FROM session.outbox WHERE id = $1::uuid";

// $1 id, $2 backoff (us), $3 error.
constexpr char kReschedule[] = R"sql(
UPDATE session.outbox
SET attempts = attempts + 1, next_attempt_at = now() + $2::bigint * interval '1 microsecond',
    last_error = $3
WHERE id = $1::uuid)sql";

constexpr char kGauges[] = R"sql(
SELECT count(*), coalesce(extract(epoch FROM now() - min(created_at)), 0)::float8
FROM session.outbox)sql";

constexpr absl::Duration kGaugeInterval = absl::Seconds(5);

constexpr char kStates[] = "SELECT state, count(*) FROM session.conversations GROUP BY state";

}  // namespace

absl::Duration OutboxBackoff(int attempts, absl::Duration initial, absl::Duration max) {
  absl::Duration d = initial;
  for (int i = 1; i < attempts && d < max; ++i) d *= 2;
  return std::min(d, max);
}

OutboxRelay::OutboxRelay(pg::Pool& pool, std::map<std::string, OutboxConsumer*> consumers,
                         OutboxRelayOptions options, prometheus::Registry* metrics)
    : pool_(pool), consumers_(std::move(consumers)), options_(options) {
  if (metrics == nullptr) return;
  depth_ = &prometheus::BuildGauge()
                .Name("parley_session_outbox_depth")
                .Help("Rows in the session outbox waiting to be handed over.")
                .Register(*metrics)
                .Add({});
  oldest_age_ = &prometheus::BuildGauge()
                     .Name("parley_session_outbox_oldest_age_seconds")
                     .Help("Age of the oldest row in the session outbox (0 when empty).")
                     .Register(*metrics)
                     .Add({});
  by_state_ = &prometheus::BuildGauge()
                   .Name("parley_session_conversations")
                   .Help("Conversations by state (OPEN, ACTIVE, WAITING, WRAP_UP, CLOSED).")
                   .Register(*metrics);
  handed_over_ = &prometheus::BuildCounter()
                      .Name("parley_session_outbox_deliveries_total")
                      .Help("Outbox hand-over attempts by kind and result (ok, error).")
                      .Register(*metrics);
}

OutboxRelay::~OutboxRelay() { Stop(); }

void OutboxRelay::Start() {
  std::lock_guard<std::mutex> lock(mu_);
  if (thread_.joinable()) return;
  stopping_ = false;
  thread_ = std::thread([this] { Loop(); });
}

void OutboxRelay::Stop() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (!thread_.joinable()) return;
    stopping_ = true;
  }
  wake_.notify_all();
  thread_.join();
}

void OutboxRelay::Loop() {
  absl::Time gauges_time = absl::InfinitePast();
  log::FailureLog failures("outbox relay round");
  while (true) {
    absl::StatusOr<int> delivered = RunOnce();
    if (delivered.ok()) {
      failures.Succeeded();
    } else {
      failures.Failed(delivered.status());
    }
    // Counting rows is not free: the gauges are refreshed every few seconds only.
    if (absl::Now() - gauges_time >= kGaugeInterval && UpdateGauges().ok()) {
      gauges_time = absl::Now();
    }
    std::unique_lock<std::mutex> lock(mu_);
    if (stopping_) return;
    // A full batch means more may be due: go on at once.
    if (delivered.ok() && *delivered >= options_.batch_size) continue;
    wake_.wait_for(lock, absl::ToChronoMilliseconds(options_.poll_interval),
                   [this] { return stopping_; });
    if (stopping_) return;
  }
}

absl::StatusOr<int> OutboxRelay::RunOnce() {
  int delivered = 0;
  absl::Status status = pool_.Transact([&](pqxx::work& tx) -> absl::Status {
    delivered = 0;
    const pqxx::result rows = tx.exec_params(kClaim, options_.batch_size);
    for (const pqxx::row& r : rows) {
      OutboxRow row{r[0].as<std::string>(), r[1].as<std::string>(), Unhex(r[2].as<std::string>()),
                    r[3].as<int>()};
      auto consumer = consumers_.find(row.kind);
      absl::Status s = consumer == consumers_.end()
                           ? absl::UnimplementedError(
                                 absl::StrCat("no consumer for outbox kind '", row.kind, "'"))
                           : consumer->second->Deliver(row);
      if (handed_over_ != nullptr) {
        handed_over_->Add({{"kind", row.kind}, {"result", s.ok() ? "ok" : "error"}}).Increment();
      }
      if (s.ok()) {
        tx.exec_params(kDelete, row.id);
        ++delivered;
        continue;
      }
      const absl::Duration backoff =
          OutboxBackoff(row.attempts + 1, options_.initial_backoff, options_.max_backoff);
      std::string error = s.ToString();
      if (error.size() > 1000) error.resize(1000);
      tx.exec_params(kReschedule, row.id, absl::ToInt64Microseconds(backoff), error);
      log::Warn("outbox hand-over failed", {{"id", row.id},
                                            {"kind", row.kind},
                                            {"attempts", absl::StrCat(row.attempts + 1)},
                                            {"retry_in", absl::FormatDuration(backoff)},
                                            {"error", s.ToString()}});
    }
    return absl::OkStatus();
  });
  if (!status.ok()) return status;
  return delivered;
}

absl::Status OutboxRelay::UpdateGauges() {
  if (depth_ == nullptr) return absl::OkStatus();
  return pool_.Transact([&](pqxx::work& tx) -> absl::Status {
    const pqxx::row r = tx.exec1(kGauges);
    depth_->Set(r[0].as<double>());
    oldest_age_->Set(r[1].as<double>());
    std::map<int, double> counts;
    for (const pqxx::row& row : tx.exec(kStates)) counts[row[0].as<int>()] = row[1].as<double>();
    for (int state = 1; state <= 5; ++state) {
      by_state_->Add({{"state", std::string(StateName(static_cast<State>(state)))}})
          .Set(counts[state]);
    }
    return absl::OkStatus();
  });
}

}  // namespace parley::session

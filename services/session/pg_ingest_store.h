// IngestStore on PostgreSQL: each batch stored all or nothing, several concurrent batches in
// one transaction (group commit, below). Concurrent batches for the same customer are serialized by
// a transaction-scoped advisory lock per channel identity (taken in a fixed order, so two batches
// never deadlock), and every write is idempotent through a unique constraint (messages, signals and
// dead letters on channel + endpoint + dedup key) or a status that only moves forward. A batch
// first runs without savepoints; when PostgreSQL refuses a value that the checks in C++ did not
// foresee, it runs again with one savepoint per event and dead-letters the events that fail. See
// docs/adr/0006-session-storage.md.
#pragma once

#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <unordered_map>
#include <vector>

#include "absl/time/time.h"
#include "libs/common/executor.h"
#include "libs/pg/pool.h"
#include "services/session/ingest_store.h"

namespace parley::session {

// Group commit: the calls pending at the same moment are stored in one transaction and
// answered after its single commit. Groups run on the store's own threads (at most
// max_concurrent_groups at once, so callers' threads never wait for PostgreSQL): a call finding
// a group thread free starts one; a group thread takes every pending call (up to
// max_group_calls) and, when done, the calls that arrived meanwhile. A group takes every
// identity lock up front (sorted, one statement), stores the plain customer messages of
// customers with a remembered conversation by one multi-row statement (hinted_messages.h), then
// every other event as a lone call would. When PostgreSQL refuses a value the group runs again
// with a savepoint per event; on a conflict or any other failure but Unavailable, each call runs
// again in its own transaction, so that every call gets the answer, and the guarantees, it
// would have had alone. Options are on IngestBatchingOptions.

// The live conversation an earlier batch found for a customer (key: channel/endpoint/user id).
// Only a hint: the statement that uses it checks, under the customer's lock, that it still is
// the live conversation as remembered, and otherwise the full path runs.
struct ConversationHint {
  std::string conversation_id;
  std::string agent_id;
  std::string search_config;
  bool tag = false;
};

class ConversationHints {
 public:
  std::optional<ConversationHint> Get(const std::string& key);
  void Put(const std::string& key, ConversationHint hint);

 private:
  static constexpr size_t kMaxEntries = 100000;
  std::mutex mu_;
  std::unordered_map<std::string, ConversationHint> hints_;  // guarded by mu_
};

struct IngestBatchingOptions {
  int max_concurrent_groups = 1;
  int max_group_calls = 64;
};

class PgIngestStore : public IngestStore {
 public:
  // `clock` gives the time used when a batch has no receive_time.
  explicit PgIngestStore(pg::Pool& pool, std::function<absl::Time()> clock = absl::Now,
                         IngestBatchingOptions options = {})
      : pool_(pool),
        clock_(std::move(clock)),
        options_(options),
        group_threads_(options.max_concurrent_groups) {}

  // IngestStore
  void StartIngest(const v1::IngestRequest& request, Done done) override;

 private:
  struct Call {
    const v1::IngestRequest* request;
    Done done;
    absl::StatusOr<v1::IngestResponse> result = absl::UnknownError("not run");
  };

  // Runs groups while calls are pending (on a group thread).
  void RunGroups();
  void RunGroup(const std::vector<std::unique_ptr<Call>>& group);
  absl::StatusOr<v1::IngestResponse> IngestAlone(const v1::IngestRequest& request);
  // One transaction storing every request, one response each in order.
  absl::StatusOr<std::vector<v1::IngestResponse>> Run(
      const std::vector<const v1::IngestRequest*>& requests, bool isolate);

  pg::Pool& pool_;
  std::function<absl::Time()> clock_;
  const IngestBatchingOptions options_;
  ConversationHints hints_;
  std::mutex mu_;
  std::deque<std::unique_ptr<Call>> pending_;  // guarded by mu_
  int running_groups_ = 0;                     // RunGroups loops started, guarded by mu_
  Executor group_threads_;  // last: destroyed first, finishing every call it took
};

}  // namespace parley::session

// Where IngestService keeps inbound events: the boundary between the gRPC handler and
// PostgreSQL, so that the handler can be tested without a database and the store without gRPC.
#pragma once

#include <condition_variable>
#include <functional>
#include <mutex>
#include <optional>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "parley/session/v1/session.pb.h"

namespace parley::session {

class IngestStore {
 public:
  using Done = std::function<void(absl::StatusOr<v1::IngestResponse>)>;

  virtual ~IngestStore() = default;

  // Stores a batch that passed ValidateIngestRequest, all or nothing, and calls `done` once,
  // on a thread of the store, with one result per event in request order, only after the batch
  // is committed; `request` must stay valid until then. Poison events are dead-lettered inside
  // the batch, not reported as errors. Errors: Unavailable (PostgreSQL does not answer or the
  // commit failed: nothing is stored), Aborted (a conflict: retry), Internal (a bug).
  virtual void StartIngest(const v1::IngestRequest& request, Done done) = 0;

  // StartIngest, waiting for its result.
  absl::StatusOr<v1::IngestResponse> Ingest(const v1::IngestRequest& request) {
    std::mutex mu;
    std::condition_variable ready;
    std::optional<absl::StatusOr<v1::IngestResponse>> result;
    StartIngest(request, [&](absl::StatusOr<v1::IngestResponse> r) {
      std::lock_guard<std::mutex> lock(mu);  // notified under the lock: the waiter returns after
      result = std::move(r);
      ready.notify_one();
    });
    std::unique_lock<std::mutex> lock(mu);
    ready.wait(lock, [&] { return result.has_value(); });
    return *std::move(result);
  }
};

// InvalidArgument naming the field when the batch itself is malformed (see session.proto
// IngestService.Ingest); OK otherwise. Content problems are not checked here: they make a
// single event a dead letter, not the batch a bad request.
absl::Status ValidateIngestRequest(const v1::IngestRequest& request);

}  // namespace parley::session

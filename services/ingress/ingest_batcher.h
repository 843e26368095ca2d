// Hands webhook batches to session's IngestService, putting the batches of webhooks that wait
// at the same moment into one call. Session answers a call only after its commit, so a webhook
// gets its answer exactly as if it had gone alone: OK once its events are committed (with its
// own results), or the call's error. While `max_calls_in_flight` calls are out, later batches
// wait and then go together (up to `max_events_per_call` events) in the next call; the waiting
// threads take turns sending, no thread of its own. Fewer, larger calls cost session and
// PostgreSQL much less per event (ADR 0012). Only batches of the same channel share a call. When
// session rejects a shared call as INVALID_ARGUMENT, each batch is sent again alone, so that one
// webhook's bad batch never fails another's.
#pragma once

#include <deque>
#include <memory>
#include <mutex>
#include <vector>

#include "absl/time/time.h"
#include "grpcpp/support/status.h"
#include "parley/session/v1/session.grpc.pb.h"

namespace prometheus {
class Histogram;
}  // namespace prometheus

namespace parley::ingress {

struct IngestBatcherOptions {
  int max_calls_in_flight = 2;
  int max_events_per_call = 1000;
  // How long a batch may take, from when it is handed over: time spent waiting for a call
  // counts, so that a provider gets its answer in time (Meta wants one within 5 s). A call's
  // deadline is the earliest of its batches'; a batch whose time ran out while it waited is
  // answered DEADLINE_EXCEEDED without being sent.
  absl::Duration deadline = absl::Seconds(4);
};

class IngestBatcher {
 public:
  // `batches_per_call`, when given, observes how many batches each call carried.
  IngestBatcher(std::shared_ptr<session::v1::IngestService::StubInterface> stub,
                IngestBatcherOptions options, prometheus::Histogram* batches_per_call = nullptr);

  // Blocks until session has answered the call that carried `batch` (at most
  // max_events_per_call events). On OK, `response` holds `batch`'s own results, event_index
  // counting within `batch`.
  grpc::Status Ingest(const session::v1::IngestRequest& batch,
                      session::v1::IngestResponse* response);

  // Batches waiting for a call (not yet sent).
  int Waiting();

 private:
  struct Waiter;

  // Takes the waiting batches that fit one call, sends it with `lock` released, and hands each
  // batch its part of the answer.
  void SendNext(std::unique_lock<std::mutex>& lock);
  void SendShared(const std::vector<Waiter*>& group, absl::Time deadline);
  grpc::Status Call(const session::v1::IngestRequest& request,
                    session::v1::IngestResponse* response, absl::Time deadline) const;

  std::shared_ptr<session::v1::IngestService::StubInterface> stub_;
  const IngestBatcherOptions options_;
  prometheus::Histogram* batches_per_call_;
  std::mutex mu_;
  std::deque<Waiter*> waiting_;  // guarded by mu_
  int in_flight_ = 0;            // guarded by mu_
};

}  // namespace parley::ingress

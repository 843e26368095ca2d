// Hands webhook batches to session's IngestService, putting the batches of webhooks that wait
// at the same moment into one call. Session answers a call only after its commit, so a webhook
// gets its answer exactly as if it had gone alone: OK once its events are committed (with its
// own results), or the call's error. While `max_calls_in_flight` calls are out, later batches
// wait and then go together (up to `max_events_per_call` events) in the next call. Calls are
// asynchronous (gRPC's callback API): no thread waits for session, and the answer to one call
// sends the next. Fewer, larger calls cost session and PostgreSQL much less per event
// (ADR 0012). Only batches of the same channel share a call. When session rejects a shared call
// as INVALID_ARGUMENT, each batch is sent again alone, so that one webhook's bad batch never
// fails another's.
#pragma once

#include <condition_variable>
#include <deque>
#include <functional>
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
  // Deadline of each call, from when it is sent.
  absl::Duration deadline = absl::Seconds(4);
};

class IngestBatcher {
 public:
  // On OK, the response holds the batch's own results, event_index counting within it.
  using Done = std::function<void(grpc::Status, session::v1::IngestResponse)>;

  // `batches_per_call`, when given, observes how many batches each call carried.
  IngestBatcher(std::shared_ptr<session::v1::IngestService::StubInterface> stub,
                IngestBatcherOptions options, prometheus::Histogram* batches_per_call = nullptr);
  // Waits for the calls still out (their `done` callbacks run).
  ~IngestBatcher();

  // Sends `batch` (at most max_events_per_call events) with the next call; `done` runs once,
  // on a gRPC thread or in this call, when session has answered the call that carried it.
  void Ingest(session::v1::IngestRequest batch, Done done);

  // Batches waiting for a call (not yet sent).
  int Waiting();

 private:
  struct Pending {
    session::v1::IngestRequest batch;
    Done done;
    bool alone = false;  // resent after a shared call was refused: never shares again
  };
  struct Call;

  // Takes the waiting batches that fit the next call (under mu_), oldest first.
  std::vector<Pending> TakeGroup();
  void Send(std::vector<Pending> group);
  void Answered(Call* call, const grpc::Status& status);
  // Sends while calls are free and batches wait.
  void Pump();

  std::shared_ptr<session::v1::IngestService::StubInterface> stub_;
  const IngestBatcherOptions options_;
  prometheus::Histogram* batches_per_call_;
  std::mutex mu_;
  std::condition_variable idle_;
  std::deque<Pending> waiting_;  // guarded by mu_
  int in_flight_ = 0;            // guarded by mu_
};

}  // namespace parley::ingress

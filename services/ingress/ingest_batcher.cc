#include "services/ingress/ingest_batcher.h"

#include <algorithm>
#include <condition_variable>
#include <set>
#include <string>
#include <utility>

#include "absl/time/clock.h"
#include "grpcpp/client_context.h"
#include "prometheus/histogram.h"

namespace parley::ingress {

namespace sv1 = session::v1;

struct IngestBatcher::Waiter {
  const sv1::IngestRequest* batch;
  sv1::IngestResponse* response;
  absl::Time deadline;
  grpc::Status status;
  bool done = false;
  // Signalled, under mu_, when the batch is answered or when it is this waiter's turn to send.
  std::condition_variable wake;
};

IngestBatcher::IngestBatcher(std::shared_ptr<sv1::IngestService::StubInterface> stub,
                             IngestBatcherOptions options, prometheus::Histogram* batches_per_call)
    : stub_(std::move(stub)), options_(options), batches_per_call_(batches_per_call) {}

grpc::Status IngestBatcher::Ingest(const sv1::IngestRequest& batch, sv1::IngestResponse* response) {
  Waiter me{.batch = &batch, .response = response, .deadline = absl::Now() + options_.deadline};
  std::unique_lock lock(mu_);
  waiting_.push_back(&me);
  while (!me.done) {
    if (in_flight_ < options_.max_calls_in_flight && !waiting_.empty()) {
      SendNext(lock);
      continue;
    }
    me.wake.wait(lock);
  }
  return me.status;
}

int IngestBatcher::Waiting() {
  std::lock_guard lock(mu_);
  return static_cast<int>(waiting_.size());
}

void IngestBatcher::SendNext(std::unique_lock<std::mutex>& lock) {
  // The oldest batch always goes; then the next ones of its channel that fit.
  std::vector<Waiter*> group{waiting_.front()};
  waiting_.pop_front();
  const common::v1::Channel channel = group.front()->batch->channel();
  int events = group.front()->batch->events_size();
  for (auto it = waiting_.begin(); it != waiting_.end();) {
    const sv1::IngestRequest& next = *(*it)->batch;
    if (next.channel() != channel || events + next.events_size() > options_.max_events_per_call) {
      ++it;
      continue;
    }
    events += next.events_size();
    group.push_back(*it);
    it = waiting_.erase(it);
  }
  ++in_flight_;
  // Batches left behind (another channel, or over the limit) need not wait while a call is free.
  if (!waiting_.empty() && in_flight_ < options_.max_calls_in_flight) {
    waiting_.front()->wake.notify_one();
  }
  lock.unlock();
  // Batches whose time ran out while they waited are not sent: their providers retry anyway.
  const absl::Time now = absl::Now();
  absl::Time deadline = absl::InfiniteFuture();
  std::vector<Waiter*> live;
  for (Waiter* w : group) {
    if (w->deadline <= now) {
      w->status = grpc::Status(grpc::StatusCode::DEADLINE_EXCEEDED,
                               "the batch waited for a call to session until its deadline");
      continue;
    }
    deadline = std::min(deadline, w->deadline);
    live.push_back(w);
  }
  if (batches_per_call_ != nullptr && !live.empty()) {
    batches_per_call_->Observe(static_cast<double>(live.size()));
  }
  if (live.size() == 1) {
    live.front()->status = Call(*live.front()->batch, live.front()->response, deadline);
  } else if (live.size() > 1) {
    SendShared(live, deadline);
  }
  lock.lock();
  --in_flight_;
  // Wake only whom it concerns: the answered batches' threads, and the oldest waiting one to
  // send the next call (waking all of them costs a context switch each).
  for (Waiter* w : group) {
    w->done = true;
    w->wake.notify_one();
  }
  if (!waiting_.empty()) waiting_.front()->wake.notify_one();
}

// One call carrying every batch of `group`: the events one after another, each endpoint's
// settings once, the oldest batch's id and receive time (the others' differ by at most the
// time they waited).
void IngestBatcher::SendShared(const std::vector<Waiter*>& group, absl::Time deadline) {
  sv1::IngestRequest shared;
  const sv1::IngestRequest& first = *group.front()->batch;
  shared.set_batch_id(first.batch_id());
  shared.set_channel(first.channel());
  *shared.mutable_receive_time() = first.receive_time();
  std::set<std::string> endpoints;
  std::vector<int> offsets;
  for (const Waiter* w : group) {
    offsets.push_back(shared.events_size());
    for (const sv1::EndpointSnapshot& e : w->batch->endpoints()) {
      if (endpoints.insert(e.endpoint().id()).second) *shared.add_endpoints() = e;
    }
    for (const sv1::InboundEvent& ev : w->batch->events()) *shared.add_events() = ev;
  }
  sv1::IngestResponse answer;
  const grpc::Status status = Call(shared, &answer, deadline);
  if (status.error_code() == grpc::StatusCode::INVALID_ARGUMENT) {
    for (Waiter* w : group) w->status = Call(*w->batch, w->response, w->deadline);
    return;
  }
  for (size_t i = 0; i < group.size(); ++i) {
    Waiter& w = *group[i];
    w.status = status;
    if (!status.ok()) continue;
    const int begin = offsets[i];
    const int end = begin + w.batch->events_size();
    for (const sv1::IngestEventResult& r : answer.results()) {
      if (r.event_index() < begin || r.event_index() >= end) continue;
      sv1::IngestEventResult* own = w.response->add_results();
      *own = r;
      own->set_event_index(r.event_index() - begin);
    }
  }
}

grpc::Status IngestBatcher::Call(const sv1::IngestRequest& request, sv1::IngestResponse* response,
                                 absl::Time deadline) const {
  grpc::ClientContext context;
  context.set_deadline(absl::ToChronoTime(deadline));
  return stub_->Ingest(&context, request, response);
}

}  // namespace parley::ingress

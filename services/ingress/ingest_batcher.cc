#include "services/ingress/ingest_batcher.h"

#include <set>
#include <string>
#include <utility>

#include "absl/time/clock.h"
#include "grpcpp/client_context.h"
#include "prometheus/histogram.h"

namespace parley::ingress {

namespace sv1 = session::v1;

// One call out to session: what it carries and where each batch's events start.
struct IngestBatcher::Call {
  grpc::ClientContext context;
  sv1::IngestRequest request;
  sv1::IngestResponse response;
  std::vector<Pending> group;
  std::vector<int> offsets;
};

IngestBatcher::IngestBatcher(std::shared_ptr<sv1::IngestService::StubInterface> stub,
                             IngestBatcherOptions options, prometheus::Histogram* batches_per_call)
    : stub_(std::move(stub)), options_(options), batches_per_call_(batches_per_call) {}

IngestBatcher::~IngestBatcher() {
  std::unique_lock lock(mu_);
  idle_.wait(lock, [this] { return in_flight_ == 0; });
}

void IngestBatcher::Ingest(sv1::IngestRequest batch, Done done) {
  {
    std::lock_guard lock(mu_);
    waiting_.push_back(Pending{std::move(batch), std::move(done)});
  }
  Pump();
}

int IngestBatcher::Waiting() {
  std::lock_guard lock(mu_);
  return static_cast<int>(waiting_.size());
}

void IngestBatcher::Pump() {
  for (;;) {
    std::vector<Pending> group;
    {
      std::lock_guard lock(mu_);
      if (waiting_.empty() || in_flight_ >= options_.max_calls_in_flight) return;
      group = TakeGroup();
      ++in_flight_;
    }
    Send(std::move(group));
  }
}

std::vector<IngestBatcher::Pending> IngestBatcher::TakeGroup() {
  // The oldest batch always goes; then the next ones of its channel that fit.
  std::vector<Pending> group;
  group.push_back(std::move(waiting_.front()));
  waiting_.pop_front();
  if (group.front().alone) return group;
  const common::v1::Channel channel = group.front().batch.channel();
  int events = group.front().batch.events_size();
  for (auto it = waiting_.begin(); it != waiting_.end();) {
    if (it->alone || it->batch.channel() != channel ||
        events + it->batch.events_size() > options_.max_events_per_call) {
      ++it;
      continue;
    }
    events += it->batch.events_size();
    group.push_back(std::move(*it));
    it = waiting_.erase(it);
  }
  return group;
}

// A lone batch goes as it is; several go as one request: the events one after another, each
// endpoint's settings once, the oldest batch's id and receive time (the others' differ by at
// most the time they waited).
void IngestBatcher::Send(std::vector<Pending> group) {
  if (batches_per_call_ != nullptr) batches_per_call_->Observe(static_cast<double>(group.size()));
  auto* call = new Call;
  call->group = std::move(group);
  if (call->group.size() == 1) {
    call->offsets.push_back(0);
    call->request = std::move(call->group.front().batch);
  } else {
    const sv1::IngestRequest& first = call->group.front().batch;
    call->request.set_batch_id(first.batch_id());
    call->request.set_channel(first.channel());
    *call->request.mutable_receive_time() = first.receive_time();
    std::set<std::string> endpoints;
    for (Pending& p : call->group) {
      call->offsets.push_back(call->request.events_size());
      for (const sv1::EndpointSnapshot& e : p.batch.endpoints()) {
        if (endpoints.insert(e.endpoint().id()).second) *call->request.add_endpoints() = e;
      }
      for (sv1::InboundEvent& ev : *p.batch.mutable_events()) {
        *call->request.add_events() = std::move(ev);
      }
      p.batch.clear_events();
    }
  }
  call->context.set_deadline(absl::ToChronoTime(absl::Now() + options_.deadline));
  stub_->async()->Ingest(&call->context, &call->request, &call->response,
                         [this, call](grpc::Status status) { Answered(call, status); });
}

void IngestBatcher::Answered(Call* call, const grpc::Status& status) {
  std::unique_ptr<Call> done(call);
  const bool shared = call->group.size() > 1;
  if (shared && status.error_code() == grpc::StatusCode::INVALID_ARGUMENT) {
    // Each batch again alone, ahead of the others (their events were moved into the request).
    std::lock_guard lock(mu_);
    for (size_t i = call->group.size(); i-- > 0;) {
      Pending& p = call->group[i];
      const int end =
          i + 1 < call->offsets.size() ? call->offsets[i + 1] : call->request.events_size();
      for (int e = call->offsets[i]; e < end; ++e) {
        *p.batch.add_events() = std::move(*call->request.mutable_events(e));
      }
      p.alone = true;
      waiting_.push_front(std::move(p));
    }
  } else {
    for (size_t i = 0; i < call->group.size(); ++i) {
      sv1::IngestResponse own;
      if (status.ok()) {
        const int begin = call->offsets[i];
        const int end =
            i + 1 < call->offsets.size() ? call->offsets[i + 1] : call->request.events_size();
        for (sv1::IngestEventResult& r : *call->response.mutable_results()) {
          if (r.event_index() < begin || r.event_index() >= end) continue;
          sv1::IngestEventResult* mine = own.add_results();
          *mine = std::move(r);
          mine->set_event_index(mine->event_index() - begin);
        }
      }
      call->group[i].done(status, std::move(own));
    }
  }
  // Nothing of this object is touched once it may be idle: the destructor may be waiting.
  std::vector<Pending> next;
  {
    std::lock_guard lock(mu_);
    --in_flight_;
    if (!waiting_.empty() && in_flight_ < options_.max_calls_in_flight) {
      next = TakeGroup();
      ++in_flight_;
    }
    if (in_flight_ == 0) idle_.notify_all();
  }
  if (next.empty()) return;
  Send(std::move(next));
  Pump();
}

}  // namespace parley::ingress

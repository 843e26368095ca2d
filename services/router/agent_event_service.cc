#include "services/router/agent_event_service.h"

#include <deque>
#include <optional>

#include "absl/strings/str_cat.h"
#include "libs/common/log.h"
#include "libs/grpc/status.h"
#include "services/router/admin_checks.h"

namespace parley::router {
namespace {

constexpr int kPageSize = 100;  // events read per Redis call, and at most held per stream

}  // namespace

absl::Status ValidateStreamRequest(const v1::StreamAgentEventsRequest& request) {
  if (absl::Status s = CheckUuid("agent_id", request.agent_id()); !s.ok()) return s;
  if (!request.after_event_id().empty()) {
    absl::StatusOr<std::string> id = ParseEventId(request.after_event_id(), "after_event_id");
    if (!id.ok()) return id.status();
  }
  if (request.client_id().empty() || request.client_id().size() > 64) {
    return absl::InvalidArgumentError("`client_id` must be 1..64 characters");
  }
  return absl::OkStatus();
}

// One open StreamAgentEvents call. Lifetime: gRPC calls OnDone last; the object deletes itself
// once OnDone has run and no executor task of it is pending. It refers to the log, hub and
// executor directly, not to the service object, which may be destroyed first. Locking: mu_ guards
// the state below; gRPC operations (StartWrite, Finish) and executor posts happen after mu_ is
// released, except posts from hub callbacks (Executor::Post only queues).
class AgentEventServiceImpl::Stream : public grpc::ServerWriteReactor<v1::AgentEvent>,
                                      public AgentEventHub::Subscriber {
 public:
  Stream(Deps deps, const v1::StreamAgentEventsRequest& req)
      : deps_(deps), agent_id_(req.agent_id()), client_id_(req.client_id()) {
    if (deps_.metrics != nullptr) deps_.metrics->StreamOpened();
    absl::Status status = ValidateStreamRequest(req);
    if (status.ok() && !deps_.definitions.Current()->agents.contains(agent_id_)) {
      status = absl::NotFoundError(absl::StrCat("no agent with id ", agent_id_));
    }
    if (!status.ok()) {
      finish_requested_ = finish_called_ = true;
      Finish(ToGrpcStatus(status));
      return;
    }
    from_now_ = req.after_event_id().empty();
    if (!from_now_) cursor_ = AgentEventLog::After(*ParseEventId(req.after_event_id(), ""));
    tasks_ = 1;
    reading_ = true;
    deps_.executor.Post([this] { Begin(); });
  }

  // grpc::ServerWriteReactor
  void OnSendInitialMetadataDone(bool ok) override { OnWriteDone(ok); }

  void OnWriteDone(bool ok) override {
    Actions actions;
    {
      std::lock_guard<std::mutex> lock(mu_);
      writing_ = false;
      if (!ok) RequestFinishLocked(absl::CancelledError("the client went away"));
      actions = NextLocked();
    }
    Perform(actions);
  }

  void OnCancel() override {
    Actions actions;
    {
      std::lock_guard<std::mutex> lock(mu_);
      RequestFinishLocked(absl::CancelledError("the call was cancelled"));
      actions = NextLocked();
    }
    Perform(actions);
  }

  void OnDone() override {
    bool destroy = false;
    {
      std::lock_guard<std::mutex> lock(mu_);
      done_ = true;
      destroy = tasks_ == 0;
    }
    if (destroy) Destroy();
  }

  // AgentEventHub::Subscriber (hub lock held: only state changes and executor posts).
  void OnAppended() override {
    Actions actions;
    {
      std::lock_guard<std::mutex> lock(mu_);
      if (done_ || finish_requested_) return;
      dirty_ = true;
      actions = NextLocked();
    }
    Perform(actions);  // only a read can be due here: pending events imply a write in flight
  }

  void OnClosed(const absl::Status& status) override {
    // Finish may not run under the hub's lock: hand it to the executor.
    std::lock_guard<std::mutex> lock(mu_);
    if (done_) return;
    ++tasks_;
    deps_.executor.Post([this, status] {
      Actions actions;
      {
        std::lock_guard<std::mutex> inner(mu_);
        RequestFinishLocked(status);
        actions = NextLocked();
      }
      Perform(actions);
      TaskEnded();
    });
  }

 private:
  struct Actions {
    bool metadata = false;  // send the headers: the stream is positioned
    const v1::AgentEvent* write = nullptr;
    std::optional<grpc::Status> finish;
    bool read = false;
  };

  // First task: subscribe (so that nothing appended from now on goes unnoticed), then find the
  // starting position, send the headers (a client that has them knows that every event
  // appended from then on reaches it), then read.
  void Begin() {
    absl::Status status = deps_.hub.Subscribe(agent_id_, this);
    if (status.ok() && from_now_) {
      absl::StatusOr<EventCursor> tail = deps_.log.Tail(agent_id_);
      if (tail.ok()) cursor_ = *tail;
      status = tail.status();
    }
    Actions actions;
    {
      std::lock_guard<std::mutex> lock(mu_);
      reading_ = false;
      if (!status.ok()) {
        RequestFinishLocked(status);
      } else {
        dirty_ = !from_now_ || dirty_;
      }
      actions = NextLocked();
      if (status.ok() && !finish_requested_) {
        actions.metadata = true;
        writing_ = true;  // the headers go first; writes and Finish wait for them
      }
    }
    Perform(actions);
    TaskEnded();
  }

  void Read() {
    absl::StatusOr<AgentEventPage> page = deps_.log.Read(agent_id_, cursor_, kPageSize);
    Actions actions;
    {
      std::lock_guard<std::mutex> lock(mu_);
      reading_ = false;
      if (!page.ok()) {
        RequestFinishLocked(page.status());
      } else {
        for (v1::AgentEvent& e : page->events) pending_.push_back(std::move(e));
        if (page->more) dirty_ = true;
      }
      actions = NextLocked();
    }
    Perform(actions);
    TaskEnded();
  }

  void RequestFinishLocked(const absl::Status& status) {
    if (finish_requested_) return;
    finish_requested_ = true;
    finish_status_ = ToGrpcStatus(status);
    if (status.code() != absl::StatusCode::kCancelled) {
      log::Info(
          "agent event stream ends",
          {{"agent_id", agent_id_}, {"client_id", client_id_}, {"status", status.ToString()}});
    }
  }

  // What to do next, given the state; marks it as done in the state.
  Actions NextLocked() {
    Actions actions;
    if (finish_requested_) {
      pending_.clear();
      if (!finish_called_ && !writing_) {
        finish_called_ = true;
        actions.finish = finish_status_;
      }
      return actions;
    }
    if (!writing_ && !pending_.empty()) {
      current_ = std::move(pending_.front());
      pending_.pop_front();
      writing_ = true;
      actions.write = &current_;
    }
    if (dirty_ && !reading_ && pending_.empty() && !done_) {
      dirty_ = false;
      reading_ = true;
      ++tasks_;
      actions.read = true;
    }
    return actions;
  }

  void Perform(const Actions& actions) {
    if (actions.metadata) StartSendInitialMetadata();
    if (actions.write != nullptr) {
      if (deps_.metrics != nullptr) deps_.metrics->EventsSent(1);
      StartWrite(actions.write);
    }
    if (actions.finish.has_value()) Finish(*actions.finish);
    if (actions.read) deps_.executor.Post([this] { Read(); });
  }

  void TaskEnded() {
    bool destroy = false;
    {
      std::lock_guard<std::mutex> lock(mu_);
      --tasks_;
      destroy = done_ && tasks_ == 0;
    }
    if (destroy) Destroy();
  }

  void Destroy() {
    deps_.hub.Unsubscribe(agent_id_, this);
    if (deps_.metrics != nullptr) deps_.metrics->StreamClosed();
    delete this;
  }

  const Deps deps_;
  const std::string agent_id_;
  const std::string client_id_;
  bool from_now_ = true;
  EventCursor cursor_;  // touched only by the one task running at a time

  std::mutex mu_;
  std::deque<v1::AgentEvent> pending_;
  v1::AgentEvent current_;  // being written
  bool writing_ = false;
  bool reading_ = false;  // Begin or Read queued or running
  bool dirty_ = false;    // the stream may have events after cursor_
  bool finish_requested_ = false;
  bool finish_called_ = false;
  grpc::Status finish_status_;
  bool done_ = false;  // OnDone ran
  int tasks_ = 0;      // executor tasks queued or running that refer to this
};

AgentEventServiceImpl::AgentEventServiceImpl(AgentEventLog& log, AgentEventHub& hub,
                                             const RoutingDefinitions& definitions,
                                             Executor& executor, RouterMetrics* metrics)
    : log_(log), hub_(hub), definitions_(definitions), executor_(executor), metrics_(metrics) {}

grpc::ServerWriteReactor<v1::AgentEvent>* AgentEventServiceImpl::StreamAgentEvents(
    grpc::CallbackServerContext* /*ctx*/, const v1::StreamAgentEventsRequest* req) {
  return new Stream(Deps{log_, hub_, definitions_, executor_, metrics_}, *req);
}

grpc::ServerUnaryReactor* AgentEventServiceImpl::PublishConversationEvent(
    grpc::CallbackServerContext* ctx, const v1::PublishConversationEventRequest* req,
    v1::PublishConversationEventResponse* resp) {
  grpc::ServerUnaryReactor* reactor = ctx->DefaultReactor();
  if (absl::Status s = ValidatePublishRequest(*req); !s.ok()) {
    reactor->Finish(ToGrpcStatus(s));
    return reactor;
  }
  executor_.Post([this, reactor, req, resp] {
    absl::StatusOr<bool> delivered = log_.Publish(*req, absl::Now());
    if (delivered.ok()) {
      resp->set_delivered(*delivered);
      if (metrics_ != nullptr) metrics_->EventPublished(*delivered);
    }
    reactor->Finish(ToGrpcStatus(delivered.status()));
  });
  return reactor;
}

}  // namespace parley::router

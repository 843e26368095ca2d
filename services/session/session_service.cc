#include "services/session/session_service.h"

#include <chrono>

#include "libs/grpc/status.h"
#include "prometheus/counter.h"
#include "prometheus/histogram.h"
#include "prometheus/registry.h"
#include "services/session/request_checks.h"

namespace parley::session {
namespace {

// Validates on the callback thread, then runs `call` on the executor, moves its value into
// the response with `set` and finishes the call from there.
template <typename Req, typename Resp, typename Check, typename Call, typename Set>
grpc::ServerUnaryReactor* Handle(Executor& executor, grpc::CallbackServerContext* ctx,
                                 const Req& req, Resp* resp, Check check, Call call, Set set) {
  grpc::ServerUnaryReactor* reactor = ctx->DefaultReactor();
  if (absl::Status s = check(req); !s.ok()) {
    reactor->Finish(ToGrpcStatus(s));
    return reactor;
  }
  executor.Post([reactor, &req, resp, call, set] {
    auto result = call(req);
    if (result.ok()) set(*std::move(result), resp);
    reactor->Finish(ToGrpcStatus(result.status()));
  });
  return reactor;
}

template <typename T>
void Assign(T value, T* out) {
  *out = std::move(value);
}

}  // namespace

IngestMetrics::IngestMetrics(prometheus::Registry& registry)
    : batches_(&prometheus::BuildCounter()
                    .Name("parley_session_ingest_batches_total")
                    .Help("Ingest batches by outcome (ok, invalid, unavailable, error).")
                    .Register(registry)),
      events_(&prometheus::BuildCounter()
                   .Name("parley_session_ingest_events_total")
                   .Help("Ingested events by outcome (stored, duplicate, dead_lettered).")
                   .Register(registry)),
      dead_letters_(&prometheus::BuildCounter()
                         .Name("parley_session_dead_letters_total")
                         .Help("Inbound events put into the dead-letter table.")
                         .Register(registry)
                         .Add({})),
      latency_(
          &prometheus::BuildHistogram()
               .Name("parley_session_ingest_seconds")
               .Help("Time to store one ingest batch, committed batches only.")
               .Register(registry)
               .Add({}, prometheus::Histogram::BucketBoundaries{0.001, 0.0025, 0.005, 0.01, 0.025,
                                                                0.05, 0.1, 0.25, 0.5, 1, 2.5})) {}

void IngestMetrics::Record(const absl::Status& status, const v1::IngestResponse* response,
                           double seconds) {
  const char* outcome = "ok";
  switch (status.code()) {
    case absl::StatusCode::kOk:
      break;
    case absl::StatusCode::kInvalidArgument:
      outcome = "invalid";
      break;
    case absl::StatusCode::kUnavailable:
    case absl::StatusCode::kAborted:
      outcome = "unavailable";
      break;
    default:
      outcome = "error";
  }
  batches_->Add({{"outcome", outcome}}).Increment();
  if (!status.ok() || response == nullptr) return;
  latency_->Observe(seconds);
  int stored = 0, duplicate = 0, dead = 0;
  for (const v1::IngestEventResult& r : response->results()) {
    stored += r.outcome() == v1::INGEST_OUTCOME_STORED;
    duplicate += r.outcome() == v1::INGEST_OUTCOME_DUPLICATE;
    dead += r.outcome() == v1::INGEST_OUTCOME_DEAD_LETTERED;
  }
  events_->Add({{"outcome", "stored"}}).Increment(stored);
  events_->Add({{"outcome", "duplicate"}}).Increment(duplicate);
  events_->Add({{"outcome", "dead_lettered"}}).Increment(dead);
  dead_letters_->Increment(dead);
}

grpc::ServerUnaryReactor* IngestServiceImpl::Ingest(grpc::CallbackServerContext* ctx,
                                                    const v1::IngestRequest* req,
                                                    v1::IngestResponse* resp) {
  grpc::ServerUnaryReactor* reactor = ctx->DefaultReactor();
  const auto start = std::chrono::steady_clock::now();
  if (absl::Status s = ValidateIngestRequest(*req); !s.ok()) {
    if (metrics_ != nullptr) metrics_->Record(s, nullptr, 0);
    reactor->Finish(ToGrpcStatus(s));
    return reactor;
  }
  // The store answers from its own thread once the batch is committed.
  store_.StartIngest(*req, [this, reactor, resp, start](absl::StatusOr<v1::IngestResponse> result) {
    const double seconds =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    if (metrics_ != nullptr) {
      metrics_->Record(result.status(), result.ok() ? &*result : nullptr, seconds);
    }
    if (result.ok()) *resp = *std::move(result);
    reactor->Finish(ToGrpcStatus(result.status()));
  });
  return reactor;
}

grpc::ServerUnaryReactor* ConversationServiceImpl::GetConversation(
    grpc::CallbackServerContext* ctx, const v1::GetConversationRequest* req,
    v1::GetConversationResponse* resp) {
  return Handle(
      executor_, ctx, *req, resp, CheckGetConversation,
      [&](const auto& r) { return store_.GetConversation(r); },
      Assign<v1::GetConversationResponse>);
}

grpc::ServerUnaryReactor* ConversationServiceImpl::ListConversations(
    grpc::CallbackServerContext* ctx, const v1::ListConversationsRequest* req,
    v1::ListConversationsResponse* resp) {
  return Handle(
      executor_, ctx, *req, resp, CheckListConversations,
      [&](const auto& r) { return store_.ListConversations(r); },
      Assign<v1::ListConversationsResponse>);
}

grpc::ServerUnaryReactor* ConversationServiceImpl::ChangeConversationState(
    grpc::CallbackServerContext* ctx, const v1::ChangeConversationStateRequest* req,
    v1::ChangeConversationStateResponse* resp) {
  return Handle(
      executor_, ctx, *req, resp, CheckChangeState,
      [&](const auto& r) { return store_.ChangeState(r); },
      [](v1::Conversation c, auto* out) { *out->mutable_conversation() = std::move(c); });
}

grpc::ServerUnaryReactor* ConversationServiceImpl::ApplyRoutingUpdate(
    grpc::CallbackServerContext* ctx, const v1::ApplyRoutingUpdateRequest* req,
    v1::ApplyRoutingUpdateResponse* resp) {
  return Handle(
      executor_, ctx, *req, resp, CheckRoutingUpdate,
      [&](const auto& r) { return store_.ApplyRoutingUpdate(r); },
      Assign<v1::ApplyRoutingUpdateResponse>);
}

grpc::ServerUnaryReactor* ConversationServiceImpl::AddNote(grpc::CallbackServerContext* ctx,
                                                           const v1::AddNoteRequest* req,
                                                           v1::AddNoteResponse* resp) {
  return Handle(
      executor_, ctx, *req, resp, CheckAddNote, [&](const auto& r) { return store_.AddNote(r); },
      [](v1::Note n, auto* out) { *out->mutable_note() = std::move(n); });
}

grpc::ServerUnaryReactor* ConversationServiceImpl::ListNotes(grpc::CallbackServerContext* ctx,
                                                             const v1::ListNotesRequest* req,
                                                             v1::ListNotesResponse* resp) {
  return Handle(
      executor_, ctx, *req, resp, CheckListNotes,
      [&](const auto& r) { return store_.ListNotes(r); }, Assign<v1::ListNotesResponse>);
}

grpc::ServerUnaryReactor* TranscriptServiceImpl::GetTranscript(grpc::CallbackServerContext* ctx,
                                                               const v1::GetTranscriptRequest* req,
                                                               v1::GetTranscriptResponse* resp) {
  return Handle(
      executor_, ctx, *req, resp, CheckGetTranscript,
      [&](const auto& r) { return store_.GetTranscript(r); }, Assign<v1::GetTranscriptResponse>);
}

grpc::ServerUnaryReactor* TranscriptServiceImpl::SearchTranscripts(
    grpc::CallbackServerContext* ctx, const v1::SearchTranscriptsRequest* req,
    v1::SearchTranscriptsResponse* resp) {
  return Handle(
      executor_, ctx, *req, resp, CheckSearchTranscripts,
      [&](const auto& r) { return store_.SearchTranscripts(r); },
      Assign<v1::SearchTranscriptsResponse>);
}

namespace {

void SetContact(v1::Contact c, v1::GetContactResponse* out) {
  *out->mutable_contact() = std::move(c);
}
void SetContact(v1::Contact c, v1::CreateContactResponse* out) {
  *out->mutable_contact() = std::move(c);
}
void SetContact(v1::Contact c, v1::UpdateContactResponse* out) {
  *out->mutable_contact() = std::move(c);
}
void SetContact(v1::Contact c, v1::LinkIdentityResponse* out) {
  *out->mutable_contact() = std::move(c);
}
void SetContact(v1::Contact c, v1::MergeContactsResponse* out) {
  *out->mutable_contact() = std::move(c);
}

}  // namespace

grpc::ServerUnaryReactor* ContactServiceImpl::SearchContacts(grpc::CallbackServerContext* ctx,
                                                             const v1::SearchContactsRequest* req,
                                                             v1::SearchContactsResponse* resp) {
  return Handle(
      executor_, ctx, *req, resp, CheckSearchContacts,
      [&](const auto& r) { return store_.Search(r); }, Assign<v1::SearchContactsResponse>);
}

grpc::ServerUnaryReactor* ContactServiceImpl::GetContact(grpc::CallbackServerContext* ctx,
                                                         const v1::GetContactRequest* req,
                                                         v1::GetContactResponse* resp) {
  return Handle(
      executor_, ctx, *req, resp, CheckGetContact,
      [&](const auto& r) { return store_.Get(r.contact_id()); },
      [](v1::Contact c, auto* out) { SetContact(std::move(c), out); });
}

grpc::ServerUnaryReactor* ContactServiceImpl::CreateContact(grpc::CallbackServerContext* ctx,
                                                            const v1::CreateContactRequest* req,
                                                            v1::CreateContactResponse* resp) {
  return Handle(
      executor_, ctx, *req, resp, CheckCreateContact,
      [&](const auto& r) { return store_.Create(r); },
      [](v1::Contact c, auto* out) { SetContact(std::move(c), out); });
}

grpc::ServerUnaryReactor* ContactServiceImpl::UpdateContact(grpc::CallbackServerContext* ctx,
                                                            const v1::UpdateContactRequest* req,
                                                            v1::UpdateContactResponse* resp) {
  return Handle(
      executor_, ctx, *req, resp, CheckUpdateContact,
      [&](const auto& r) { return store_.Update(r); },
      [](v1::Contact c, auto* out) { SetContact(std::move(c), out); });
}

grpc::ServerUnaryReactor* ContactServiceImpl::LinkIdentity(grpc::CallbackServerContext* ctx,
                                                           const v1::LinkIdentityRequest* req,
                                                           v1::LinkIdentityResponse* resp) {
  return Handle(
      executor_, ctx, *req, resp, CheckLinkIdentity, [&](const auto& r) { return store_.Link(r); },
      [](v1::Contact c, auto* out) { SetContact(std::move(c), out); });
}

grpc::ServerUnaryReactor* ContactServiceImpl::UnlinkIdentity(grpc::CallbackServerContext* ctx,
                                                             const v1::UnlinkIdentityRequest* req,
                                                             v1::UnlinkIdentityResponse* resp) {
  return Handle(
      executor_, ctx, *req, resp, CheckUnlinkIdentity,
      [&](const auto& r) { return store_.Unlink(r); }, Assign<v1::UnlinkIdentityResponse>);
}

grpc::ServerUnaryReactor* ContactServiceImpl::MergeContacts(grpc::CallbackServerContext* ctx,
                                                            const v1::MergeContactsRequest* req,
                                                            v1::MergeContactsResponse* resp) {
  return Handle(
      executor_, ctx, *req, resp, CheckMergeContacts,
      [&](const auto& r) { return store_.Merge(r); },
      [](v1::Contact c, auto* out) { SetContact(std::move(c), out); });
}

grpc::ServerUnaryReactor* ContactServiceImpl::GetCustomerSummary(
    grpc::CallbackServerContext* ctx, const v1::GetCustomerSummaryRequest* req,
    v1::GetCustomerSummaryResponse* resp) {
  return Handle(
      executor_, ctx, *req, resp, CheckCustomerSummary,
      [&](const auto& r) { return store_.Summary(r); }, Assign<v1::GetCustomerSummaryResponse>);
}

}  // namespace parley::session

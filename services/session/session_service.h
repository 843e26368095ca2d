// The gRPC handlers of the session service (callback API): IngestService, the conversation
// and note rpcs of ConversationService, TranscriptService and ContactService. They validate, call a
// store, convert the Status, and record ingest metrics; they hold no SQL. For now each handler runs
// hands its PostgreSQL work to an Executor and finishes the call from there, so that gRPC's
// callback threads never wait on the database (docs/adr/0007).
#pragma once

#include "libs/common/executor.h"
#include "parley/session/v1/session.grpc.pb.h"
#include "services/session/contact_store.h"
#include "services/session/conversation_store.h"
#include "services/session/ingest_store.h"

namespace prometheus {
class Registry;
class Counter;
class Histogram;
template <typename T>
class Family;
}  // namespace prometheus

namespace parley::session {

// Ingest metrics:
//   parley_session_ingest_batches_total{outcome="ok|invalid|unavailable|error"}
//   parley_session_ingest_events_total{outcome="stored|duplicate|dead_lettered"}
//   parley_session_dead_letters_total
//   parley_session_ingest_seconds (histogram of whole-batch latency, committed batches)
class IngestMetrics {
 public:
  explicit IngestMetrics(prometheus::Registry& registry);
  void Record(const absl::Status& status, const v1::IngestResponse* response, double seconds);

 private:
  prometheus::Family<prometheus::Counter>* batches_;
  prometheus::Family<prometheus::Counter>* events_;
  prometheus::Counter* dead_letters_;
  prometheus::Histogram* latency_;
};

class IngestServiceImpl : public v1::IngestService::CallbackService {
 public:
  // `metrics` may be null.
  IngestServiceImpl(IngestStore& store, IngestMetrics* metrics)
      : store_(store), metrics_(metrics) {}

  grpc::ServerUnaryReactor* Ingest(grpc::CallbackServerContext* ctx, const v1::IngestRequest* req,
                                   v1::IngestResponse* resp) override;

 private:
  IngestStore& store_;
  IngestMetrics* metrics_;
};

class ConversationServiceImpl : public v1::ConversationService::CallbackService {
 public:
  ConversationServiceImpl(ConversationStore& store, Executor& executor)
      : store_(store), executor_(executor) {}

  grpc::ServerUnaryReactor* GetConversation(grpc::CallbackServerContext* ctx,
                                            const v1::GetConversationRequest* req,
                                            v1::GetConversationResponse* resp) override;
  grpc::ServerUnaryReactor* ListConversations(grpc::CallbackServerContext* ctx,
                                              const v1::ListConversationsRequest* req,
                                              v1::ListConversationsResponse* resp) override;
  grpc::ServerUnaryReactor* ChangeConversationState(
      grpc::CallbackServerContext* ctx, const v1::ChangeConversationStateRequest* req,
      v1::ChangeConversationStateResponse* resp) override;
  grpc::ServerUnaryReactor* ApplyRoutingUpdate(grpc::CallbackServerContext* ctx,
                                               const v1::ApplyRoutingUpdateRequest* req,
                                               v1::ApplyRoutingUpdateResponse* resp) override;
  grpc::ServerUnaryReactor* AddNote(grpc::CallbackServerContext* ctx, const v1::AddNoteRequest* req,
                                    v1::AddNoteResponse* resp) override;
  grpc::ServerUnaryReactor* ListNotes(grpc::CallbackServerContext* ctx,
                                      const v1::ListNotesRequest* req,
                                      v1::ListNotesResponse* resp) override;

 private:
  ConversationStore& store_;
  Executor& executor_;
};

class TranscriptServiceImpl : public v1::TranscriptService::CallbackService {
 public:
  TranscriptServiceImpl(ConversationStore& store, Executor& executor)
      : store_(store), executor_(executor) {}

  grpc::ServerUnaryReactor* GetTranscript(grpc::CallbackServerContext* ctx,
                                          const v1::GetTranscriptRequest* req,
                                          v1::GetTranscriptResponse* resp) override;
  grpc::ServerUnaryReactor* SearchTranscripts(grpc::CallbackServerContext* ctx,
                                              const v1::SearchTranscriptsRequest* req,
                                              v1::SearchTranscriptsResponse* resp) override;

 private:
  ConversationStore& store_;
  Executor& executor_;
};

class ContactServiceImpl : public v1::ContactService::CallbackService {
 public:
  ContactServiceImpl(ContactStore& store, Executor& executor)
      : store_(store), executor_(executor) {}

  grpc::ServerUnaryReactor* SearchContacts(grpc::CallbackServerContext* ctx,
                                           const v1::SearchContactsRequest* req,
                                           v1::SearchContactsResponse* resp) override;
  grpc::ServerUnaryReactor* GetContact(grpc::CallbackServerContext* ctx,
                                       const v1::GetContactRequest* req,
                                       v1::GetContactResponse* resp) override;
  grpc::ServerUnaryReactor* CreateContact(grpc::CallbackServerContext* ctx,
                                          const v1::CreateContactRequest* req,
                                          v1::CreateContactResponse* resp) override;
  grpc::ServerUnaryReactor* UpdateContact(grpc::CallbackServerContext* ctx,
                                          const v1::UpdateContactRequest* req,
                                          v1::UpdateContactResponse* resp) override;
  grpc::ServerUnaryReactor* LinkIdentity(grpc::CallbackServerContext* ctx,
                                         const v1::LinkIdentityRequest* req,
                                         v1::LinkIdentityResponse* resp) override;
  grpc::ServerUnaryReactor* UnlinkIdentity(grpc::CallbackServerContext* ctx,
                                           const v1::UnlinkIdentityRequest* req,
                                           v1::UnlinkIdentityResponse* resp) override;
  grpc::ServerUnaryReactor* MergeContacts(grpc::CallbackServerContext* ctx,
                                          const v1::MergeContactsRequest* req,
                                          v1::MergeContactsResponse* resp) override;
  grpc::ServerUnaryReactor* GetCustomerSummary(grpc::CallbackServerContext* ctx,
                                               const v1::GetCustomerSummaryRequest* req,
                                               v1::GetCustomerSummaryResponse* resp) override;

 private:
  ContactStore& store_;
  Executor& executor_;
};

}  // namespace parley::session

// ConversationStore on PostgreSQL. Each call is one transaction; state changes lock the
// conversation row (SELECT ... FOR UPDATE) and log the change in session.conversation_events.
// Full-text search runs per text-search configuration, so that the GIN indexes on the
// messages' and notes' tsvector columns serve every language (see docs/adr/0006).
#pragma once

#include <functional>

#include "absl/time/time.h"
#include "libs/pg/pool.h"
#include "services/session/conversation_store.h"

namespace parley::session {

class PgConversationStore : public ConversationStore {
 public:
  // `clock` decides where reply windows stand in the conversations returned.
  explicit PgConversationStore(pg::Pool& pool, std::function<absl::Time()> clock = absl::Now)
      : pool_(pool), clock_(std::move(clock)) {}

  // ConversationStore
  absl::StatusOr<v1::GetConversationResponse> GetConversation(
      const v1::GetConversationRequest& request) override;
  absl::StatusOr<v1::ListConversationsResponse> ListConversations(
      const v1::ListConversationsRequest& request) override;
  absl::StatusOr<v1::Conversation> ChangeState(
      const v1::ChangeConversationStateRequest& request) override;
  absl::StatusOr<v1::ApplyRoutingUpdateResponse> ApplyRoutingUpdate(
      const v1::ApplyRoutingUpdateRequest& request) override;
  absl::StatusOr<v1::Note> AddNote(const v1::AddNoteRequest& request) override;
  absl::StatusOr<v1::ListNotesResponse> ListNotes(const v1::ListNotesRequest& request) override;
  absl::StatusOr<v1::GetTranscriptResponse> GetTranscript(
      const v1::GetTranscriptRequest& request) override;
  absl::StatusOr<v1::SearchTranscriptsResponse> SearchTranscripts(
      const v1::SearchTranscriptsRequest& request) override;

  // Closes (CLOSE_REASON_INACTIVITY) up to `limit` conversations idle for longer than their
  // work stream's auto_close_after, in one transaction that skips rows other replicas hold;
  // returns how many it closed. Each close is logged and tells router through the outbox.
  absl::StatusOr<int> CloseInactive(int limit);

 private:
  pg::Pool& pool_;
  std::function<absl::Time()> clock_;
};

}  // namespace parley::session

// Where ConversationService and TranscriptService read and change conversations, notes and
// transcripts: the boundary between the gRPC handlers (which validate requests first, see
// request_checks.h) and PostgreSQL. Requests and results are the API's own messages; the store
// fills the output-only fields.
#pragma once

#include "absl/status/statusor.h"
#include "parley/session/v1/session.pb.h"

namespace parley::session {

class ConversationStore {
 public:
  virtual ~ConversationStore() = default;

  // A conversation with one page of messages. NotFound; InvalidArgument for a bad page token.
  virtual absl::StatusOr<v1::GetConversationResponse> GetConversation(
      const v1::GetConversationRequest& request) = 0;

  // Conversations matching every filter, most recently active first.
  virtual absl::StatusOr<v1::ListConversationsResponse> ListConversations(
      const v1::ListConversationsRequest& request) = 0;

  // Moves the state after the transition table allows it, logging the change. NotFound;
  // PermissionDenied (not the assigned agent); FailedPrecondition (transition not allowed);
  // InvalidArgument (already in that state). A repeated request_id returns the conversation.
  virtual absl::StatusOr<v1::Conversation> ChangeState(
      const v1::ChangeConversationStateRequest& request) = 0;

  // Router's queued/assigned updates; idempotent on routing_event_id, ignores stale sequences.
  // NotFound; FailedPrecondition when the conversation is closed.
  virtual absl::StatusOr<v1::ApplyRoutingUpdateResponse> ApplyRoutingUpdate(
      const v1::ApplyRoutingUpdateRequest& request) = 0;

  // Adds a note; a repeated request_id returns the first note. NotFound.
  virtual absl::StatusOr<v1::Note> AddNote(const v1::AddNoteRequest& request) = 0;

  // A conversation's notes, oldest first. NotFound; InvalidArgument for a bad page token.
  virtual absl::StatusOr<v1::ListNotesResponse> ListNotes(const v1::ListNotesRequest& request) = 0;

  // Messages, notes and state changes merged in time order. NotFound; InvalidArgument.
  virtual absl::StatusOr<v1::GetTranscriptResponse> GetTranscript(
      const v1::GetTranscriptRequest& request) = 0;

  // Full-text and filtered search over transcripts, one result per conversation.
  virtual absl::StatusOr<v1::SearchTranscriptsResponse> SearchTranscripts(
      const v1::SearchTranscriptsRequest& request) = 0;
};

}  // namespace parley::session

// Validation of ConversationService and TranscriptService requests before they reach a store:
// InvalidArgument naming the field and the problem (session.proto lists them per rpc). Pure
// functions, so that every bad request is tested without a database.
#pragma once

#include "absl/status/status.h"
#include "parley/session/v1/session.pb.h"

namespace parley::session {

absl::Status CheckGetConversation(const v1::GetConversationRequest& r);
absl::Status CheckListConversations(const v1::ListConversationsRequest& r);
absl::Status CheckChangeState(const v1::ChangeConversationStateRequest& r);
absl::Status CheckRoutingUpdate(const v1::ApplyRoutingUpdateRequest& r);
absl::Status CheckAddNote(const v1::AddNoteRequest& r);
absl::Status CheckListNotes(const v1::ListNotesRequest& r);
absl::Status CheckGetTranscript(const v1::GetTranscriptRequest& r);
absl::Status CheckSearchTranscripts(const v1::SearchTranscriptsRequest& r);
absl::Status CheckSearchContacts(const v1::SearchContactsRequest& r);
absl::Status CheckGetContact(const v1::GetContactRequest& r);
absl::Status CheckCreateContact(const v1::CreateContactRequest& r);
absl::Status CheckUpdateContact(const v1::UpdateContactRequest& r);
absl::Status CheckLinkIdentity(const v1::LinkIdentityRequest& r);
absl::Status CheckUnlinkIdentity(const v1::UnlinkIdentityRequest& r);
absl::Status CheckMergeContacts(const v1::MergeContactsRequest& r);
absl::Status CheckCustomerSummary(const v1::GetCustomerSummaryRequest& r);

}  // namespace parley::session

#include "services/session/request_checks.h"

#include "gtest/gtest.h"

namespace parley::session {
namespace {

constexpr char kId[] = "5c1e0b9e-3f2a-4d1b-8c7e-0123456789ab";

void ExpectInvalid(const absl::Status& s, const std::string& message) {
  EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument) << s;
  EXPECT_EQ(s.message(), message);
}

TEST(RequestChecksTest, ConversationIdsMustBeUuids) {
  v1::GetConversationRequest get;
  get.set_conversation_id("42");
  ExpectInvalid(CheckGetConversation(get), "conversation_id: '42' is not a UUID");
  get.set_conversation_id(kId);
  EXPECT_TRUE(CheckGetConversation(get).ok());
  get.set_message_page_size(-1);
  ExpectInvalid(CheckGetConversation(get), "message_page_size: -1 is negative");
}

TEST(RequestChecksTest, StateChangeNeedsATargetRouterDoesNotOwn) {
  v1::ChangeConversationStateRequest r;
  r.set_conversation_id(kId);
  ExpectInvalid(CheckChangeState(r), "state: is required");
  r.set_state(common::v1::CONVERSATION_STATE_OPEN);
  ExpectInvalid(
      CheckChangeState(r),
      "state: OPEN is set by router (ApplyRoutingUpdate), not by ChangeConversationState");
  r.set_state(common::v1::CONVERSATION_STATE_CLOSED);
  EXPECT_TRUE(CheckChangeState(r).ok());
  r.set_reason(std::string(1001, 'r'));
  ExpectInvalid(CheckChangeState(r), "reason: 1001 characters, at most 1000 allowed");
}

TEST(RequestChecksTest, NotesNeedTextOfAtMost4000CharactersInUtf8) {
  v1::AddNoteRequest r;
  r.set_conversation_id(kId);
  r.set_author_agent_id(kId);
  ExpectInvalid(CheckAddNote(r), "text: must not be empty");
  r.set_text(std::string(4001, 'x'));
  ExpectInvalid(CheckAddNote(r), "text: 4001 characters, at most 4000 allowed");
  r.set_text("bad \xff byte");
  ExpectInvalid(CheckAddNote(r), "text: not valid UTF-8");
  r.set_text(std::string("nul\0inside", 10));
  ExpectInvalid(CheckAddNote(r), "text: contains a NUL character");
  r.set_text("fine");
  EXPECT_TRUE(CheckAddNote(r).ok());
}

TEST(RequestChecksTest, SearchNeedsACriterionAndAConsistentRange) {
  v1::SearchTranscriptsRequest r;
  ExpectInvalid(CheckSearchTranscripts(r), "no criterion given: set query or a filter");
  r.set_order_by(v1::TRANSCRIPT_ORDER_RELEVANCE);
  r.set_channel(common::v1::CHANNEL_MESSENGER);
  ExpectInvalid(CheckSearchTranscripts(r), "order_by: RELEVANCE requires a query");
  r.set_query("shipping");
  r.mutable_start_time()->set_seconds(100);
  r.mutable_end_time()->set_seconds(100);
  ExpectInvalid(CheckSearchTranscripts(r), "end_time: not after start_time");
  r.mutable_end_time()->set_seconds(101);
  EXPECT_TRUE(CheckSearchTranscripts(r).ok());
  r.set_query(std::string(501, 'q'));
  ExpectInvalid(CheckSearchTranscripts(r), "query: 501 characters, at most 500 allowed");
}

TEST(RequestChecksTest, RoutingUpdatesNeedAnEventIdAndAnUpdate) {
  v1::ApplyRoutingUpdateRequest r;
  r.set_conversation_id(kId);
  ExpectInvalid(CheckRoutingUpdate(r), "routing_event_id: is required");
  r.set_routing_event_id(kId);
  ExpectInvalid(CheckRoutingUpdate(r), "update: neither queued nor assigned is set");
  r.mutable_assigned();
  ExpectInvalid(CheckRoutingUpdate(r), "assigned.agent_id: is required");
}

}  // namespace
}  // namespace parley::session

namespace parley::session {
namespace {

TEST(ContactChecksTest, NamesTheFieldAndTheProblem) {
  v1::CreateContactRequest create;
  ExpectInvalid(CheckCreateContact(create), "contact.display_name: must not be empty");
  create.mutable_contact()->set_display_name("Ada");
  create.mutable_contact()->set_email("not-an-address");
  ExpectInvalid(CheckCreateContact(create), "contact.email: 'not-an-address' is not an address");
  create.mutable_contact()->set_email("ada@example.com");
  create.mutable_contact()->set_phone_number("0612345678");
  ExpectInvalid(CheckCreateContact(create),
                "contact.phone_number: '0612345678' is not E.164 (e.g. +31612345678)");
  create.mutable_contact()->set_phone_number("+31612345678");
  create.mutable_contact()->set_timezone_offset_hours(15);
  ExpectInvalid(CheckCreateContact(create), "contact.timezone_offset_hours: 15 is outside -12..14");
  create.mutable_contact()->set_timezone_offset_hours(5.5);
  EXPECT_TRUE(CheckCreateContact(create).ok());
  create.mutable_contact()->set_id(kId);
  ExpectInvalid(CheckCreateContact(create),
                "contact: id, auto_created, identities, create_time and update_time are output "
                "only");

  v1::UpdateContactRequest update;
  update.mutable_contact()->set_id(kId);
  ExpectInvalid(CheckUpdateContact(update), "update_mask: no path given");
  update.mutable_update_mask()->add_paths("auto_created");
  ExpectInvalid(CheckUpdateContact(update), "update_mask: unknown path 'auto_created'");

  v1::MergeContactsRequest merge;
  merge.set_target_contact_id(kId);
  merge.set_source_contact_id(kId);
  ExpectInvalid(CheckMergeContacts(merge), "source_contact_id: equals target_contact_id");

  v1::LinkIdentityRequest link;
  link.set_contact_id(kId);
  ExpectInvalid(CheckLinkIdentity(link),
                "identity: incomplete (endpoint.channel, endpoint.id and user_id are required)");
  ExpectInvalid(CheckCustomerSummary(v1::GetCustomerSummaryRequest()),
                "key: none given (contact_id, conversation_id or identity)");
  ExpectInvalid(CheckSearchContacts(v1::SearchContactsRequest()),
                "no criterion given: set query, email, phone_number or identity");
}

}  // namespace
}  // namespace parley::session

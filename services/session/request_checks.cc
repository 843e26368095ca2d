#include "services/session/request_checks.h"

#include "absl/strings/str_cat.h"
#include "services/session/conversation_state.h"
#include "services/session/rows.h"
#include "services/session/text_rules.h"

namespace parley::session {
namespace {

absl::Status PageSize(int size) {
  if (size < 0)
    return absl::InvalidArgumentError(absl::StrCat("page_size: ", size, " is negative"));
  return absl::OkStatus();
}

absl::Status CheckIdentity(absl::string_view field, const common::v1::ChannelIdentity& i) {
  if (i.endpoint().channel() == common::v1::CHANNEL_UNSPECIFIED || i.endpoint().id().empty() ||
      i.user_id().empty()) {
    return absl::InvalidArgumentError(absl::StrCat(
        field, ": incomplete (endpoint.channel, endpoint.id and user_id are required)"));
  }
  if (absl::Status s = CheckText(absl::StrCat(field, ".endpoint.id"), i.endpoint().id(), 1, 32);
      !s.ok()) {
    return s;
  }
  return CheckText(absl::StrCat(field, ".user_id"), i.user_id(), 1, 64);
}

bool IsE164(absl::string_view p) {
  if (p.size() < 3 || p.size() > 16 || p[0] != '+' || p[1] == '0') return false;
  for (size_t i = 1; i < p.size(); ++i) {
    if (p[i] < '0' || p[i] > '9') return false;
  }
  return true;
}

// One contact field's value, by its name in the proto.
absl::Status CheckContactField(const v1::Contact& c, absl::string_view path) {
  const std::string field = absl::StrCat("contact.", path);
  if (path == "display_name") return CheckText(field, c.display_name(), 1, 200);
  if (path == "first_name") return CheckText(field, c.first_name(), 0, 100);
  if (path == "last_name") return CheckText(field, c.last_name(), 0, 100);
  if (path == "locale") return CheckText(field, c.locale(), 0, 35);
  if (path == "verified") return absl::OkStatus();
  if (path == "email") {
    if (absl::Status s = CheckText(field, c.email(), 0, 254); !s.ok()) return s;
    const size_t at = c.email().find('@');
    if (!c.email().empty() && (at == 0 || at == std::string::npos || at + 1 == c.email().size() ||
                               c.email().find('@', at + 1) != std::string::npos)) {
      return absl::InvalidArgumentError(
          absl::StrCat(field, ": '", c.email(), "' is not an address"));
    }
    return absl::OkStatus();
  }
  if (path == "phone_number") {
    if (absl::Status s = CheckText(field, c.phone_number(), 0, 16); !s.ok()) return s;
    if (!c.phone_number().empty() && !IsE164(c.phone_number())) {
      return absl::InvalidArgumentError(
          absl::StrCat(field, ": '", c.phone_number(), "' is not E.164 (e.g. +31612345678)"));
    }
    return absl::OkStatus();
  }
  if (path == "timezone_offset_hours") {
    if (c.has_timezone_offset_hours() &&
        !(c.timezone_offset_hours() >= -12 && c.timezone_offset_hours() <= 14)) {
      return absl::InvalidArgumentError(
          absl::StrCat(field, ": ", c.timezone_offset_hours(), " is outside -12..14"));
    }
    return absl::OkStatus();
  }
  return absl::InvalidArgumentError(absl::StrCat("update_mask: unknown path '", path, "'"));
}

constexpr absl::string_view kContactPaths[] = {
    "display_name",          "first_name", "last_name", "email", "phone_number", "locale",
    "timezone_offset_hours", "verified"};

}  // namespace

absl::Status CheckSearchContacts(const v1::SearchContactsRequest& r) {
  const bool identity = r.has_identity();
  if (r.query().empty() && r.email().empty() && r.phone_number().empty() && !identity) {
    return absl::InvalidArgumentError(
        "no criterion given: set query, email, phone_number or "
        "identity");
  }
  if (absl::Status s = CheckText("query", r.query(), 0, 200); !s.ok()) return s;
  if (absl::Status s = CheckText("email", r.email(), 0, 254); !s.ok()) return s;
  if (absl::Status s = CheckText("phone_number", r.phone_number(), 0, 16); !s.ok()) return s;
  if (identity) {
    if (absl::Status s = CheckIdentity("identity", r.identity()); !s.ok()) return s;
  }
  return PageSize(r.page_size());
}

absl::Status CheckGetContact(const v1::GetContactRequest& r) {
  return CheckUuid("contact_id", r.contact_id(), true);
}

absl::Status CheckCreateContact(const v1::CreateContactRequest& r) {
  const v1::Contact& c = r.contact();
  if (!c.id().empty() || c.auto_created() || c.identities_size() > 0 || c.has_create_time() ||
      c.has_update_time()) {
    return absl::InvalidArgumentError(
        "contact: id, auto_created, identities, create_time and update_time are output only");
  }
  for (absl::string_view path : kContactPaths) {
    if (absl::Status s = CheckContactField(c, path); !s.ok()) return s;
  }
  if (absl::Status s = CheckUuid("request_id", r.request_id(), false); !s.ok()) return s;
  if (r.has_link_identity()) return CheckIdentity("link_identity", r.link_identity());
  return absl::OkStatus();
}

absl::Status CheckUpdateContact(const v1::UpdateContactRequest& r) {
  if (absl::Status s = CheckUuid("contact.id", r.contact().id(), true); !s.ok()) return s;
  if (r.update_mask().paths_size() == 0) {
    return absl::InvalidArgumentError("update_mask: no path given");
  }
  for (const std::string& path : r.update_mask().paths()) {
    if (absl::Status s = CheckContactField(r.contact(), path); !s.ok()) return s;
  }
  return absl::OkStatus();
}

absl::Status CheckLinkIdentity(const v1::LinkIdentityRequest& r) {
  if (absl::Status s = CheckUuid("contact_id", r.contact_id(), true); !s.ok()) return s;
  return CheckIdentity("identity", r.identity());
}

absl::Status CheckUnlinkIdentity(const v1::UnlinkIdentityRequest& r) {
  if (absl::Status s = CheckUuid("contact_id", r.contact_id(), true); !s.ok()) return s;
  return CheckIdentity("identity", r.identity());
}

absl::Status CheckMergeContacts(const v1::MergeContactsRequest& r) {
  if (absl::Status s = CheckUuid("target_contact_id", r.target_contact_id(), true); !s.ok()) {
    return s;
  }
  if (absl::Status s = CheckUuid("source_contact_id", r.source_contact_id(), true); !s.ok()) {
    return s;
  }
  if (r.target_contact_id() == r.source_contact_id()) {
    return absl::InvalidArgumentError("source_contact_id: equals target_contact_id");
  }
  return CheckUuid("request_id", r.request_id(), false);
}

absl::Status CheckCustomerSummary(const v1::GetCustomerSummaryRequest& r) {
  if (r.max_conversations() < 0) {
    return absl::InvalidArgumentError(
        absl::StrCat("max_conversations: ", r.max_conversations(), " is negative"));
  }
  switch (r.key_case()) {
    case v1::GetCustomerSummaryRequest::kContactId:
      return CheckUuid("contact_id", r.contact_id(), true);
    case v1::GetCustomerSummaryRequest::kConversationId:
      return CheckUuid("conversation_id", r.conversation_id(), true);
    case v1::GetCustomerSummaryRequest::kIdentity:
      return CheckIdentity("identity", r.identity());
    default:
      return absl::InvalidArgumentError(
          "key: none given (contact_id, conversation_id or identity)");
  }
}

absl::Status CheckGetConversation(const v1::GetConversationRequest& r) {
  if (absl::Status s = CheckUuid("conversation_id", r.conversation_id(), true); !s.ok()) return s;
  if (r.message_page_size() < 0) {
    return absl::InvalidArgumentError(
        absl::StrCat("message_page_size: ", r.message_page_size(), " is negative"));
  }
  return absl::OkStatus();
}

absl::Status CheckListConversations(const v1::ListConversationsRequest& r) {
  if (absl::Status s = CheckUuid("contact_id", r.contact_id(), false); !s.ok()) return s;
  if (absl::Status s = CheckText("agent_id", r.agent_id(), 0, 64); !s.ok()) return s;
  if (absl::Status s = CheckText("queue_id", r.queue_id(), 0, 64); !s.ok()) return s;
  if (absl::Status s = CheckText("endpoint_id", r.endpoint_id(), 0, 32); !s.ok()) return s;
  for (int st : r.states()) {
    if (st < common::v1::CONVERSATION_STATE_OPEN || st > common::v1::CONVERSATION_STATE_CLOSED) {
      return absl::InvalidArgumentError(absl::StrCat("states: ", st, " is not a state"));
    }
  }
  return PageSize(r.page_size());
}

absl::Status CheckChangeState(const v1::ChangeConversationStateRequest& r) {
  if (absl::Status s = CheckUuid("conversation_id", r.conversation_id(), true); !s.ok()) return s;
  if (absl::Status s = CheckUuid("request_id", r.request_id(), false); !s.ok()) return s;
  if (absl::Status s = CheckText("agent_id", r.agent_id(), 0, 64); !s.ok()) return s;
  if (absl::Status s = CheckText("reason", r.reason(), 0, 1000); !s.ok()) return s;
  switch (r.state()) {
    case common::v1::CONVERSATION_STATE_ACTIVE:
    case common::v1::CONVERSATION_STATE_WAITING:
    case common::v1::CONVERSATION_STATE_WRAP_UP:
    case common::v1::CONVERSATION_STATE_CLOSED:
      return absl::OkStatus();
    case common::v1::CONVERSATION_STATE_OPEN:
      return absl::InvalidArgumentError(
          "state: OPEN is set by router (ApplyRoutingUpdate), not by ChangeConversationState");
    default:
      return absl::InvalidArgumentError("state: is required");
  }
}

absl::Status CheckRoutingUpdate(const v1::ApplyRoutingUpdateRequest& r) {
  if (absl::Status s = CheckUuid("conversation_id", r.conversation_id(), true); !s.ok()) return s;
  if (absl::Status s = CheckUuid("routing_event_id", r.routing_event_id(), true); !s.ok()) {
    return s;
  }
  if (r.update_case() == v1::ApplyRoutingUpdateRequest::UPDATE_NOT_SET) {
    return absl::InvalidArgumentError("update: neither queued nor assigned is set");
  }
  if (r.has_assigned() && r.assigned().agent_id().empty()) {
    return absl::InvalidArgumentError("assigned.agent_id: is required");
  }
  if (absl::Status s = CheckText("assigned.agent_id", r.assigned().agent_id(), 0, 64); !s.ok()) {
    return s;
  }
  if (absl::Status s = CheckText(
          "queue_id", r.has_assigned() ? r.assigned().queue_id() : r.queued().queue_id(), 0, 64);
      !s.ok()) {
    return s;
  }
  return absl::OkStatus();
}

absl::Status CheckAddNote(const v1::AddNoteRequest& r) {
  if (absl::Status s = CheckUuid("conversation_id", r.conversation_id(), true); !s.ok()) return s;
  if (absl::Status s = CheckUuid("author_agent_id", r.author_agent_id(), true); !s.ok()) return s;
  if (absl::Status s = CheckUuid("request_id", r.request_id(), false); !s.ok()) return s;
  return CheckText("text", r.text(), 1, 4000);
}

absl::Status CheckListNotes(const v1::ListNotesRequest& r) {
  if (absl::Status s = CheckUuid("conversation_id", r.conversation_id(), true); !s.ok()) return s;
  return PageSize(r.page_size());
}

absl::Status CheckGetTranscript(const v1::GetTranscriptRequest& r) {
  if (absl::Status s = CheckUuid("conversation_id", r.conversation_id(), true); !s.ok()) return s;
  return PageSize(r.page_size());
}

absl::Status CheckSearchTranscripts(const v1::SearchTranscriptsRequest& r) {
  const bool any = !r.query().empty() || !r.contact_id().empty() ||
                   r.channel() != common::v1::CHANNEL_UNSPECIFIED || !r.endpoint_id().empty() ||
                   !r.agent_id().empty() || r.has_start_time() || r.has_end_time();
  if (!any) return absl::InvalidArgumentError("no criterion given: set query or a filter");
  if (absl::Status s = CheckText("query", r.query(), 0, 500); !s.ok()) return s;
  if (absl::Status s = CheckUuid("contact_id", r.contact_id(), false); !s.ok()) return s;
  if (absl::Status s = CheckText("agent_id", r.agent_id(), 0, 64); !s.ok()) return s;
  if (absl::Status s = CheckText("endpoint_id", r.endpoint_id(), 0, 32); !s.ok()) return s;
  if (r.has_start_time() && r.has_end_time() &&
      TimeFromProto(r.end_time()) <= TimeFromProto(r.start_time())) {
    return absl::InvalidArgumentError("end_time: not after start_time");
  }
  if (r.order_by() == v1::TRANSCRIPT_ORDER_RELEVANCE && r.query().empty()) {
    return absl::InvalidArgumentError("order_by: RELEVANCE requires a query");
  }
  return PageSize(r.page_size());
}

}  // namespace parley::session

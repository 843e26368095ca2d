#include "services/session/rows.h"

#include <vector>

#include "absl/random/random.h"
#include "absl/strings/escaping.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "google/protobuf/util/json_util.h"
#include "services/session/reply_window.h"

namespace parley::session {

std::string NewUuid() {
  thread_local absl::BitGen gen;
  const uint64_t hi = (absl::Uniform<uint64_t>(gen) & ~0xF000ULL) | 0x4000ULL;
  const uint64_t lo = (absl::Uniform<uint64_t>(gen) & ~(0xC000ULL << 48)) | (0x8000ULL << 48);
  return absl::StrFormat("%08x-%04x-%04x-%04x-%012x", hi >> 32, (hi >> 16) & 0xFFFF, hi & 0xFFFF,
                         lo >> 48, lo & 0xFFFFFFFFFFFFULL);
}

int64_t ToMicros(absl::Time t) { return absl::ToUnixMicros(t); }

absl::Time TimeFromProto(const google::protobuf::Timestamp& ts) {
  return absl::FromUnixSeconds(ts.seconds()) + absl::Nanoseconds(ts.nanos());
}

void SetTimestamp(absl::Time t, google::protobuf::Timestamp* out) {
  const int64_t micros = absl::ToUnixMicros(t);
  int64_t seconds = micros / 1000000;
  int64_t rest = micros % 1000000;
  if (rest < 0) {
    rest += 1000000;
    --seconds;
  }
  out->set_seconds(seconds);
  out->set_nanos(static_cast<int32_t>(rest * 1000));
}

std::string ToJson(const google::protobuf::Message& message) {
  std::string out;
  google::protobuf::util::JsonPrintOptions options;
  options.preserve_proto_field_names = true;
  (void)google::protobuf::util::MessageToJsonString(message, &out, options);
  return out;
}

absl::Status FromJson(absl::string_view json, google::protobuf::Message* message) {
  google::protobuf::util::JsonParseOptions options;
  options.ignore_unknown_fields = true;
  auto status = google::protobuf::util::JsonStringToMessage(std::string(json), message, options);
  if (!status.ok()) return absl::InternalError(std::string(status.message()));
  return absl::OkStatus();
}

std::string Hex(absl::string_view bytes) { return absl::BytesToHexString(bytes); }
std::string Unhex(absl::string_view hex) { return absl::HexStringToBytes(hex); }

const char* const kConversationColumns =
    "c.id::text AS id, c.channel, c.endpoint_id, i.user_id, c.contact_id::text AS contact_id, "
    "c.customer_display_name, c.state, c.work_stream_id, c.queue_id, c.agent_id, "
    "session.us(c.opened_at) AS opened, session.us(c.assigned_at) AS assigned, "
    "session.us(c.closed_at) AS closed, c.close_reason, "
    "session.us(c.last_customer_message_at) AS last_customer, "
    "session.us(c.last_agent_message_at) AS last_agent, "
    "session.us(c.reply_deadline) AS deadline, c.human_agent_tag_enabled, c.language, "
    "c.first_message_text, c.locale, c.timezone_offset_hours, c.message_count, "
    "session.us(c.updated_at) AS updated, ct.verified, "
    "CASE WHEN c.state <> 5 THEN session.us(c.last_activity_at + c.auto_close_after) END "
    "AS auto_close";
const char* const kConversationFrom =
    " FROM session.conversations c JOIN session.channel_identities i ON i.id = c.identity_id "
    "JOIN session.contacts ct ON ct.id = c.contact_id ";

v1::Conversation ConversationFromRow(const pqxx::row& row, absl::Time now) {
  v1::Conversation c;
  c.set_id(row["id"].as<std::string>());
  const auto channel = static_cast<common::v1::Channel>(row["channel"].as<int>());
  c.mutable_customer()->mutable_endpoint()->set_channel(channel);
  c.mutable_customer()->mutable_endpoint()->set_id(row["endpoint_id"].as<std::string>());
  c.mutable_customer()->set_user_id(row["user_id"].as<std::string>());
  c.set_contact_id(row["contact_id"].as<std::string>());
  c.set_customer_display_name(row["customer_display_name"].as<std::string>());
  c.set_state(static_cast<common::v1::ConversationState>(row["state"].as<int>()));
  c.set_work_stream_id(row["work_stream_id"].as<std::string>());
  c.set_queue_id(row["queue_id"].as<std::string>());
  c.set_agent_id(row["agent_id"].as<std::string>());
  SetTimestamp(row["opened"], [&] { return c.mutable_open_time(); });
  SetTimestamp(row["assigned"], [&] { return c.mutable_assign_time(); });
  SetTimestamp(row["closed"], [&] { return c.mutable_close_time(); });
  c.set_close_reason(static_cast<v1::CloseReason>(row["close_reason"].as<int>()));
  SetTimestamp(row["last_customer"], [&] { return c.mutable_last_customer_message_time(); });
  SetTimestamp(row["last_agent"], [&] { return c.mutable_last_agent_message_time(); });
  SetTimestamp(row["deadline"], [&] { return c.mutable_reply_deadline(); });
  const bool tag = row["human_agent_tag_enabled"].as<bool>();
  c.set_human_agent_tag_enabled(tag);
  c.set_language(row["language"].as<std::string>());
  if (!row["last_customer"].is_null()) {
    const ReplyDeadlines d = ComputeReplyDeadlines(
        channel, tag, absl::FromUnixMicros(row["last_customer"].as<int64_t>()));
    SetTimestamp(d.standard, c.mutable_standard_reply_deadline());
    c.set_reply_window(WindowAt(d, now));
  } else {
    c.set_reply_window(v1::REPLY_WINDOW_CLOSED);
  }
  common::v1::EngagementContext* ctx = c.mutable_engagement_context();
  ctx->set_channel(channel);
  *ctx->mutable_endpoint() = c.customer().endpoint();
  ctx->set_customer_name(c.customer_display_name());
  ctx->set_locale(row["locale"].as<std::string>());
  if (!row["timezone_offset_hours"].is_null()) {
    ctx->set_timezone_offset_hours(row["timezone_offset_hours"].as<double>());
  }
  ctx->set_user_id(c.customer().user_id());
  ctx->set_authenticated(row["verified"].as<bool>());
  ctx->set_first_message_text(row["first_message_text"].as<std::string>());
  ctx->set_contact_id(c.contact_id());
  c.set_message_count(row["message_count"].as<int>());
  SetTimestamp(row["updated"], [&] { return c.mutable_update_time(); });
  SetTimestamp(row["auto_close"], [&] { return c.mutable_auto_close_time(); });
  return c;
}

const char* const kMessageColumns =
    "m.id::text AS id, m.conversation_id::text AS conversation_id, m.direction, m.sender_kind, "
    "m.sender_id, m.content::text AS content, m.provider_message_id, "
    "session.us(m.provider_time) AS provider_time, session.us(m.created_at) AS created, "
    "m.delivery_status, session.us(m.delivery_status_at) AS status_time, "
    "m.delivery_error::text AS delivery_error, session.us(m.sent_at) AS sent, "
    "session.us(m.delivered_at) AS delivered, session.us(m.read_at) AS read, "
    "m.human_agent_tag_used, m.edited";

v1::Message MessageFromRow(const pqxx::row& row) {
  v1::Message m;
  m.set_id(row["id"].as<std::string>());
  m.set_conversation_id(row["conversation_id"].as<std::string>());
  m.set_direction(static_cast<common::v1::Direction>(row["direction"].as<int>()));
  m.set_sender_kind(static_cast<common::v1::SenderKind>(row["sender_kind"].as<int>()));
  m.set_sender_id(row["sender_id"].as<std::string>());
  (void)FromJson(row["content"].as<std::string>(), m.mutable_content());
  const std::string mid = row["provider_message_id"].as<std::string>();
  if (!mid.empty()) m.add_provider_message_ids(mid);
  SetTimestamp(row["provider_time"], [&] { return m.mutable_provider_time(); });
  SetTimestamp(row["created"], [&] { return m.mutable_create_time(); });
  m.set_delivery_status(static_cast<common::v1::DeliveryStatus>(row["delivery_status"].as<int>()));
  SetTimestamp(row["status_time"], [&] { return m.mutable_delivery_status_time(); });
  if (!row["delivery_error"].is_null()) {
    (void)FromJson(row["delivery_error"].as<std::string>(), m.mutable_delivery_error());
  }
  SetTimestamp(row["sent"], [&] { return m.mutable_sent_time(); });
  SetTimestamp(row["delivered"], [&] { return m.mutable_delivered_time(); });
  SetTimestamp(row["read"], [&] { return m.mutable_read_time(); });
  m.set_human_agent_tag_used(row["human_agent_tag_used"].as<bool>());
  m.set_edited(row["edited"].as<bool>());
  for (pqxx::row::size_type i = 0; i < row.size(); ++i) {
    if (absl::string_view(row[i].name()) == "pos") m.set_sequence(row[i].as<int64_t>());
  }
  return m;
}

const char* const kSummaryColumns =
    "c.id::text AS id, c.channel, c.endpoint_id, c.contact_id::text AS contact_id, "
    "c.customer_display_name, c.state, c.close_reason, session.us(c.opened_at) AS opened, "
    "session.us(c.closed_at) AS closed, c.message_count, "
    "coalesce((SELECT string_agg(a.agent_id, ',' ORDER BY a.first_seq) FROM "
    "(SELECT e.agent_id, min(e.seq) AS first_seq FROM session.conversation_events e "
    "WHERE e.conversation_id = c.id AND e.agent_id <> '' GROUP BY e.agent_id) a), '') "
    "AS agent_ids, "
    "coalesce((SELECT left(m.body_text, 200) FROM session.messages m "
    "WHERE m.conversation_id = c.id ORDER BY m.provider_time DESC, m.seq DESC LIMIT 1), '') "
    "AS preview";

v1::ConversationSummary SummaryFromRow(const pqxx::row& row) {
  v1::ConversationSummary s;
  s.set_conversation_id(row["id"].as<std::string>());
  s.mutable_endpoint()->set_channel(static_cast<common::v1::Channel>(row["channel"].as<int>()));
  s.mutable_endpoint()->set_id(row["endpoint_id"].as<std::string>());
  s.set_contact_id(row["contact_id"].as<std::string>());
  s.set_customer_display_name(row["customer_display_name"].as<std::string>());
  s.set_state(static_cast<common::v1::ConversationState>(row["state"].as<int>()));
  s.set_close_reason(static_cast<v1::CloseReason>(row["close_reason"].as<int>()));
  SetTimestamp(row["opened"], [&] { return s.mutable_open_time(); });
  SetTimestamp(row["closed"], [&] { return s.mutable_close_time(); });
  s.set_message_count(row["message_count"].as<int>());
  const std::string agents = row["agent_ids"].as<std::string>();
  if (!agents.empty()) {
    for (absl::string_view a : absl::StrSplit(agents, ',')) s.add_agent_ids(std::string(a));
  }
  s.set_last_message_preview(row["preview"].as<std::string>());
  return s;
}

std::string SearchableText(const common::v1::MessageContent& content) {
  std::vector<std::string> pieces;
  for (const common::v1::ContentPart& part : content.parts()) {
    switch (part.part_case()) {
      case common::v1::ContentPart::kText:
        pieces.push_back(part.text());
        break;
      case common::v1::ContentPart::kEdit:
        pieces.push_back(part.edit().text());
        break;
      case common::v1::ContentPart::kPostback:
        pieces.push_back(part.postback().title());
        break;
      case common::v1::ContentPart::kAttachment:
        pieces.push_back(part.attachment().title());
        break;
      case common::v1::ContentPart::kLocation:
        pieces.push_back(absl::StrCat(part.location().label(), " ", part.location().address()));
        break;
      default:
        break;
    }
  }
  return absl::StrJoin(pieces, "\n");
}

}  // namespace parley::session

#include "services/session/pg_ingest_store.h"

#include <map>
#include <optional>
#include <set>
#include <string>
#include <variant>
#include <vector>

#include "absl/container/flat_hash_set.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "parley/router/v1/router.pb.h"
#include "services/session/hinted_messages.h"
#include "services/session/outbox_relay.h"
#include "services/session/reply_window.h"
#include "services/session/rows.h"
#include "services/session/text_rules.h"

namespace parley::session {
namespace {

using common::v1::ContentPart;
using common::v1::MessageContent;
using v1::InboundEvent;
using v1::IngestEventResult;

constexpr size_t kMaxInboundText = 4096;

// SQL, with the parameters each statement takes.

// $1 channel, $2 endpoint, $3 user id, $4 dedup key.
constexpr char kLookup[] = R"sql(
SELECT i.id::text AS identity_id, i.contact_id::text AS contact_id, ct.verified,
       c.id::text AS conversation_id, c.state, c.agent_id, c.human_agent_tag_enabled,
       c.search_config::text AS search_config, c.customer_display_name,
       d.id::text AS dup_id, d.conversation_id::text AS dup_conversation
FROM (SELECT 1) one
LEFT JOIN session.channel_identities i
  ON i.channel = $1::smallint AND i.endpoint_id = $2::text AND i.user_id = $3::text
LEFT JOIN session.contacts ct ON ct.id = i.contact_id
LEFT JOIN session.conversations c ON c.identity_id = i.id AND c.state <> 5
LEFT JOIN session.messages d
  ON d.channel = $1::smallint AND d.endpoint_id = $2::text AND d.dedup_key = $4::text)sql";

// $1 channel, $2 endpoint, $3 user id, $4 display name, $5 first, $6 last, $7 locale, $8 tz.
constexpr char kCreateIdentity[] = R"sql(
WITH ct AS (
  INSERT INTO session.contacts (display_name, first_name, last_name, locale,
                                timezone_offset_hours, auto_created)
  VALUES ($4, $5, $6, $7, $8::double precision, true) RETURNING id)
INSERT INTO session.channel_identities (channel, endpoint_id, user_id, contact_id, profile_name,
                                        last_seen_at)
SELECT $1::smallint, $2::text, $3::text, ct.id, $4::text, now() FROM ct
RETURNING id::text, contact_id::text)sql";

// $1 id, $2 channel, $3 endpoint, $4 identity, $5 contact, $6 work stream, $7 display name,
// $8 first message text, $9 locale, $10 tz, $11 language, $12 search config, $13 tag,
// $14 outbox kind, $15 outbox payload (hex).
constexpr char kOpenConversation[] = R"sql(
WITH c AS (
  INSERT INTO session.conversations (id, channel, endpoint_id, identity_id, contact_id, state,
      work_stream_id, customer_display_name, first_message_text, locale, timezone_offset_hours,
      language, search_config, human_agent_tag_enabled)
  VALUES ($1::uuid, $2, $3, $4::uuid, $5::uuid, 1, $6, $7, $8, $9, $10::double precision, $11,
          $12::regconfig, $13)
  RETURNING id),
e AS (
  INSERT INTO session.conversation_events (conversation_id, to_state, reason)
  SELECT id, 1, 'opened by a customer message' FROM c)
INSERT INTO session.outbox (kind, payload) SELECT $14, decode($15, 'hex') FROM c)sql";

// $1 id, $2 conversation, $3 channel, $4 endpoint, $5 dedup key, $6 direction, $7 sender kind,
// $8 content json, $9 body text, $10 search config, $11 reply-to message id,
// $12 provider message id, $13 provider time (us), $14 delivery status,
// $15 reply window (us), $16 outbox kind ('' for none), $17 outbox payload (hex).
// session.ts() is written out here: its body is only STABLE, so PostgreSQL cannot inline it and
// parsed and planned its body on every execution, once per use (most of this statement's cost).
// Once the message row went in (and only then) it updates the conversation's counters and reply
// window and writes the outbox row.
constexpr char kInsertMessage[] = R"sql(
WITH m AS (
  INSERT INTO session.messages (id, conversation_id, channel, endpoint_id, dedup_key, direction,
      sender_kind, content, body_text, search_config, reply_to_message_id, provider_message_id,
      provider_time, delivery_status)
  VALUES ($1::uuid, $2::uuid, $3, $4, $5, $6::smallint, $7, $8::jsonb, $9, $10::regconfig,
          $11::uuid, $12, (to_timestamp(0) + $13::bigint * interval '1 microsecond'), $14)
  ON CONFLICT (channel, endpoint_id, dedup_key) DO NOTHING RETURNING id),
u AS (
  UPDATE session.conversations SET
    message_count = message_count + 1,
    last_customer_message_at = CASE WHEN $6::smallint = 1
        THEN greatest(last_customer_message_at, (to_timestamp(0) + $13::bigint * interval '1 microsecond'))
        ELSE last_customer_message_at END,
    reply_deadline = CASE WHEN $6::smallint = 1
        THEN greatest(last_customer_message_at, (to_timestamp(0) + $13::bigint * interval '1 microsecond'))
             + $15::bigint * interval '1 microsecond'
        ELSE reply_deadline END,
    last_agent_message_at = CASE WHEN $6::smallint = 2
        THEN greatest(last_agent_message_at, (to_timestamp(0) + $13::bigint * interval '1 microsecond'))
        ELSE last_agent_message_at END,
    last_activity_at = greatest(last_activity_at, now()),
    updated_at = now()
  WHERE id = $2::uuid AND EXISTS (SELECT 1 FROM m)),
o AS (
  INSERT INTO session.outbox (kind, payload)
  SELECT $16::text, decode($17, 'hex') FROM m WHERE $16::text <> '')
SELECT count(*) FROM m)sql";

// $1 channel, $2 endpoint, $3 provider message id.
constexpr char kResolveMid[] = R"sql(
SELECT id::text FROM session.messages
WHERE channel = $1::smallint AND endpoint_id = $2::text AND provider_message_id = $3::text
ORDER BY seq LIMIT 1)sql";

// WAITING → ACTIVE when the customer writes. $1 conversation.
constexpr char kResume[] = R"sql(
WITH c AS (
  UPDATE session.conversations SET state = 2, updated_at = now()
  WHERE id = $1::uuid AND state = 3 RETURNING id, agent_id, queue_id)
INSERT INTO session.conversation_events (conversation_id, from_state, to_state, agent_id,
                                         queue_id, reason)
SELECT id, 3, 2, agent_id, queue_id, 'the customer wrote' FROM c)sql";

constexpr char kMarkEdited[] = "UPDATE session.messages SET edited = true WHERE id = $1::uuid";

// $1 channel, $2 endpoint, $3 Parley message id (metadata), $4 mid, $5 time (us).
constexpr char kEchoMatch[] = R"sql(
UPDATE session.messages SET
  provider_message_id = CASE WHEN provider_message_id = '' THEN $4::text
                             ELSE provider_message_id END,
  delivery_status = 4, delivery_status_at = now(),
  sent_at = coalesce(sent_at, session.ts($5::bigint))
WHERE channel = $1::smallint AND endpoint_id = $2::text AND direction = 2
  AND (id::text = $3::text OR provider_message_id = $4::text)
  AND session.delivery_rank(delivery_status) < 3
RETURNING id::text, conversation_id::text)sql";

constexpr char kEchoKnown[] = R"sql(
SELECT id::text, conversation_id::text FROM session.messages
WHERE channel = $1::smallint AND endpoint_id = $2::text AND direction = 2
  AND (id::text = $3::text OR provider_message_id = $4::text)
LIMIT 1)sql";

// $1 channel, $2 endpoint, $3 user id, $4 watermark (us), $5 mids joined by '\n',
// $6 new status.
constexpr char kReceipt[] = R"sql(
UPDATE session.messages m SET
  delivery_status = $6::smallint, delivery_status_at = now(),
  delivered_at = coalesce(m.delivered_at, session.ts($4::bigint)),
  read_at = CASE WHEN $6::smallint = 6 THEN coalesce(m.read_at, session.ts($4::bigint))
                 ELSE m.read_at END
FROM session.conversations c, session.channel_identities i
WHERE m.conversation_id = c.id AND c.identity_id = i.id
  AND i.channel = $1::smallint AND i.endpoint_id = $2::text AND i.user_id = $3::text
  AND m.direction = 2
  AND (m.provider_time <= session.ts($4::bigint)
       OR m.provider_message_id = ANY (string_to_array($5::text, E'\n')))
  AND session.delivery_rank(m.delivery_status) < session.delivery_rank($6::smallint)
RETURNING m.id::text)sql";

constexpr char kReceiptKnown[] = R"sql(
SELECT EXISTS (
  SELECT 1 FROM session.messages m
  JOIN session.conversations c ON c.id = m.conversation_id
  JOIN session.channel_identities i ON i.id = c.identity_id
  WHERE i.channel = $1::smallint AND i.endpoint_id = $2::text AND i.user_id = $3::text
    AND m.direction = 2
    AND (m.provider_time <= session.ts($4::bigint)
         OR m.provider_message_id = ANY (string_to_array($5::text, E'\n')))))sql";

// $1 channel, $2 endpoint, $3 mid, $4 status, $5 error json or NULL, $6 time (us).
constexpr char kStatus[] = R"sql(
UPDATE session.messages SET
  delivery_status = $4::smallint, delivery_status_at = now(),
  delivery_error = CASE WHEN $4::smallint IN (7, 8) THEN $5::jsonb ELSE delivery_error END,
  sent_at = CASE WHEN $4::smallint >= 4 THEN coalesce(sent_at, session.ts($6::bigint))
                 ELSE sent_at END,
  delivered_at = CASE WHEN $4::smallint IN (5, 6) THEN coalesce(delivered_at, session.ts($6::bigint))
                      ELSE delivered_at END,
  read_at = CASE WHEN $4::smallint = 6 THEN coalesce(read_at, session.ts($6::bigint))
                 ELSE read_at END
WHERE channel = $1::smallint AND endpoint_id = $2::text AND provider_message_id = $3::text
  AND direction = 2
  AND session.delivery_rank(delivery_status) < session.delivery_rank($4::smallint)
RETURNING id::text, conversation_id::text)sql";

constexpr char kStatusKnown[] = R"sql(
SELECT id::text, conversation_id::text FROM session.messages
WHERE channel = $1::smallint AND endpoint_id = $2::text AND provider_message_id = $3::text
  AND direction = 2
LIMIT 1)sql";

// $1 channel, $2 endpoint, $3 dedup key, $4 user id, $5 kind, $6 event (hex).
constexpr char kSignal[] = R"sql(
INSERT INTO session.signals (channel, endpoint_id, dedup_key, conversation_id, kind, event)
SELECT $1::smallint, $2::text, $3::text,
       (SELECT c.id FROM session.conversations c
        JOIN session.channel_identities i ON i.id = c.identity_id
        WHERE i.channel = $1::smallint AND i.endpoint_id = $2::text AND i.user_id = $4::text
          AND c.state <> 5),
       $5::text, decode($6, 'hex')
ON CONFLICT (channel, endpoint_id, dedup_key) DO NOTHING
RETURNING id::text, coalesce(conversation_id::text, '') AS conversation_id)sql";

// $1 channel, $2 endpoint, $3 dedup key, $4 batch id, $5 raw (hex), $6 event (hex), $7 reason.
constexpr char kDeadLetter[] = R"sql(
INSERT INTO session.dead_letters (channel, endpoint_id, dedup_key, batch_id, raw_event, event,
                                  reason)
VALUES ($1, $2, $3, $4, decode($5, 'hex'), decode($6, 'hex'), $7)
ON CONFLICT (channel, endpoint_id, dedup_key) DO NOTHING RETURNING id::text)sql";

constexpr char kDeadLetterKnown[] = R"sql(
SELECT id::text FROM session.dead_letters
WHERE channel = $1::smallint AND endpoint_id = $2::text AND dedup_key = $3::text)sql";

// $1 the identities' keys, sorted, joined by '\n'. Also makes the transaction's prepared
// statements use their generic plans: PostgreSQL otherwise planned the multi-row insert of
// hinted_messages.cc again on every call (its custom plans, knowing the arrays' lengths, look
// cheaper), and planning it cost half as much as running it (pg_stat_statements with
// track_planning: 574 plans for 571 calls). set_config(..., true) ends with the transaction.
constexpr char kLockIdentities[] = R"sql(
SELECT set_config('plan_cache_mode', 'force_generic_plan', true), count(*)
FROM (SELECT pg_advisory_xact_lock(hashtextextended(k, 0))
      FROM unnest(string_to_array($1::text, E'\n')) AS k) locks)sql";

// Runs a statement as a named prepared statement: registered on the connection the first
// time (libpqxx prepares it lazily, and again after a reconnect), so PostgreSQL plans the hot
// ingest statements once per connection instead of once per call.
template <typename... Args>
pqxx::result Exec(pqxx::transaction_base& tx, const char* name, const char* sql, Args&&... args) {
  tx.conn().prepare(name, sql);
  return tx.exec_prepared(name, std::forward<Args>(args)...);
}

template <typename... Args>
pqxx::row Exec1(pqxx::transaction_base& tx, const char* name, const char* sql, Args&&... args) {
  const pqxx::result r = Exec(tx, name, sql, std::forward<Args>(args)...);
  if (r.size() != 1) {
    throw pqxx::unexpected_rows(absl::StrCat(name, ": expected 1 row, got ", r.size()));
  }
  return r[0];
}

// One batch being stored.
struct Batch {
  pqxx::transaction_base& tx;
  const v1::IngestRequest& request;
  int64_t receive_us;
  const std::map<std::string, common::v1::EndpointSettings>& settings;
  ConversationHints& hints;
};

int Channel(const InboundEvent& ev) { return static_cast<int>(ev.endpoint().channel()); }

// The customer an event is about (channel/endpoint/user id): the key of the advisory lock and of
// the conversation hints.
std::string CustomerKey(const InboundEvent& ev) {
  return absl::StrCat(Channel(ev), "/", ev.endpoint().id(), "/", ev.customer().user_id());
}

int64_t EventMicros(int64_t receive_us, const InboundEvent& ev) {
  return ev.has_provider_time() ? ToMicros(TimeFromProto(ev.provider_time())) : receive_us;
}

int64_t EventMicros(const Batch& b, const InboundEvent& ev) {
  return EventMicros(b.receive_us, ev);
}

std::string Truncated(absl::string_view s, size_t max_bytes) {
  std::string out(s.substr(0, max_bytes));
  while (!out.empty() && !IsValidUtf8(out)) out.pop_back();
  return out;
}

absl::StatusOr<IngestEventResult> DeadLetter(Batch& b, int index, const std::string& reason) {
  const InboundEvent& ev = b.request.events(index);
  std::string batch_id = b.request.batch_id();
  DropNul(&batch_id);
  const std::string detail = Truncated(reason, 1000);
  IngestEventResult r;
  pqxx::result rows =
      Exec(b.tx, "session_deadletter", kDeadLetter, Channel(ev), ev.endpoint().id(), ev.dedup_key(),
           Truncated(batch_id, 200), Hex(ev.raw_event()), Hex(ev.SerializeAsString()), detail);
  if (rows.empty()) {
    rows = Exec(b.tx, "session_deadletterknown", kDeadLetterKnown, Channel(ev), ev.endpoint().id(),
                ev.dedup_key());
    r.set_outcome(v1::INGEST_OUTCOME_DUPLICATE);
    r.set_dead_letter_id(rows.empty() ? "" : rows[0][0].as<std::string>());
    r.set_detail(absl::StrCat("already dead-lettered as ", r.dead_letter_id()));
    return r;
  }
  r.set_outcome(v1::INGEST_OUTCOME_DEAD_LETTERED);
  r.set_dead_letter_id(rows[0][0].as<std::string>());
  r.set_detail(detail);
  return r;
}

std::optional<std::string> ResolveMid(Batch& b, const InboundEvent& ev, const std::string& mid) {
  if (mid.empty()) return std::nullopt;
  pqxx::result rows =
      Exec(b.tx, "session_resolvemid", kResolveMid, Channel(ev), ev.endpoint().id(), mid);
  if (rows.empty()) return std::nullopt;
  return rows[0][0].as<std::string>();
}

// Repairs what can be repaired in place (NUL characters in text); returns the reason the
// content cannot be stored, or "" when it can.
std::string RepairContent(MessageContent* content) {
  if (content->parts_size() == 0) return "message has no content parts";
  for (int k = 0; k < content->parts_size(); ++k) {
    ContentPart* part = content->mutable_parts(k);
    std::string* text = nullptr;
    if (part->has_text()) text = part->mutable_text();
    if (part->has_edit()) text = part->mutable_edit()->mutable_text();
    if (text == nullptr) continue;
    DropNul(text);
    if (absl::Status s =
            CheckText(absl::StrCat("content.parts[", k, "].text"), *text, 0, kMaxInboundText);
        !s.ok()) {
      return std::string(s.message());
    }
  }
  return "";
}

std::string DisplayName(const v1::CustomerProfile& p) {
  std::string name = p.display_name();
  if (name.empty())
    name = absl::StrCat(p.first_name(), p.last_name().empty() ? "" : " ", p.last_name());
  DropNul(&name);
  if (!IsValidUtf8(name) || CodePoints(name) > 200) return "";
  return name;
}

std::string Clean(std::string s, size_t max_bytes) {
  DropNul(&s);
  return Truncated(s, max_bytes);
}

std::string FirstText(const MessageContent& content) {
  for (const ContentPart& part : content.parts()) {
    if (part.has_text()) return Truncated(part.text(), 8000);
  }
  return "";
}

struct Target {
  std::string identity_id;
  std::string contact_id;
  bool verified = false;
  std::string conversation_id;
  std::string agent_id;
  bool tag = false;
  std::string search_config;
  bool opened = false;
  bool waiting = false;  // the conversation is WAITING: a customer message resumes it
};

// Finds or creates the identity and its live conversation. Returns the duplicate's result
// instead when `dedup_key` was already stored.
absl::StatusOr<std::variant<Target, IngestEventResult>> FindOrOpen(Batch& b, int index,
                                                                   const MessageContent& content) {
  const InboundEvent& ev = b.request.events(index);
  const pqxx::row look = Exec1(b.tx, "session_lookup", kLookup, Channel(ev), ev.endpoint().id(),
                               ev.customer().user_id(), ev.dedup_key());
  if (!look["dup_id"].is_null()) {
    IngestEventResult r;
    r.set_outcome(v1::INGEST_OUTCOME_DUPLICATE);
    r.set_message_id(look["dup_id"].as<std::string>());
    r.set_conversation_id(look["dup_conversation"].as<std::string>());
    r.set_detail(absl::StrCat("dedup_key ", Truncated(ev.dedup_key(), 600),
                              " already stored as message ", r.message_id()));
    return r;
  }
  Target t;
  const v1::CustomerProfile& p = ev.profile();
  const std::string name = DisplayName(p);
  std::optional<double> tz;
  if (p.has_timezone_offset_hours()) tz = p.timezone_offset_hours();
  if (look["identity_id"].is_null()) {
    const pqxx::row id =
        Exec1(b.tx, "session_createidentity", kCreateIdentity, Channel(ev), ev.endpoint().id(),
              ev.customer().user_id(), name, Clean(p.first_name(), 400), Clean(p.last_name(), 400),
              Clean(p.locale(), 35), tz);
    t.identity_id = id[0].as<std::string>();
    t.contact_id = id[1].as<std::string>();
  } else {
    t.identity_id = look["identity_id"].as<std::string>();
    t.contact_id = look["contact_id"].as<std::string>();
    t.verified = look["verified"].as<bool>();
  }
  if (!look["conversation_id"].is_null()) {
    t.conversation_id = look["conversation_id"].as<std::string>();
    t.agent_id = look["agent_id"].as<std::string>();
    t.tag = look["human_agent_tag_enabled"].as<bool>();
    t.search_config = look["search_config"].as<std::string>();
    t.waiting = look["state"].as<int>() == common::v1::CONVERSATION_STATE_WAITING;
    return t;
  }
  // Open a new conversation with the endpoint's settings as they stand now.
  const common::v1::EndpointSettings& s = b.settings.at(ev.endpoint().id());
  const std::string language = s.language().empty() ? "en" : Clean(s.language(), 35);
  t.conversation_id = NewUuid();
  t.tag = s.human_agent_tag_enabled() && ev.endpoint().channel() == common::v1::CHANNEL_MESSENGER;
  t.search_config = SearchConfigForLanguage(language);
  t.opened = true;
  const absl::Time provider_time = absl::FromUnixMicros(EventMicros(b, ev));
  router::v1::EnqueueConversationRequest route;
  route.set_conversation_id(t.conversation_id);
  route.set_work_stream_id(Clean(s.work_stream_id(), 64));
  common::v1::EngagementContext* ctx = route.mutable_context();
  ctx->set_channel(ev.endpoint().channel());
  *ctx->mutable_endpoint() = ev.endpoint();
  ctx->set_customer_name(name);
  ctx->set_locale(Clean(p.locale(), 35));
  if (tz.has_value()) ctx->set_timezone_offset_hours(*tz);
  ctx->set_user_id(ev.customer().user_id());
  ctx->set_authenticated(t.verified);
  ctx->set_first_message_text(Truncated(FirstText(content), 8000));
  ctx->set_contact_id(t.contact_id);
  SetTimestamp(absl::FromUnixMicros(b.receive_us), route.mutable_enqueue_time());
  SetTimestamp(ComputeReplyDeadlines(ev.endpoint().channel(), t.tag, provider_time).deadline,
               route.mutable_reply_deadline());
  Exec(b.tx, "session_openconversation", kOpenConversation, t.conversation_id, Channel(ev),
       ev.endpoint().id(), t.identity_id, t.contact_id, route.work_stream_id(), name,
       ctx->first_message_text(), ctx->locale(), tz, language, t.search_config, t.tag,
       std::string(kOutboxRouteConversation), Hex(route.SerializeAsString()));
  return t;
}

// The outbox row telling the assigned agent about a customer message (none while unassigned).
struct AgentOutbox {
  std::string kind;
  std::string payload_hex;
};

AgentOutbox OutboxForAgent(const std::string& agent_id, const std::string& conversation_id,
                           const std::string& message_id, const MessageContent& content,
                           int64_t provider_us) {
  if (agent_id.empty()) return {};
  router::v1::PublishConversationEventRequest event;
  event.set_conversation_id(conversation_id);
  event.mutable_customer_message()->set_message_id(message_id);
  *event.mutable_customer_message()->mutable_content() = content;
  SetTimestamp(absl::FromUnixMicros(provider_us),
               event.mutable_customer_message()->mutable_provider_time());
  return {kOutboxAgentMessage, Hex(event.SerializeAsString())};
}

// How long after a customer message at `provider_us` the conversation may be answered.
int64_t ReplyWindowMicros(common::v1::Channel channel, bool tag, int64_t provider_us) {
  const absl::Time at = absl::FromUnixMicros(provider_us);
  return absl::ToInt64Microseconds(ComputeReplyDeadlines(channel, tag, at).deadline - at);
}

// A customer message, postback, reaction or edit: stored as an inbound message.
absl::StatusOr<IngestEventResult> StoreInbound(Batch& b, int index, MessageContent content,
                                               const std::string& provider_message_id,
                                               const std::string& edit_target) {
  const InboundEvent& ev = b.request.events(index);
  if (std::string reason = RepairContent(&content); !reason.empty()) {
    return DeadLetter(b, index, reason);
  }
  if (content.has_reply_to()) {
    content.mutable_reply_to()->set_message_id(
        ResolveMid(b, ev, content.reply_to().provider_message_id()).value_or(""));
  }
  const std::string json = ToJson(content);
  if (absl::StrContains(json, "\\u0000")) {
    return DeadLetter(b, index, "content holds a NUL character outside text");
  }
  const int64_t at = EventMicros(b, ev);
  std::optional<std::string> reply_to;
  if (!content.reply_to().message_id().empty()) reply_to = content.reply_to().message_id();
  absl::StatusOr<std::variant<Target, IngestEventResult>> found = FindOrOpen(b, index, content);
  if (!found.ok()) return found.status();
  if (auto* dup = std::get_if<IngestEventResult>(&*found)) return *dup;
  const Target& t = std::get<Target>(*found);
  if (!t.waiting) {
    b.hints.Put(CustomerKey(ev), {t.conversation_id, t.agent_id, t.search_config, t.tag});
  }

  const std::string message_id = NewUuid();
  const AgentOutbox outbox = OutboxForAgent(t.agent_id, t.conversation_id, message_id, content, at);
  const int inserted =
      Exec1(
          b.tx, "session_insertmessage", kInsertMessage, message_id, t.conversation_id, Channel(ev),
          ev.endpoint().id(), ev.dedup_key(), static_cast<int>(common::v1::DIRECTION_INBOUND),
          static_cast<int>(common::v1::SENDER_KIND_CUSTOMER), json, SearchableText(content),
          t.search_config, reply_to, provider_message_id, at,
          static_cast<int>(common::v1::DELIVERY_STATUS_RECEIVED),
          ReplyWindowMicros(ev.endpoint().channel(), t.tag, at), outbox.kind, outbox.payload_hex)[0]
          .as<int>();
  IngestEventResult r;
  r.set_conversation_id(t.conversation_id);
  if (inserted == 0) {
    r.set_outcome(v1::INGEST_OUTCOME_DUPLICATE);
    r.set_detail(absl::StrCat("dedup_key ", Truncated(ev.dedup_key(), 600), " already stored"));
    return r;
  }
  if (!edit_target.empty()) Exec(b.tx, "session_markedited", kMarkEdited, edit_target);
  if (t.waiting) Exec(b.tx, "session_resume", kResume, t.conversation_id);
  r.set_outcome(v1::INGEST_OUTCOME_STORED);
  r.set_message_id(message_id);
  r.set_conversation_opened(t.opened);
  return r;
}

// STORED on the message (column 0) of a conversation (column 1) an update statement returned.
IngestEventResult StoredOn(const pqxx::row& row) {
  IngestEventResult r;
  r.set_outcome(v1::INGEST_OUTCOME_STORED);
  r.set_message_id(row[0].as<std::string>());
  r.set_conversation_id(row[1].as<std::string>());
  return r;
}

absl::StatusOr<IngestEventResult> StoreEcho(Batch& b, int index) {
  const InboundEvent& ev = b.request.events(index);
  const v1::EchoEvent& echo = ev.echo();
  const int64_t at = EventMicros(b, ev);
  pqxx::result rows = Exec(b.tx, "session_echomatch", kEchoMatch, Channel(ev), ev.endpoint().id(),
                           echo.metadata(), echo.provider_message_id(), at);
  if (!rows.empty()) return StoredOn(rows[0]);
  IngestEventResult r;
  rows = Exec(b.tx, "session_echoknown", kEchoKnown, Channel(ev), ev.endpoint().id(),
              echo.metadata(), echo.provider_message_id());
  if (!rows.empty()) {
    r.set_outcome(v1::INGEST_OUTCOME_DUPLICATE);
    r.set_message_id(rows[0][0].as<std::string>());
    r.set_conversation_id(rows[0][1].as<std::string>());
    r.set_detail("echo of a message already marked sent");
    return r;
  }
  // Sent from outside Parley (page inbox, another app): kept in the customer's conversation.
  MessageContent content = echo.content();
  if (std::string reason = RepairContent(&content); !reason.empty()) {
    return DeadLetter(b, index, reason);
  }
  const pqxx::row look = Exec1(b.tx, "session_lookup", kLookup, Channel(ev), ev.endpoint().id(),
                               ev.customer().user_id(), ev.dedup_key());
  if (!look["dup_id"].is_null()) {
    r.set_outcome(v1::INGEST_OUTCOME_DUPLICATE);
    r.set_message_id(look["dup_id"].as<std::string>());
    r.set_conversation_id(look["dup_conversation"].as<std::string>());
    r.set_detail("echo already stored");
    return r;
  }
  if (look["conversation_id"].is_null()) {
    return DeadLetter(
        b, index,
        absl::StrCat("echo ", Truncated(echo.provider_message_id(), 200), " to customer ",
                     ev.customer().user_id(), " who has no open conversation"));
  }
  const std::string json = ToJson(content);
  if (absl::StrContains(json, "\\u0000")) {
    return DeadLetter(b, index, "content holds a NUL character outside text");
  }
  const std::string message_id = NewUuid();
  const std::string conversation_id = look["conversation_id"].as<std::string>();
  Exec1(b.tx, "session_insertmessage", kInsertMessage, message_id, conversation_id, Channel(ev),
        ev.endpoint().id(), ev.dedup_key(), static_cast<int>(common::v1::DIRECTION_OUTBOUND),
        static_cast<int>(common::v1::SENDER_KIND_EXTERNAL), json, SearchableText(content),
        look["search_config"].as<std::string>(), std::optional<std::string>(),
        echo.provider_message_id(), at, static_cast<int>(common::v1::DELIVERY_STATUS_SENT),
        int64_t{0}, std::string(), std::string());
  r.set_outcome(v1::INGEST_OUTCOME_STORED);
  r.set_message_id(message_id);
  r.set_conversation_id(conversation_id);
  return r;
}

absl::StatusOr<IngestEventResult> ApplyReceipt(Batch& b, int index, int64_t watermark_us,
                                               const std::vector<std::string>& mids,
                                               common::v1::DeliveryStatus status) {
  const InboundEvent& ev = b.request.events(index);
  std::vector<std::string> clean;
  for (std::string mid : mids) {
    DropNul(&mid);
    if (!mid.empty()) clean.push_back(mid);
  }
  const std::string joined = absl::StrJoin(clean, "\n");
  const pqxx::result moved =
      Exec(b.tx, "session_receipt", kReceipt, Channel(ev), ev.endpoint().id(),
           ev.customer().user_id(), watermark_us, joined, static_cast<int>(status));
  IngestEventResult r;
  if (!moved.empty()) {
    r.set_outcome(v1::INGEST_OUTCOME_STORED);
    if (moved.size() == 1) r.set_message_id(moved[0][0].as<std::string>());
    return r;
  }
  const bool known = Exec1(b.tx, "session_receiptknown", kReceiptKnown, Channel(ev),
                           ev.endpoint().id(), ev.customer().user_id(), watermark_us, joined)[0]
                         .as<bool>();
  if (known) {
    r.set_outcome(v1::INGEST_OUTCOME_DUPLICATE);
    r.set_detail("every message it covers already has this status or a later one");
    return r;
  }
  return DeadLetter(
      b, index,
      absl::StrCat(ev.has_read() ? "read" : "delivery", " receipt refers to no message sent to ",
                   ev.customer().user_id(), " before its watermark"));
}

absl::StatusOr<IngestEventResult> ApplyStatus(Batch& b, int index) {
  const InboundEvent& ev = b.request.events(index);
  const v1::StatusCallback& st = ev.status();
  const auto status = st.status();
  if (status == common::v1::DELIVERY_STATUS_UNSPECIFIED ||
      status == common::v1::DELIVERY_STATUS_RECEIVED ||
      status == common::v1::DELIVERY_STATUS_PENDING) {
    return DeadLetter(b, index,
                      absl::StrCat("status ", common::v1::DeliveryStatus_Name(status),
                                   " is not a provider status of an outbound message"));
  }
  std::string mid = st.provider_message_id();
  DropNul(&mid);
  std::optional<std::string> error;
  if (st.has_error()) error = ToJson(st.error());
  if (error.has_value() && absl::StrContains(*error, "\\u0000")) error = std::nullopt;
  const int64_t at = EventMicros(b, ev);
  pqxx::result rows = Exec(b.tx, "session_status", kStatus, Channel(ev), ev.endpoint().id(), mid,
                           static_cast<int>(status), error, at);
  if (!rows.empty()) return StoredOn(rows[0]);
  IngestEventResult r;
  rows = Exec(b.tx, "session_statusknown", kStatusKnown, Channel(ev), ev.endpoint().id(), mid);
  if (rows.empty()) {
    return DeadLetter(
        b, index, absl::StrCat("status callback refers to unknown message ", Truncated(mid, 200)));
  }
  r.set_outcome(v1::INGEST_OUTCOME_DUPLICATE);
  r.set_message_id(rows[0][0].as<std::string>());
  r.set_conversation_id(rows[0][1].as<std::string>());
  r.set_detail(absl::StrCat("message already has status ", common::v1::DeliveryStatus_Name(status),
                            " or a later one"));
  return r;
}

absl::StatusOr<IngestEventResult> StoreSignal(Batch& b, int index, const char* kind) {
  const InboundEvent& ev = b.request.events(index);
  const pqxx::result rows =
      Exec(b.tx, "session_signal", kSignal, Channel(ev), ev.endpoint().id(), ev.dedup_key(),
           ev.customer().user_id(), std::string(kind), Hex(ev.SerializeAsString()));
  IngestEventResult r;
  if (rows.empty()) {
    r.set_outcome(v1::INGEST_OUTCOME_DUPLICATE);
    r.set_detail(absl::StrCat(kind, " already stored"));
    return r;
  }
  r.set_outcome(v1::INGEST_OUTCOME_STORED);
  r.set_conversation_id(rows[0][1].as<std::string>());
  return r;
}

absl::StatusOr<IngestEventResult> ProcessEvent(Batch& b, int index) {
  const InboundEvent& ev = b.request.events(index);
  switch (ev.kind_case()) {
    case InboundEvent::kMessage:
      return StoreInbound(b, index, ev.message().content(),
                          Clean(ev.message().provider_message_id(), 512), "");
    case InboundEvent::kPostback: {
      MessageContent content;
      *content.add_parts()->mutable_postback() = ev.postback().postback();
      return StoreInbound(b, index, std::move(content),
                          Clean(ev.postback().provider_message_id(), 512), "");
    }
    case InboundEvent::kReaction: {
      MessageContent content;
      common::v1::Reaction* reaction = content.add_parts()->mutable_reaction();
      *reaction = ev.reaction();
      reaction->set_target_message_id(
          ResolveMid(b, ev, Clean(reaction->target_provider_message_id(), 512)).value_or(""));
      return StoreInbound(b, index, std::move(content), "", "");
    }
    case InboundEvent::kEdit: {
      MessageContent content;
      common::v1::Edit* edit = content.add_parts()->mutable_edit();
      *edit = ev.edit();
      const std::string target =
          ResolveMid(b, ev, Clean(edit->target_provider_message_id(), 512)).value_or("");
      edit->set_target_message_id(target);
      return StoreInbound(b, index, std::move(content), "", target);
    }
    case InboundEvent::kEcho:
      return StoreEcho(b, index);
    case InboundEvent::kDelivery:
      return ApplyReceipt(b, index, ToMicros(TimeFromProto(ev.delivery().watermark())),
                          {ev.delivery().provider_message_ids().begin(),
                           ev.delivery().provider_message_ids().end()},
                          common::v1::DELIVERY_STATUS_DELIVERED);
    case InboundEvent::kRead:
      return ApplyReceipt(b, index, ToMicros(TimeFromProto(ev.read().watermark())), {},
                          common::v1::DELIVERY_STATUS_READ);
    case InboundEvent::kStatus:
      return ApplyStatus(b, index);
    case InboundEvent::kReferral:
      return StoreSignal(b, index, "referral");
    case InboundEvent::kOptIn:
      return StoreSignal(b, index, "opt_in");
    case InboundEvent::KIND_NOT_SET:
      break;
  }
  return DeadLetter(b, index, "event without a kind");
}

// Serializes concurrent batches of the same customers, in one fixed order: the identities of
// every request stored in the transaction are locked by one statement, sorted, so that two
// transactions never wait for each other in opposite orders.
void LockIdentities(pqxx::transaction_base& tx,
                    const std::vector<const v1::IngestRequest*>& requests) {
  std::set<std::string> keys;
  for (const v1::IngestRequest* request : requests) {
    for (const InboundEvent& ev : request->events()) {
      if (ev.customer().user_id().empty()) continue;
      keys.insert(CustomerKey(ev));
    }
  }
  if (keys.empty()) return;
  Exec(tx, "session_lockidentities", kLockIdentities, absl::StrJoin(keys, "\n"));
}

// Results already known for some events of a group (by request, then event index).
using Prestored = std::vector<std::vector<std::optional<IngestEventResult>>>;

// `ev` as a row for the group's fast path: a plain customer message (no reply, which needs a
// lookup) of a customer with a remembered conversation, whose content needs no dead letter.
std::optional<HintedMessage> AsHintedMessage(const InboundEvent& ev, int64_t receive_us,
                                             ConversationHints& hints) {
  if (ev.kind_case() != InboundEvent::kMessage || ev.message().content().has_reply_to()) {
    return std::nullopt;
  }
  std::optional<ConversationHint> hint = hints.Get(CustomerKey(ev));
  if (!hint.has_value()) return std::nullopt;
  MessageContent content = ev.message().content();
  if (!RepairContent(&content).empty()) return std::nullopt;
  HintedMessage m;
  m.content_json = ToJson(content);
  if (absl::StrContains(m.content_json, "\\u0000")) return std::nullopt;
  m.message_id = NewUuid();
  m.conversation_id = std::move(hint->conversation_id);
  m.channel = Channel(ev);
  m.endpoint_id = ev.endpoint().id();
  m.user_id = ev.customer().user_id();
  m.dedup_key = ev.dedup_key();
  m.body_text = SearchableText(content);
  m.provider_message_id = Clean(ev.message().provider_message_id(), 512);
  m.provider_us = EventMicros(receive_us, ev);
  m.window_us = ReplyWindowMicros(ev.endpoint().channel(), hint->tag, m.provider_us);
  m.agent_id = std::move(hint->agent_id);
  m.tag = hint->tag;
  m.search_config = std::move(hint->search_config);
  AgentOutbox outbox =
      OutboxForAgent(m.agent_id, m.conversation_id, m.message_id, content, m.provider_us);
  m.outbox_kind = std::move(outbox.kind);
  m.outbox_payload_hex = std::move(outbox.payload_hex);
  return m;
}

// The group's fast path (hinted_messages.h), before the other events. Only a prefix of each
// customer's events in group order qualifies, and no event whose dedup key an earlier event
// outside the fast path has, so that the outcome is the one storing every event in order gives.
Prestored StoreHintedMessages(pqxx::transaction_base& tx,
                              const std::vector<const v1::IngestRequest*>& requests,
                              const std::vector<int64_t>& receive_us, ConversationHints& hints) {
  Prestored out(requests.size());
  std::vector<HintedMessage> messages;
  std::vector<std::pair<size_t, int>> where;  // request, event of each message
  absl::flat_hash_set<std::string> slow_customers;
  absl::flat_hash_set<std::string> slow_dedup_keys;
  for (size_t r = 0; r < requests.size(); ++r) {
    out[r].resize(requests[r]->events_size());
    for (int i = 0; i < requests[r]->events_size(); ++i) {
      const InboundEvent& ev = requests[r]->events(i);
      std::string customer = CustomerKey(ev);
      std::string dedup = absl::StrCat(Channel(ev), "/", ev.endpoint().id(), "/", ev.dedup_key());
      std::optional<HintedMessage> m;
      if (!slow_customers.contains(customer) && !slow_dedup_keys.contains(dedup)) {
        m = AsHintedMessage(ev, receive_us[r], hints);
      }
      if (!m.has_value()) {
        if (!ev.customer().user_id().empty()) slow_customers.insert(std::move(customer));
        slow_dedup_keys.insert(std::move(dedup));
        continue;
      }
      messages.push_back(*std::move(m));
      where.emplace_back(r, i);
    }
  }
  const absl::flat_hash_set<std::string> stored = InsertHintedMessages(tx, messages);
  for (size_t k = 0; k < messages.size(); ++k) {
    if (!stored.contains(messages[k].message_id)) continue;
    IngestEventResult result;
    result.set_outcome(v1::INGEST_OUTCOME_STORED);
    result.set_message_id(messages[k].message_id);
    result.set_conversation_id(messages[k].conversation_id);
    out[where[k].first][where[k].second] = std::move(result);
  }
  return out;
}

// Whether a failure was PostgreSQL refusing a value (worth isolating the events), rather than
// the server going away or a transaction conflict.
bool IsDataError(const absl::Status& s) {
  return s.code() == absl::StatusCode::kInvalidArgument ||
         s.code() == absl::StatusCode::kFailedPrecondition ||
         s.code() == absl::StatusCode::kAlreadyExists;
}

// Stores one request's events in `tx`, whose identities are already locked, but for those with
// a result in `prestored` (empty, or one entry per event). With `isolate`, each event runs in
// its own savepoint and an event PostgreSQL refuses is dead-lettered.
absl::StatusOr<v1::IngestResponse> StoreRequest(
    pqxx::work& tx, const v1::IngestRequest& request, int64_t receive_us, bool isolate,
    ConversationHints& hints, const std::vector<std::optional<IngestEventResult>>& prestored) {
  std::map<std::string, common::v1::EndpointSettings> settings;
  for (const v1::EndpointSnapshot& e : request.endpoints()) {
    settings[e.endpoint().id()] = e.settings();
  }
  v1::IngestResponse response;
  for (int i = 0; i < request.events_size(); ++i) {
    absl::StatusOr<IngestEventResult> r;
    Batch b{tx, request, receive_us, settings, hints};
    if (!prestored.empty() && prestored[i].has_value()) {
      r = *prestored[i];
    } else if (!isolate) {
      r = ProcessEvent(b, i);
    } else {
      // One savepoint per event (libpqxx 6.4's subtransaction does not roll back
      // reliably when a statement inside it failed).
      tx.exec("SAVEPOINT ingest_event");
      try {
        r = ProcessEvent(b, i);
        tx.exec(r.ok() ? "RELEASE SAVEPOINT ingest_event" : "ROLLBACK TO SAVEPOINT ingest_event");
      } catch (const pqxx::sql_error& e) {
        const absl::Status s = pg::StatusFromException(e);
        if (!IsDataError(s)) throw;
        tx.exec("ROLLBACK TO SAVEPOINT ingest_event");
        r = DeadLetter(b, i, absl::StrCat("postgresql refused the event: ", s.message()));
      }
    }
    if (!r.ok()) return r.status();
    r->set_event_index(i);
    *response.add_results() = *std::move(r);
  }
  return response;
}

}  // namespace

std::optional<ConversationHint> ConversationHints::Get(const std::string& key) {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = hints_.find(key);
  if (it == hints_.end()) return std::nullopt;
  return it->second;
}

void ConversationHints::Put(const std::string& key, ConversationHint hint) {
  std::lock_guard<std::mutex> lock(mu_);
  if (hints_.size() >= kMaxEntries) hints_.clear();
  hints_[key] = std::move(hint);
}

void PgIngestStore::StartIngest(const v1::IngestRequest& request, Done done) {
  bool start_group_thread = false;
  {
    std::lock_guard<std::mutex> lock(mu_);
    pending_.push_back(std::make_unique<Call>(Call{&request, std::move(done)}));
    if (running_groups_ < options_.max_concurrent_groups) {
      ++running_groups_;
      start_group_thread = true;
    }
  }
  if (start_group_thread) group_threads_.Post([this] { RunGroups(); });
}

void PgIngestStore::RunGroups() {
  while (true) {
    std::vector<std::unique_ptr<Call>> group;
    {
      std::lock_guard<std::mutex> lock(mu_);
      if (pending_.empty()) {
        --running_groups_;
        return;
      }
      while (!pending_.empty() && static_cast<int>(group.size()) < options_.max_group_calls) {
        group.push_back(std::move(pending_.front()));
        pending_.pop_front();
      }
    }
    RunGroup(group);
    for (const std::unique_ptr<Call>& c : group) c->done(std::move(c->result));
  }
}

void PgIngestStore::RunGroup(const std::vector<std::unique_ptr<Call>>& group) {
  if (group.size() == 1) {
    group[0]->result = IngestAlone(*group[0]->request);
    return;
  }
  std::vector<const v1::IngestRequest*> requests;
  requests.reserve(group.size());
  for (const auto& c : group) requests.push_back(c->request);
  absl::StatusOr<std::vector<v1::IngestResponse>> together = Run(requests, /*isolate=*/false);
  if (!together.ok() && IsDataError(together.status())) {
    together = Run(requests, /*isolate=*/true);
  }
  if (together.ok()) {
    for (size_t i = 0; i < group.size(); ++i) group[i]->result = std::move((*together)[i]);
    return;
  }
  if (together.status().code() == absl::StatusCode::kUnavailable) {
    // PostgreSQL is away or the commit's outcome is unknown: every call is answered so, as it
    // would have been alone, and its caller retries (idempotently).
    for (const auto& c : group) c->result = together.status();
    return;
  }
  // A conflict or a failure one call may have caused: each call again in its own transaction,
  // so that it gets the answer it would have had alone.
  for (const auto& c : group) c->result = IngestAlone(*c->request);
}

absl::StatusOr<v1::IngestResponse> PgIngestStore::IngestAlone(const v1::IngestRequest& request) {
  absl::StatusOr<std::vector<v1::IngestResponse>> r = Run({&request}, /*isolate=*/false);
  if (!r.ok() && IsDataError(r.status())) r = Run({&request}, /*isolate=*/true);
  if (!r.ok()) return r.status();
  return std::move(r->front());
}

absl::StatusOr<std::vector<v1::IngestResponse>> PgIngestStore::Run(
    const std::vector<const v1::IngestRequest*>& requests, bool isolate) {
  std::vector<int64_t> receive_us;
  for (const v1::IngestRequest* request : requests) {
    receive_us.push_back(
        ToMicros(request->has_receive_time() ? TimeFromProto(request->receive_time()) : clock_()));
  }
  return pool_.Transact<std::vector<v1::IngestResponse>>(
      [&](pqxx::work& tx) -> absl::StatusOr<std::vector<v1::IngestResponse>> {
        LockIdentities(tx, requests);
        // Isolated runs store event by event, each in its savepoint.
        const Prestored prestored = isolate ? Prestored(requests.size())
                                            : StoreHintedMessages(tx, requests, receive_us, hints_);
        std::vector<v1::IngestResponse> responses;
        responses.reserve(requests.size());
        for (size_t i = 0; i < requests.size(); ++i) {
          absl::StatusOr<v1::IngestResponse> r =
              StoreRequest(tx, *requests[i], receive_us[i], isolate, hints_, prestored[i]);
          if (!r.ok()) return r.status();
          responses.push_back(*std::move(r));
        }
        return responses;
      });
}

}  // namespace parley::session

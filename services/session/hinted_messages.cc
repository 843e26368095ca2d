#include "services/session/hinted_messages.h"

#include <functional>

#include "absl/strings/str_cat.h"
#include "parley/common/v1/common.pb.h"

namespace parley::session {
namespace {

// $1..$16 one array each, an element per message: id, conversation, channel, endpoint, user id,
// dedup key, content json, body text, search config, provider message id, provider time (us),
// reply window (us), remembered agent, remembered tag, outbox kind ('' for none), outbox
// payload (hex); $17 direction, $18 sender kind, $19 delivery status.
// A message goes in only while its conversation still is the identity's live conversation as
// remembered (same agent, tag and search configuration; neither WAITING nor CLOSED), checked
// under the customer's advisory lock; ON CONFLICT skips a dedup key already stored, also by an
// earlier row of the same statement (rows go in in input order). Each conversation is updated
// once for all its stored messages (an UPDATE in a statement can change a row only once).
// The check is a subquery per row (OFFSET 0 keeps the planner from turning it into a join, which
// the generic plan of this prepared statement, not knowing the arrays' sizes, would make a hash
// join over every identity): two primary-key probes per message.
// Timestamps are written out rather than calling session.ts(): see ADR 0007.
constexpr char kInsertHintedMessages[] = R"sql(
WITH x AS (
  SELECT * FROM unnest($1::uuid[], $2::uuid[], $3::smallint[], $4::text[], $5::text[],
                       $6::text[], $7::jsonb[], $8::text[], $9::regconfig[], $10::text[],
                       $11::bigint[], $12::bigint[], $13::text[], $14::boolean[], $15::text[],
                       $16::text[])
    WITH ORDINALITY AS x(id, conversation_id, channel, endpoint_id, user_id, dedup_key, content,
                         body_text, search_config, provider_message_id, provider_us, window_us,
                         agent_id, tag, outbox_kind, outbox_payload, ord)),
live AS (
  SELECT x.*, to_timestamp(0) + x.provider_us * interval '1 microsecond' AS provider_time
  FROM x
  WHERE EXISTS (
    SELECT 1 FROM session.conversations c
    JOIN session.channel_identities i ON i.id = c.identity_id
    WHERE c.id = x.conversation_id AND c.state NOT IN (3, 5) AND c.agent_id = x.agent_id
      AND c.human_agent_tag_enabled = x.tag AND c.search_config = x.search_config
      AND i.channel = x.channel AND i.endpoint_id = x.endpoint_id AND i.user_id = x.user_id
    OFFSET 0)),
m AS (
  INSERT INTO session.messages (id, conversation_id, channel, endpoint_id, dedup_key, direction,
      sender_kind, content, body_text, search_config, provider_message_id, provider_time,
      delivery_status)
  SELECT id, conversation_id, channel, endpoint_id, dedup_key, $17::smallint, $18::smallint,
         content, body_text, search_config, provider_message_id, provider_time, $19::smallint
  FROM live ORDER BY ord
  ON CONFLICT (channel, endpoint_id, dedup_key) DO NOTHING
  RETURNING id),
stored AS (SELECT live.* FROM live JOIN m USING (id)),
u AS (
  UPDATE session.conversations c SET
    message_count = c.message_count + s.n,
    last_customer_message_at = greatest(c.last_customer_message_at, s.at),
    reply_deadline = greatest(c.last_customer_message_at, s.at)
                     + s.window_us * interval '1 microsecond',
    last_activity_at = greatest(c.last_activity_at, now()),
    updated_at = now()
  FROM (SELECT conversation_id, count(*) AS n, max(provider_time) AS at,
               max(window_us) AS window_us
        FROM stored GROUP BY conversation_id) s
  WHERE c.id = s.conversation_id),
o AS (
  INSERT INTO session.outbox (kind, payload)
  SELECT outbox_kind, decode(outbox_payload, 'hex') FROM stored WHERE outbox_kind <> ''
  ORDER BY ord)
SELECT id::text FROM m)sql";

// A PostgreSQL array literal ('{"a","b"}') of one field of every message.
std::string ArrayOf(const std::vector<HintedMessage>& messages,
                    const std::function<std::string(const HintedMessage&)>& field) {
  std::string out = "{";
  for (const HintedMessage& m : messages) {
    if (out.size() > 1) out.push_back(',');
    out.push_back('"');
    for (char c : field(m)) {
      if (c == '"' || c == '\\') out.push_back('\\');
      out.push_back(c);
    }
    out.push_back('"');
  }
  out.push_back('}');
  return out;
}

}  // namespace

absl::flat_hash_set<std::string> InsertHintedMessages(pqxx::transaction_base& tx,
                                                      const std::vector<HintedMessage>& messages) {
  absl::flat_hash_set<std::string> stored;
  if (messages.empty()) return stored;
  using M = HintedMessage;
  tx.conn().prepare("session_inserthinted", kInsertHintedMessages);
  const pqxx::result rows = tx.exec_prepared(
      "session_inserthinted", ArrayOf(messages, [](const M& m) { return m.message_id; }),
      ArrayOf(messages, [](const M& m) { return m.conversation_id; }),
      ArrayOf(messages, [](const M& m) { return absl::StrCat(m.channel); }),
      ArrayOf(messages, [](const M& m) { return m.endpoint_id; }),
      ArrayOf(messages, [](const M& m) { return m.user_id; }),
      ArrayOf(messages, [](const M& m) { return m.dedup_key; }),
      ArrayOf(messages, [](const M& m) { return m.content_json; }),
      ArrayOf(messages, [](const M& m) { return m.body_text; }),
      ArrayOf(messages, [](const M& m) { return m.search_config; }),
      ArrayOf(messages, [](const M& m) { return m.provider_message_id; }),
      ArrayOf(messages, [](const M& m) { return absl::StrCat(m.provider_us); }),
      ArrayOf(messages, [](const M& m) { return absl::StrCat(m.window_us); }),
      ArrayOf(messages, [](const M& m) { return m.agent_id; }),
      ArrayOf(messages, [](const M& m) { return std::string(m.tag ? "t" : "f"); }),
      ArrayOf(messages, [](const M& m) { return m.outbox_kind; }),
      ArrayOf(messages, [](const M& m) { return m.outbox_payload_hex; }),
      static_cast<int>(common::v1::DIRECTION_INBOUND),
      static_cast<int>(common::v1::SENDER_KIND_CUSTOMER),
      static_cast<int>(common::v1::DELIVERY_STATUS_RECEIVED));
  for (const pqxx::row& row : rows) stored.insert(row[0].as<std::string>());
  return stored;
}

}  // namespace parley::session

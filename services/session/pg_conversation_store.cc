#include "services/session/pg_conversation_store.h"

#include <algorithm>
#include <limits>
#include <optional>
#include <string>
#include <tuple>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "libs/common/paging.h"
#include "parley/router/v1/router.pb.h"
#include "services/session/conversation_state.h"
#include "services/session/outbox_relay.h"
#include "services/session/rows.h"
#include "services/session/text_rules.h"

namespace parley::session {
namespace {

using common::v1::CONVERSATION_STATE_ACTIVE;
using common::v1::CONVERSATION_STATE_CLOSED;
using common::v1::CONVERSATION_STATE_OPEN;

// $1 conversation, $2 offset, $3 limit.
constexpr char kMessagesPage[] = R"sql(
SELECT * FROM (
  SELECT %s, row_number() OVER (ORDER BY m.provider_time, m.seq) AS pos
  FROM session.messages m WHERE m.conversation_id = $1::uuid) x
WHERE pos > $2 ORDER BY pos LIMIT $3)sql";

// $1 agent, $2 queue, $3 states (comma-separated), $4 contact, $5 channel, $6 endpoint,
// $7 offset, $8 limit.
constexpr char kListWhere[] = R"sql(
WHERE ($1::text = '' OR c.agent_id = $1::text)
  AND ($2::text = '' OR c.queue_id = $2::text)
  AND ($3::text = '' OR c.state = ANY (string_to_array($3::text, ',')::smallint[]))
  AND ($4::text = '' OR c.contact_id::text = $4::text)
  AND ($5::smallint = 0 OR c.channel = $5::smallint)
  AND ($6::text = '' OR c.endpoint_id = $6::text)
ORDER BY c.last_activity_at DESC, c.id
OFFSET $7 LIMIT $8)sql";

constexpr char kEventByRequest[] =
    "SELECT 1 FROM session.conversation_events WHERE request_id = $1::uuid";

// $1 id, $2 state, $3 close reason.
constexpr char kSetState[] = R"sql(
UPDATE session.conversations SET
  state = $2::smallint,
  closed_at = CASE WHEN $2::smallint = 5 THEN now() ELSE closed_at END,
  close_reason = $3::smallint,
  last_activity_at = now(), updated_at = now()
WHERE id = $1::uuid)sql";

// $1 conversation, $2 from, $3 to, $4 actor, $5 agent, $6 queue, $7 reason, $8 request id.
constexpr char kLogEvent[] = R"sql(
INSERT INTO session.conversation_events (conversation_id, from_state, to_state, actor_agent_id,
                                         agent_id, queue_id, reason, request_id)
VALUES ($1::uuid, $2, $3, $4, $5, $6, $7, $8::uuid))sql";

// $1 id, $2 state, $3 agent, $4 queue, $5 assigned (bool), $6 sequence, $7 auto-close (us,
// 0 for never).
constexpr char kRoute[] = R"sql(
UPDATE session.conversations SET
  state = $2::smallint, agent_id = $3::text, queue_id = $4::text,
  assigned_at = CASE WHEN $5::bool THEN now() ELSE assigned_at END,
  routing_sequence = $6::bigint,
  auto_close_after = CASE WHEN $7::bigint > 0 THEN $7::bigint * interval '1 microsecond' END,
  last_activity_at = now(), updated_at = now()
WHERE id = $1::uuid)sql";

// $1 kind, $2 payload (hex).
constexpr char kOutboxFinish[] = R"sql(
INSERT INTO session.outbox (kind, payload) VALUES ($1, decode($2, 'hex')))sql";

// Conversations idle past their auto-close time, locked, skipping those another replica holds.
// $1 limit.
constexpr char kDueForAutoClose[] = R"sql(
SELECT c.id::text, c.state, c.agent_id, c.queue_id,
       extract(epoch FROM c.auto_close_after)::bigint AS idle_seconds
FROM session.conversations c
WHERE c.state IN (1, 2, 3, 4) AND c.auto_close_after IS NOT NULL
  AND c.last_activity_at + c.auto_close_after <= now()
ORDER BY c.last_activity_at
LIMIT $1
FOR UPDATE SKIP LOCKED)sql";

constexpr char kRoutingSequence[] =
    "SELECT routing_sequence FROM session.conversations WHERE id = $1::uuid";

// $1 conversation, $2 author, $3 text, $4 request id.
constexpr char kAddNote[] = R"sql(
INSERT INTO session.notes (conversation_id, author_agent_id, text, search_config, request_id)
SELECT c.id, $2::text, $3::text, c.search_config, $4::uuid
FROM session.conversations c WHERE c.id = $1::uuid
ON CONFLICT (request_id) DO NOTHING
RETURNING id::text)sql";

constexpr char kNoteColumns[] =
    "SELECT id::text, conversation_id::text, author_agent_id, text, "
    "session.us(created_at) AS created FROM session.notes ";

constexpr char kEvents[] = R"sql(
SELECT coalesce(from_state, 0), to_state, actor_agent_id, agent_id, queue_id, reason,
       session.us(created_at), seq
FROM session.conversation_events WHERE conversation_id = $1::uuid ORDER BY seq)sql";

constexpr char kConversationExists[] = "SELECT 1 FROM session.conversations WHERE id = $1::uuid";

// Search. $1 query, $2 configurations, $3 start (us) or NULL, $4 end (us) or NULL,
// $5 contact, $6 channel, $7 endpoint, $8 agent, $9 headline options, $10 offset, $11 limit.
constexpr char kSearchHits[] = R"sql(
WITH q AS (
  SELECT cfg, websearch_to_tsquery(cfg, $1::text) AS query
  FROM unnest(string_to_array($2::text, ',')::regconfig[]) AS cfg),
hits AS (
  SELECT m.conversation_id, m.id, m.provider_time AS t, m.seq, ts_rank(m.tsv, q.query) AS score,
         m.body_text AS text, q.query, q.cfg
  FROM q JOIN session.messages m ON m.search_config = q.cfg AND m.tsv @@ q.query
  WHERE ($3::bigint IS NULL OR m.provider_time >= session.ts($3::bigint))
    AND ($4::bigint IS NULL OR m.provider_time < session.ts($4::bigint))
  UNION ALL
  SELECT n.conversation_id, NULL, n.created_at, n.seq, ts_rank(n.tsv, q.query), n.text,
         q.query, q.cfg
  FROM q JOIN session.notes n ON n.search_config = q.cfg AND n.tsv @@ q.query
  WHERE ($3::bigint IS NULL OR n.created_at >= session.ts($3::bigint))
    AND ($4::bigint IS NULL OR n.created_at < session.ts($4::bigint))),
per AS (
  SELECT conversation_id, max(score) AS score,
         array_to_string((array_agg(id::text ORDER BY t, seq)
                          FILTER (WHERE id IS NOT NULL))[1:20], ',') AS ids,
         (array_agg(ts_headline(cfg, text, query, $9::text) ORDER BY score DESC))[1] AS snippet
  FROM hits GROUP BY conversation_id)
SELECT %s, per.score, coalesce(per.ids, '') AS ids, per.snippet
FROM per JOIN session.conversations c ON c.id = per.conversation_id
)sql";

constexpr char kSearchAll[] = R"sql(
SELECT %s, 0::float4 AS score, '' AS ids, '' AS snippet
FROM session.conversations c
WHERE ($1::text = '' OR true) AND ($2::text = '' OR true)
  AND ($3::bigint IS NULL OR coalesce(c.closed_at, c.last_activity_at) >= session.ts($3::bigint))
  AND ($4::bigint IS NULL OR c.opened_at < session.ts($4::bigint))
  AND ($9::text = '' OR true)
)sql";

constexpr char kSearchFilters[] = R"sql(
%s ($5::text = '' OR c.contact_id::text = $5::text)
  AND ($6::smallint = 0 OR c.channel = $6::smallint)
  AND ($7::text = '' OR c.endpoint_id = $7::text)
  AND ($8::text = '' OR c.agent_id = $8::text OR EXISTS (
        SELECT 1 FROM session.conversation_events e
        WHERE e.conversation_id = c.id AND e.agent_id = $8::text))
ORDER BY %s
OFFSET $10 LIMIT $11)sql";

std::string Fill(const char* format, const std::vector<absl::string_view>& args) {
  std::string out;
  size_t next = 0;
  for (absl::string_view piece : absl::StrSplit(format, "%s")) {
    absl::StrAppend(&out, piece);
    if (next < args.size()) absl::StrAppend(&out, args[next]);
    ++next;
  }
  return out;
}

absl::StatusOr<v1::Conversation> Load(pqxx::transaction_base& tx, const std::string& id,
                                      absl::Time now, bool for_update = false) {
  const pqxx::result rows =
      tx.exec_params(absl::StrCat("SELECT ", kConversationColumns, kConversationFrom,
                                  "WHERE c.id = $1::uuid", for_update ? " FOR UPDATE OF c" : ""),
                     id);
  if (rows.empty()) return absl::NotFoundError(absl::StrCat("conversation ", id, ": not found"));
  return ConversationFromRow(rows[0], now);
}

std::optional<std::string> Optional(const std::string& s) {
  if (s.empty()) return std::nullopt;
  return s;
}

// Tells router, through the outbox, that a conversation closed (releases the agent's capacity).
void QueueFinish(pqxx::transaction_base& tx, const std::string& id, const std::string& reason,
                 absl::Time now) {
  router::v1::FinishConversationRequest finish;
  finish.set_conversation_id(id);
  finish.set_reason(reason);
  SetTimestamp(now, finish.mutable_close_time());
  tx.exec_params(kOutboxFinish, std::string(kOutboxFinishConversation),
                 Hex(finish.SerializeAsString()));
}

v1::Note NoteFromRow(const pqxx::row& r) {
  v1::Note n;
  n.set_id(r[0].as<std::string>());
  n.set_conversation_id(r[1].as<std::string>());
  n.set_author_agent_id(r[2].as<std::string>());
  n.set_text(r[3].as<std::string>());
  SetTimestamp(r[4], [&] { return n.mutable_create_time(); });
  return n;
}

// A ts_headline result with \x02..\x03 around matches → plain snippet and code-point ranges.
void SetSnippet(const std::string& marked, v1::TranscriptSearchResult* out) {
  constexpr size_t kMaxSnippet = 300;
  std::string plain;
  int32_t points = 0;
  int32_t start = -1;
  for (size_t i = 0; i < marked.size(); ++i) {
    const char c = marked[i];
    if (c == '\x02') {
      start = points;
      continue;
    }
    if (c == '\x03') {
      if (start >= 0 && points > start) {
        v1::TextRange* r = out->add_highlights();
        r->set_start(start);
        r->set_length(points - start);
      }
      start = -1;
      continue;
    }
    const bool lead = (static_cast<unsigned char>(c) & 0xC0) != 0x80;
    if (lead && static_cast<size_t>(points) == kMaxSnippet) break;
    if (lead) ++points;
    plain.push_back(c);
  }
  out->set_snippet(plain);
}

}  // namespace

absl::StatusOr<v1::GetConversationResponse> PgConversationStore::GetConversation(
    const v1::GetConversationRequest& request) {
  absl::StatusOr<Page> page =
      ParsePage("messages", request.message_page_size(), request.message_page_token(), "message_");
  if (!page.ok()) return page.status();
  return pool_.Transact<v1::GetConversationResponse>(
      [&](pqxx::work& tx) -> absl::StatusOr<v1::GetConversationResponse> {
        v1::GetConversationResponse out;
        absl::StatusOr<v1::Conversation> c = Load(tx, request.conversation_id(), clock_());
        if (!c.ok()) return c.status();
        *out.mutable_conversation() = *std::move(c);
        const pqxx::result rows =
            tx.exec_params(Fill(kMessagesPage, {kMessageColumns}), request.conversation_id(),
                           page->offset, page->size + 1);
        for (int i = 0; i < std::min<int>(rows.size(), page->size); ++i) {
          *out.add_messages() = MessageFromRow(rows[i]);
        }
        if (static_cast<int>(rows.size()) > page->size) {
          out.set_next_message_page_token(NextPageToken("messages", *page));
        }
        return out;
      });
}

absl::StatusOr<v1::ListConversationsResponse> PgConversationStore::ListConversations(
    const v1::ListConversationsRequest& request) {
  absl::StatusOr<Page> page = ParsePage("conversations", request.page_size(), request.page_token());
  if (!page.ok()) return page.status();
  std::vector<std::string> states;
  for (int s : request.states()) states.push_back(absl::StrCat(s));
  return pool_.Transact<v1::ListConversationsResponse>(
      [&](pqxx::work& tx) -> absl::StatusOr<v1::ListConversationsResponse> {
        const pqxx::result rows = tx.exec_params(
            absl::StrCat("SELECT ", kConversationColumns, kConversationFrom, kListWhere),
            request.agent_id(), request.queue_id(), absl::StrJoin(states, ","),
            request.contact_id(), static_cast<int>(request.channel()), request.endpoint_id(),
            page->offset, page->size + 1);
        v1::ListConversationsResponse out;
        const absl::Time now = clock_();
        for (int i = 0; i < std::min<int>(rows.size(), page->size); ++i) {
          *out.add_conversations() = ConversationFromRow(rows[i], now);
        }
        if (static_cast<int>(rows.size()) > page->size) {
          out.set_next_page_token(NextPageToken("conversations", *page));
        }
        return out;
      });
}

absl::StatusOr<v1::Conversation> PgConversationStore::ChangeState(
    const v1::ChangeConversationStateRequest& request) {
  const std::string& id = request.conversation_id();
  return pool_.Transact<v1::Conversation>([&](pqxx::work& tx) -> absl::StatusOr<v1::Conversation> {
    absl::StatusOr<v1::Conversation> c = Load(tx, id, clock_(), /*for_update=*/true);
    if (!c.ok()) return c.status();
    if (!request.request_id().empty() &&
        !tx.exec_params(kEventByRequest, request.request_id()).empty()) {
      return c;
    }
    if (c->state() == request.state()) {
      return absl::InvalidArgumentError(
          absl::StrCat("state: conversation ", id, " is already ", StateName(c->state())));
    }
    if (!request.agent_id().empty() && request.agent_id() != c->agent_id()) {
      return absl::PermissionDeniedError(absl::StrCat(
          "agent ", request.agent_id(), " is not the assigned agent of conversation ", id));
    }
    if (absl::Status s = CheckTransition(id, c->state(), request.state()); !s.ok()) return s;
    int close_reason = 0;
    if (request.state() == CONVERSATION_STATE_CLOSED) {
      close_reason = request.agent_id().empty() ? v1::CLOSE_REASON_SYSTEM : v1::CLOSE_REASON_AGENT;
    }
    tx.exec_params(kSetState, id, static_cast<int>(request.state()), close_reason);
    tx.exec_params(kLogEvent, id, static_cast<int>(c->state()), static_cast<int>(request.state()),
                   request.agent_id(), c->agent_id(), c->queue_id(), request.reason(),
                   Optional(request.request_id()));
    if (request.state() == CONVERSATION_STATE_CLOSED) {
      QueueFinish(tx, id,
                  request.reason().empty()
                      ? (request.agent_id().empty() ? "closed" : "closed by agent")
                      : request.reason(),
                  absl::Now());
    }
    return Load(tx, id, clock_());
  });
}

absl::StatusOr<v1::ApplyRoutingUpdateResponse> PgConversationStore::ApplyRoutingUpdate(
    const v1::ApplyRoutingUpdateRequest& request) {
  const std::string& id = request.conversation_id();
  return pool_.Transact<v1::ApplyRoutingUpdateResponse>(
      [&](pqxx::work& tx) -> absl::StatusOr<v1::ApplyRoutingUpdateResponse> {
        v1::ApplyRoutingUpdateResponse out;
        absl::StatusOr<v1::Conversation> c = Load(tx, id, clock_(), /*for_update=*/true);
        if (!c.ok()) return c.status();
        const int64_t last = tx.exec_params1(kRoutingSequence, id)[0].as<int64_t>();
        if (!tx.exec_params(kEventByRequest, request.routing_event_id()).empty() ||
            request.routing_sequence() <= last) {
          *out.mutable_conversation() = *std::move(c);
          out.set_applied(false);
          return out;
        }
        if (c->state() == CONVERSATION_STATE_CLOSED) {
          return absl::FailedPreconditionError(
              absl::StrCat("conversation ", id, ": closed; router must finish it instead"));
        }
        const bool assigned = request.has_assigned();
        const State to = assigned ? CONVERSATION_STATE_ACTIVE : CONVERSATION_STATE_OPEN;
        if (c->state() != to) {
          if (absl::Status s = CheckTransition(id, c->state(), to); !s.ok()) return s;
        }
        const std::string agent = assigned ? request.assigned().agent_id() : "";
        std::string queue = assigned ? request.assigned().queue_id() : request.queued().queue_id();
        if (queue.empty()) queue = c->queue_id();
        const std::string actor = assigned ? request.assigned().from_agent_id()
                                           : request.queued().transferred_by_agent_id();
        const int64_t auto_close_us =
            request.has_auto_close_after()
                ? absl::ToInt64Microseconds(absl::Seconds(request.auto_close_after().seconds()) +
                                            absl::Nanoseconds(request.auto_close_after().nanos()))
                : 0;
        tx.exec_params(kRoute, id, static_cast<int>(to), agent, queue, assigned,
                       request.routing_sequence(), auto_close_us);
        tx.exec_params(
            kLogEvent, id, static_cast<int>(c->state()), static_cast<int>(to), actor, agent, queue,
            assigned ? absl::StrCat("assigned: ",
                                    common::v1::AssignmentKind_Name(request.assigned().kind()))
                     : std::string("queued"),
            request.routing_event_id());
        absl::StatusOr<v1::Conversation> after = Load(tx, id, clock_());
        if (!after.ok()) return after.status();
        *out.mutable_conversation() = *std::move(after);
        out.set_applied(true);
        return out;
      });
}

absl::StatusOr<v1::Note> PgConversationStore::AddNote(const v1::AddNoteRequest& request) {
  return pool_.Transact<v1::Note>([&](pqxx::work& tx) -> absl::StatusOr<v1::Note> {
    const pqxx::result added =
        tx.exec_params(kAddNote, request.conversation_id(), request.author_agent_id(),
                       request.text(), Optional(request.request_id()));
    pqxx::result rows;
    if (!added.empty()) {
      rows = tx.exec_params(absl::StrCat(kNoteColumns, "WHERE id = $1::uuid"),
                            added[0][0].as<std::string>());
    } else if (!request.request_id().empty()) {
      rows = tx.exec_params(absl::StrCat(kNoteColumns, "WHERE request_id = $1::uuid"),
                            request.request_id());
    }
    if (rows.empty()) {
      return absl::NotFoundError(
          absl::StrCat("conversation ", request.conversation_id(), ": not found"));
    }
    return NoteFromRow(rows[0]);
  });
}

absl::StatusOr<v1::ListNotesResponse> PgConversationStore::ListNotes(
    const v1::ListNotesRequest& request) {
  absl::StatusOr<Page> page = ParsePage("notes", request.page_size(), request.page_token());
  if (!page.ok()) return page.status();
  return pool_.Transact<v1::ListNotesResponse>(
      [&](pqxx::work& tx) -> absl::StatusOr<v1::ListNotesResponse> {
        if (tx.exec_params(kConversationExists, request.conversation_id()).empty()) {
          return absl::NotFoundError(
              absl::StrCat("conversation ", request.conversation_id(), ": not found"));
        }
        const pqxx::result rows =
            tx.exec_params(absl::StrCat(kNoteColumns,
                                        "WHERE conversation_id = $1::uuid ORDER BY created_at, seq "
                                        "OFFSET $2 LIMIT $3"),
                           request.conversation_id(), page->offset, page->size + 1);
        v1::ListNotesResponse out;
        for (int i = 0; i < std::min<int>(rows.size(), page->size); ++i) {
          *out.add_notes() = NoteFromRow(rows[i]);
        }
        if (static_cast<int>(rows.size()) > page->size) {
          out.set_next_page_token(NextPageToken("notes", *page));
        }
        return out;
      });
}

absl::StatusOr<v1::GetTranscriptResponse> PgConversationStore::GetTranscript(
    const v1::GetTranscriptRequest& request) {
  absl::StatusOr<Page> page = ParsePage("transcript", request.page_size(), request.page_token());
  if (!page.ok()) return page.status();
  const std::string& id = request.conversation_id();
  return pool_.Transact<v1::GetTranscriptResponse>(
      [&](pqxx::work& tx) -> absl::StatusOr<v1::GetTranscriptResponse> {
        v1::GetTranscriptResponse out;
        absl::StatusOr<v1::Conversation> c = Load(tx, id, clock_());
        if (!c.ok()) return c.status();
        *out.mutable_conversation() = *std::move(c);
        // (time, recorded, kind, seq) orders the merged entries.
        using Key = std::tuple<int64_t, int64_t, int, int64_t>;
        std::vector<std::pair<Key, v1::TranscriptEntry>> entries;
        const pqxx::result messages = tx.exec_params(Fill(kMessagesPage, {kMessageColumns}), id, 0,
                                                     std::numeric_limits<int>::max());
        for (const pqxx::row& r : messages) {
          v1::TranscriptEntry e;
          *e.mutable_message() = MessageFromRow(r);
          *e.mutable_time() = e.message().provider_time();
          entries.push_back({{r["provider_time"].as<int64_t>(), r["created"].as<int64_t>(), 0,
                              r["pos"].as<int64_t>()},
                             std::move(e)});
        }
        const pqxx::result notes = tx.exec_params(
            absl::StrCat(kNoteColumns, "WHERE conversation_id = $1::uuid ORDER BY seq"), id);
        int64_t n = 0;
        for (const pqxx::row& r : notes) {
          v1::TranscriptEntry e;
          *e.mutable_note() = NoteFromRow(r);
          *e.mutable_time() = e.note().create_time();
          entries.push_back({{r[4].as<int64_t>(), r[4].as<int64_t>(), 1, n++}, std::move(e)});
        }
        for (const pqxx::row& r : tx.exec_params(kEvents, id)) {
          v1::TranscriptEntry e;
          v1::StateChange* s = e.mutable_state_change();
          s->set_from_state(static_cast<common::v1::ConversationState>(r[0].as<int>()));
          s->set_to_state(static_cast<common::v1::ConversationState>(r[1].as<int>()));
          s->set_actor_agent_id(r[2].as<std::string>());
          s->set_agent_id(r[3].as<std::string>());
          s->set_queue_id(r[4].as<std::string>());
          s->set_reason(r[5].as<std::string>());
          SetTimestamp(r[6], [&] { return e.mutable_time(); });
          entries.push_back(
              {{r[6].as<int64_t>(), r[6].as<int64_t>(), 2, r[7].as<int64_t>()}, std::move(e)});
        }
        std::stable_sort(entries.begin(), entries.end(),
                         [](const auto& a, const auto& b) { return a.first < b.first; });
        const int end = std::min<int>(entries.size(), page->offset + page->size);
        for (int i = page->offset; i < end; ++i) *out.add_entries() = std::move(entries[i].second);
        if (static_cast<int>(entries.size()) > end) {
          out.set_next_page_token(NextPageToken("transcript", *page));
        }
        return out;
      });
}

absl::StatusOr<v1::SearchTranscriptsResponse> PgConversationStore::SearchTranscripts(
    const v1::SearchTranscriptsRequest& request) {
  absl::StatusOr<Page> page = ParsePage("search", request.page_size(), request.page_token());
  if (!page.ok()) return page.status();
  const bool text = !request.query().empty();
  std::string where = "WHERE";
  std::string order;
  switch (request.order_by()) {
    case v1::TRANSCRIPT_ORDER_OLDEST:
      order = "c.opened_at ASC, c.id";
      break;
    case v1::TRANSCRIPT_ORDER_NEWEST:
      order = "c.opened_at DESC, c.id";
      break;
    default:
      order = text ? "per.score DESC, c.opened_at DESC, c.id" : "c.opened_at DESC, c.id";
  }
  const std::string sql = absl::StrCat(Fill(text ? kSearchHits : kSearchAll, {kSummaryColumns}),
                                       Fill(kSearchFilters, {text ? "WHERE" : "AND", order}));
  std::optional<int64_t> start;
  std::optional<int64_t> end;
  if (request.has_start_time()) start = ToMicros(TimeFromProto(request.start_time()));
  if (request.has_end_time()) end = ToMicros(TimeFromProto(request.end_time()));
  return pool_.Transact<v1::SearchTranscriptsResponse>(
      [&](pqxx::work& tx) -> absl::StatusOr<v1::SearchTranscriptsResponse> {
        const pqxx::result rows = tx.exec_params(
            sql, request.query(), std::string(AllSearchConfigs()), start, end, request.contact_id(),
            static_cast<int>(request.channel()), request.endpoint_id(), request.agent_id(),
            std::string("StartSel=\x02, StopSel=\x03, MaxWords=35, MinWords=15"), page->offset,
            page->size + 1);
        v1::SearchTranscriptsResponse out;
        for (int i = 0; i < std::min<int>(rows.size(), page->size); ++i) {
          v1::TranscriptSearchResult* r = out.add_results();
          *r->mutable_conversation() = SummaryFromRow(rows[i]);
          r->set_score(rows[i]["score"].as<float>());
          const std::string ids = rows[i]["ids"].as<std::string>();
          if (!ids.empty()) {
            for (absl::string_view m : absl::StrSplit(ids, ',')) {
              r->add_matched_message_ids(std::string(m));
            }
          }
          if (!rows[i]["snippet"].is_null()) SetSnippet(rows[i]["snippet"].as<std::string>(), r);
        }
        if (static_cast<int>(rows.size()) > page->size) {
          out.set_next_page_token(NextPageToken("search", *page));
        }
        return out;
      });
}

absl::StatusOr<int> PgConversationStore::CloseInactive(int limit) {
  return pool_.Transact<int>([&](pqxx::work& tx) -> absl::StatusOr<int> {
    const pqxx::result due = tx.exec_params(kDueForAutoClose, limit);
    for (const pqxx::row& row : due) {
      const std::string id = row[0].as<std::string>();
      const std::string reason =
          absl::StrCat("closed after ", row[4].as<int64_t>(), "s without activity");
      tx.exec_params(kSetState, id, static_cast<int>(CONVERSATION_STATE_CLOSED),
                     static_cast<int>(v1::CLOSE_REASON_INACTIVITY));
      tx.exec_params(kLogEvent, id, row[1].as<int>(), static_cast<int>(CONVERSATION_STATE_CLOSED),
                     std::string(), row[2].as<std::string>(), row[3].as<std::string>(), reason,
                     std::optional<std::string>());
      QueueFinish(tx, id, reason, absl::Now());
    }
    return static_cast<int>(due.size());
  });
}

}  // namespace parley::session

// ConversationService's and TranscriptService's store on a real PostgreSQL: paged reads,
// lists, the state machine with its event log, routing updates, notes, transcripts and
// full-text search.
#include "absl/strings/str_cat.h"
#include "parley/router/v1/router.pb.h"
#include "services/session/pg_conversation_store.h"
#include "services/session/pg_ingest_store.h"
#include "services/session/rows.h"
#include "services/session/session_fixture.h"

namespace parley::session {
namespace {

using common::v1::CONVERSATION_STATE_ACTIVE;
using common::v1::CONVERSATION_STATE_CLOSED;
using common::v1::CONVERSATION_STATE_OPEN;
using common::v1::CONVERSATION_STATE_WAITING;
using common::v1::CONVERSATION_STATE_WRAP_UP;

constexpr char kAgent[] = "a9e0b9e0-3f2a-4d1b-8c7e-0123456789ab";
constexpr char kQueue[] = "f00b9e00-3f2a-4d1b-8c7e-0123456789ab";
const absl::Time kT0 = absl::FromUnixSeconds(1700000000);

class ConversationPgTest : public SessionPgTest {
 protected:
  // Ingests `texts` from a new customer on a new page, `step` apart; returns the conversation.
  std::string Converse(const std::vector<std::string>& texts,
                       absl::Duration step = absl::Seconds(1), const std::string& page = "") {
    const std::string p = page.empty() ? Unique("p") : page;
    const std::string user = Unique("u");
    std::string id;
    for (size_t i = 0; i < texts.size(); ++i) {
      auto r = ingest_.Ingest(TextBatch(p, user, Unique("m"), texts[i], kT0 + step * i));
      EXPECT_TRUE(r.ok()) << r.status();
      id = r->results(0).conversation_id();
    }
    return id;
  }
  void Assign(const std::string& id, int sequence = 1) {
    v1::ApplyRoutingUpdateRequest r;
    r.set_conversation_id(id);
    r.set_routing_event_id(NewUuid());
    r.set_routing_sequence(sequence);
    r.mutable_assigned()->set_agent_id(kAgent);
    r.mutable_assigned()->set_queue_id(kQueue);
    auto out = store_.ApplyRoutingUpdate(r);
    ASSERT_TRUE(out.ok()) << out.status();
    EXPECT_TRUE(out->applied());
  }
  absl::StatusOr<v1::Conversation> Move(const std::string& id, common::v1::ConversationState to,
                                        const std::string& agent = kAgent) {
    v1::ChangeConversationStateRequest r;
    r.set_conversation_id(id);
    r.set_state(to);
    r.set_agent_id(agent);
    return store_.ChangeState(r);
  }

  PgIngestStore ingest_{pool()};
  PgConversationStore store_{pool(), [] { return kT0 + absl::Hours(2); }};
};

TEST_F(ConversationPgTest, MessagesComeInProviderTimeOrderStableOnTiesAndPaged) {
  const std::string page = Unique("p"), user = Unique("u");
  std::string id;
  for (auto [text, offset] : std::vector<std::pair<std::string, int>>{
           {"late", 10}, {"tie-a", 5}, {"tie-b", 5}, {"early", 1}}) {
    auto r = ingest_.Ingest(TextBatch(page, user, Unique("m"), text, kT0 + absl::Seconds(offset)));
    ASSERT_TRUE(r.ok()) << r.status();
    id = r->results(0).conversation_id();
  }
  v1::GetConversationRequest req;
  req.set_conversation_id(id);
  req.set_message_page_size(3);
  auto first = store_.GetConversation(req);
  ASSERT_TRUE(first.ok()) << first.status();
  ASSERT_EQ(first->messages_size(), 3);
  EXPECT_EQ(first->messages(0).content().parts(0).text(), "early");
  EXPECT_EQ(first->messages(1).content().parts(0).text(), "tie-a");
  EXPECT_EQ(first->messages(2).content().parts(0).text(), "tie-b");
  EXPECT_EQ(first->messages(2).sequence(), 3);
  EXPECT_EQ(first->conversation().message_count(), 4);
  EXPECT_EQ(first->conversation().reply_window(), v1::REPLY_WINDOW_OPEN);
  EXPECT_EQ(TimeFromProto(first->conversation().reply_deadline()),
            kT0 + absl::Seconds(10) + absl::Hours(24));
  ASSERT_FALSE(first->next_message_page_token().empty());
  req.set_message_page_token(first->next_message_page_token());
  auto second = store_.GetConversation(req);
  ASSERT_TRUE(second.ok()) << second.status();
  ASSERT_EQ(second->messages_size(), 1);
  EXPECT_EQ(second->messages(0).content().parts(0).text(), "late");
  EXPECT_TRUE(second->next_message_page_token().empty());

  req.set_message_page_token("garbage");
  EXPECT_EQ(store_.GetConversation(req).status().message(),
            "message_page_token: not a token of this list");
}

TEST_F(ConversationPgTest, UnknownConversationIsNotFound) {
  v1::GetConversationRequest req;
  req.set_conversation_id("00000000-0000-4000-8000-000000000000");
  const absl::Status s = store_.GetConversation(req).status();
  EXPECT_EQ(s.code(), absl::StatusCode::kNotFound);
  EXPECT_EQ(s.message(), "conversation 00000000-0000-4000-8000-000000000000: not found");
}

TEST_F(ConversationPgTest, StatesFollowTheTransitionTableAndAreLogged) {
  const std::string id = Converse({"hello"});
  const std::string events = absl::StrCat(
      "SELECT count(*) FROM session.conversation_events WHERE conversation_id = '", id, "'");
  EXPECT_EQ(Count(events), 1);  // opened

  const absl::Status early = Move(id, CONVERSATION_STATE_WAITING, "").status();
  EXPECT_EQ(early.code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_EQ(early.message(),
            absl::StrCat("conversation ", id, ": cannot move from OPEN to WAITING"));
  EXPECT_EQ(Count(events), 1);  // nothing changed

  Assign(id);
  const absl::Status stranger =
      Move(id, CONVERSATION_STATE_WAITING, "b9e0b9e0-3f2a-4d1b-8c7e-0123456789ab").status();
  EXPECT_EQ(stranger.code(), absl::StatusCode::kPermissionDenied);
  for (auto to : {CONVERSATION_STATE_WAITING, CONVERSATION_STATE_ACTIVE, CONVERSATION_STATE_WRAP_UP,
                  CONVERSATION_STATE_CLOSED}) {
    auto c = Move(id, to);
    ASSERT_TRUE(c.ok()) << c.status();
    EXPECT_EQ(c->state(), to);
  }
  auto closed = Move(id, CONVERSATION_STATE_CLOSED);
  EXPECT_EQ(closed.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(closed.status().message(),
            absl::StrCat("state: conversation ", id, " is already CLOSED"));
  const absl::Status reopen = Move(id, CONVERSATION_STATE_ACTIVE).status();
  EXPECT_EQ(reopen.message(),
            absl::StrCat("conversation ", id, ": cannot move from CLOSED to ACTIVE"));
  EXPECT_EQ(Count(events), 6);
  v1::GetConversationRequest get;
  get.set_conversation_id(id);
  auto c = store_.GetConversation(get);
  ASSERT_TRUE(c.ok());
  EXPECT_EQ(c->conversation().close_reason(), v1::CLOSE_REASON_AGENT);
  EXPECT_EQ(c->conversation().agent_id(), kAgent);
  EXPECT_TRUE(c->conversation().has_close_time());
}

// The FinishConversationRequests waiting in the outbox for `id`.
std::vector<router::v1::FinishConversationRequest> FinishesFor(pg::Pool& pool,
                                                               const std::string& id) {
  std::vector<router::v1::FinishConversationRequest> out;
  absl::Status s = pool.Transact([&](pqxx::work& tx) -> absl::Status {
    for (const pqxx::row& r : tx.exec("SELECT encode(payload, 'hex') FROM session.outbox WHERE "
                                      "kind = 'finish_conversation' ORDER BY id")) {
      router::v1::FinishConversationRequest f;
      if (f.ParseFromString(Unhex(r[0].as<std::string>())) && f.conversation_id() == id) {
        out.push_back(f);
      }
    }
    return absl::OkStatus();
  });
  EXPECT_TRUE(s.ok()) << s;
  return out;
}

TEST_F(ConversationPgTest, ClosingTellsRouterToFinishThroughTheOutbox) {
  const std::string id = Converse({"hello"});
  Assign(id);
  ASSERT_TRUE(Move(id, CONVERSATION_STATE_WRAP_UP).ok());
  EXPECT_TRUE(FinishesFor(pool(), id).empty());  // wrap-up still holds the agent
  ASSERT_TRUE(Move(id, CONVERSATION_STATE_CLOSED).ok());
  const auto finishes = FinishesFor(pool(), id);
  ASSERT_EQ(finishes.size(), 1u);
  EXPECT_EQ(finishes[0].reason(), "closed by agent");
  EXPECT_TRUE(finishes[0].has_close_time());
}

TEST_F(ConversationPgTest, IdleConversationsCloseAfterTheirWorkStreamsTimeOnce) {
  auto route = [&](const std::string& id, absl::Duration auto_close) {
    v1::ApplyRoutingUpdateRequest r;
    r.set_conversation_id(id);
    r.set_routing_event_id(NewUuid());
    r.set_routing_sequence(1);
    r.mutable_auto_close_after()->set_seconds(absl::ToInt64Seconds(auto_close));
    r.mutable_auto_close_after()->set_nanos(
        static_cast<int32_t>(absl::ToInt64Nanoseconds(auto_close % absl::Seconds(1))));
    r.mutable_queued()->set_queue_id(kQueue);
    auto out = store_.ApplyRoutingUpdate(r);
    EXPECT_TRUE(out.ok()) << out.status();
    return out.ok() ? out->conversation() : v1::Conversation();
  };
  const std::string idle = Converse({"anyone?"});
  const std::string fresh = Converse({"hello"});
  const std::string never = Converse({"hi"});
  EXPECT_TRUE(route(idle, absl::Microseconds(1)).has_auto_close_time());
  const v1::Conversation f = route(fresh, absl::Hours(1));
  EXPECT_GE(absl::FromUnixSeconds(f.auto_close_time().seconds()),
            absl::FromUnixSeconds(f.update_time().seconds()) + absl::Minutes(59));
  EXPECT_FALSE(route(never, absl::ZeroDuration()).has_auto_close_time());

  auto closed = store_.CloseInactive(100);
  ASSERT_TRUE(closed.ok()) << closed.status();
  EXPECT_EQ(*closed, 1);
  v1::GetConversationRequest get;
  get.set_conversation_id(idle);
  auto c = store_.GetConversation(get);
  ASSERT_TRUE(c.ok()) << c.status();
  EXPECT_EQ(c->conversation().state(), CONVERSATION_STATE_CLOSED);
  EXPECT_EQ(c->conversation().close_reason(), v1::CLOSE_REASON_INACTIVITY);
  EXPECT_FALSE(c->conversation().has_auto_close_time());
  EXPECT_EQ(Query(absl::StrCat("SELECT reason FROM session.conversation_events WHERE "
                               "conversation_id = '",
                               idle, "' ORDER BY seq DESC LIMIT 1")),
            "closed after 0s without activity");
  ASSERT_EQ(FinishesFor(pool(), idle).size(), 1u);
  for (const std::string& open : {fresh, never}) {
    get.set_conversation_id(open);
    EXPECT_EQ(store_.GetConversation(get)->conversation().state(), CONVERSATION_STATE_OPEN);
    EXPECT_TRUE(FinishesFor(pool(), open).empty());
  }
  auto again = store_.CloseInactive(100);
  ASSERT_TRUE(again.ok());
  EXPECT_EQ(*again, 0);
  EXPECT_EQ(FinishesFor(pool(), idle).size(), 1u);
}

TEST_F(ConversationPgTest, ACustomerMessageResumesAWaitingConversation) {
  const std::string page = Unique("p"), user = Unique("u");
  auto first = ingest_.Ingest(TextBatch(page, user, Unique("m"), "hi"));
  ASSERT_TRUE(first.ok()) << first.status();
  const std::string id = first->results(0).conversation_id();
  Assign(id);
  ASSERT_TRUE(Move(id, CONVERSATION_STATE_WAITING).ok());
  ASSERT_TRUE(ingest_.Ingest(TextBatch(page, user, Unique("m"), "still there?")).ok());
  v1::GetConversationRequest get;
  get.set_conversation_id(id);
  EXPECT_EQ(store_.GetConversation(get)->conversation().state(), CONVERSATION_STATE_ACTIVE);
  EXPECT_EQ(Query(absl::StrCat("SELECT reason FROM session.conversation_events WHERE "
                               "conversation_id = '",
                               id, "' ORDER BY seq DESC LIMIT 1")),
            "the customer wrote");
}

TEST_F(ConversationPgTest, RoutingUpdatesAreIdempotentAndIgnoreStaleSequences) {
  const std::string id = Converse({"hi"});
  v1::ApplyRoutingUpdateRequest r;
  r.set_conversation_id(id);
  r.set_routing_event_id(NewUuid());
  r.set_routing_sequence(2);
  r.mutable_assigned()->set_agent_id(kAgent);
  auto first = store_.ApplyRoutingUpdate(r);
  ASSERT_TRUE(first.ok()) << first.status();
  EXPECT_TRUE(first->applied());
  EXPECT_EQ(first->conversation().state(), CONVERSATION_STATE_ACTIVE);
  auto repeat = store_.ApplyRoutingUpdate(r);
  ASSERT_TRUE(repeat.ok());
  EXPECT_FALSE(repeat->applied());
  r.set_routing_event_id(NewUuid());
  r.set_routing_sequence(1);
  r.mutable_queued()->set_queue_id(kQueue);
  auto stale = store_.ApplyRoutingUpdate(r);
  ASSERT_TRUE(stale.ok());
  EXPECT_FALSE(stale->applied());
  EXPECT_EQ(stale->conversation().state(), CONVERSATION_STATE_ACTIVE);
}

TEST_F(ConversationPgTest, ListsByAgentStateAndContact) {
  const std::string page = Unique("p");
  const std::string a = Converse({"a"}, absl::Seconds(1), page);
  const std::string b = Converse({"b"}, absl::Seconds(1), page);
  Assign(a);
  v1::ListConversationsRequest by_agent;
  by_agent.set_agent_id(kAgent);
  by_agent.set_endpoint_id(page);
  auto list = store_.ListConversations(by_agent);
  ASSERT_TRUE(list.ok()) << list.status();
  ASSERT_EQ(list->conversations_size(), 1);
  EXPECT_EQ(list->conversations(0).id(), a);

  v1::ListConversationsRequest open;
  open.set_endpoint_id(page);
  open.add_states(CONVERSATION_STATE_OPEN);
  list = store_.ListConversations(open);
  ASSERT_EQ(list->conversations_size(), 1);
  EXPECT_EQ(list->conversations(0).id(), b);

  v1::ListConversationsRequest by_contact;
  by_contact.set_contact_id(list->conversations(0).contact_id());
  list = store_.ListConversations(by_contact);
  ASSERT_EQ(list->conversations_size(), 1);
  EXPECT_EQ(list->conversations(0).id(), b);
}

TEST_F(ConversationPgTest, NotesAreAddedOnceAndListedInOrder) {
  const std::string id = Converse({"hi"});
  v1::AddNoteRequest add;
  add.set_conversation_id(id);
  add.set_author_agent_id(kAgent);
  add.set_text("customer is a VIP");
  add.set_request_id(NewUuid());
  auto note = store_.AddNote(add);
  ASSERT_TRUE(note.ok()) << note.status();
  auto again = store_.AddNote(add);
  ASSERT_TRUE(again.ok());
  EXPECT_EQ(again->id(), note->id());
  add.set_request_id("");
  add.set_text("second");
  ASSERT_TRUE(store_.AddNote(add).ok());
  v1::ListNotesRequest list;
  list.set_conversation_id(id);
  auto notes = store_.ListNotes(list);
  ASSERT_TRUE(notes.ok());
  ASSERT_EQ(notes->notes_size(), 2);
  EXPECT_EQ(notes->notes(0).text(), "customer is a VIP");
  EXPECT_EQ(notes->notes(1).text(), "second");

  add.set_conversation_id("00000000-0000-4000-8000-000000000000");
  EXPECT_EQ(store_.AddNote(add).status().code(), absl::StatusCode::kNotFound);
}

TEST_F(ConversationPgTest, TranscriptMergesMessagesNotesAndStateChanges) {
  const std::string id = Converse({"where is my parcel"});
  Assign(id);
  v1::AddNoteRequest add;
  add.set_conversation_id(id);
  add.set_author_agent_id(kAgent);
  add.set_text("checked the carrier");
  ASSERT_TRUE(store_.AddNote(add).ok());
  ASSERT_TRUE(Move(id, CONVERSATION_STATE_CLOSED).ok());
  v1::GetTranscriptRequest req;
  req.set_conversation_id(id);
  auto t = store_.GetTranscript(req);
  ASSERT_TRUE(t.ok()) << t.status();
  ASSERT_EQ(t->entries_size(), 5);
  EXPECT_TRUE(t->entries(0).has_message());  // provider time is before everything recorded
  EXPECT_EQ(t->entries(1).state_change().to_state(), CONVERSATION_STATE_OPEN);
  EXPECT_EQ(t->entries(2).state_change().to_state(), CONVERSATION_STATE_ACTIVE);
  EXPECT_EQ(t->entries(3).note().text(), "checked the carrier");
  EXPECT_EQ(t->entries(4).state_change().to_state(), CONVERSATION_STATE_CLOSED);
}

TEST_F(ConversationPgTest, FullTextSearchStemsAndFilters) {
  const std::string page = Unique("p");
  const std::string hit =
      Converse({"hello", "my order was shipped yesterday"}, absl::Hours(1), page);
  Converse({"nothing relevant here"}, absl::Seconds(1), page);
  v1::SearchTranscriptsRequest req;
  req.set_query("shipping");
  req.set_endpoint_id(page);
  auto found = store_.SearchTranscripts(req);
  ASSERT_TRUE(found.ok()) << found.status();
  ASSERT_EQ(found->results_size(), 1);
  const v1::TranscriptSearchResult& r = found->results(0);
  EXPECT_EQ(r.conversation().conversation_id(), hit);
  EXPECT_GT(r.score(), 0);
  EXPECT_EQ(r.matched_message_ids_size(), 1);
  EXPECT_EQ(r.snippet(), "my order was shipped yesterday");
  ASSERT_EQ(r.highlights_size(), 1);
  EXPECT_EQ(r.highlights(0).start(), 13);
  EXPECT_EQ(r.highlights(0).length(), 7);

  // The date range applies to the matching messages.
  SetTimestamp(kT0 + absl::Hours(2), req.mutable_start_time());
  EXPECT_EQ(store_.SearchTranscripts(req)->results_size(), 0);
  req.clear_start_time();
  SetTimestamp(kT0 + absl::Minutes(30), req.mutable_start_time());
  SetTimestamp(kT0 + absl::Minutes(90), req.mutable_end_time());
  EXPECT_EQ(store_.SearchTranscripts(req)->results_size(), 1);
  // So does the channel.
  req.set_channel(common::v1::CHANNEL_WHATSAPP);
  EXPECT_EQ(store_.SearchTranscripts(req)->results_size(), 0);
  req.set_channel(common::v1::CHANNEL_MESSENGER);
  EXPECT_EQ(store_.SearchTranscripts(req)->results_size(), 1);
  // Without a query every conversation of the page matches, newest first.
  v1::SearchTranscriptsRequest all;
  all.set_endpoint_id(page);
  EXPECT_EQ(store_.SearchTranscripts(all)->results_size(), 2);
}

}  // namespace
}  // namespace parley::session

// IngestService's store on a real PostgreSQL: exactly-once storage, dead letters, per-customer
// serialization, reopening after close, status ordering, and all-or-nothing batches.
#include <functional>
#include <thread>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "parley/router/v1/router.pb.h"
#include "services/session/pg_conversation_store.h"
#include "services/session/pg_ingest_store.h"
#include "services/session/rows.h"
#include "services/session/session_fixture.h"

namespace parley::session {
namespace {

using v1::INGEST_OUTCOME_DEAD_LETTERED;
using v1::INGEST_OUTCOME_DUPLICATE;
using v1::INGEST_OUTCOME_STORED;

class IngestPgTest : public SessionPgTest {
 protected:
  v1::IngestResponse MustIngest(const v1::IngestRequest& batch) {
    absl::StatusOr<v1::IngestResponse> r = store_.Ingest(batch);
    EXPECT_TRUE(r.ok()) << r.status();
    return r.ok() ? *r : v1::IngestResponse();
  }
  int CountFor(const std::string& table, const std::string& page) {
    return Count(
        absl::StrCat("SELECT count(*) FROM session.", table, " WHERE endpoint_id = '", page, "'"));
  }
  // Three texts of one customer; the middle one is dated beyond what timestamptz holds, a value
  // only PostgreSQL refuses.
  v1::IngestRequest BatchWithAFarFutureMiddle(const std::string& page, const std::string& user) {
    v1::IngestRequest batch = TextBatch(page, user, Unique("m"), "fine");
    v1::InboundEvent* odd = AddText(&batch, user, Unique("m"), "from the far future");
    odd->mutable_provider_time()->set_seconds(int64_t{100000000000000});
    AddText(&batch, user, Unique("m"), "also fine");
    return batch;
  }
  // Ingests make(i) for i in [0, n) from n threads at once, through the fixture's store or, with
  // `store_per_call`, a store of each call's own; the results in call order.
  std::vector<absl::StatusOr<v1::IngestResponse>> IngestConcurrently(
      int n, const std::function<v1::IngestRequest(int)>& make, bool store_per_call = false) {
    std::vector<absl::StatusOr<v1::IngestResponse>> results(n, absl::UnknownError("not run"));
    std::vector<std::thread> threads;
    for (int i = 0; i < n; ++i) {
      threads.emplace_back([&, i] {
        if (!store_per_call) {
          results[i] = store_.Ingest(make(i));
          return;
        }
        PgIngestStore own(pool());
        results[i] = own.Ingest(make(i));
      });
    }
    for (auto& t : threads) t.join();
    return results;
  }
  // The 16 concurrent ingests of one new customer stored every message in one conversation.
  void ExpectSixteenInOneConversation(
      const std::string& page, const std::vector<absl::StatusOr<v1::IngestResponse>>& results) {
    int opened = 0;
    for (const auto& r : results) {
      ASSERT_TRUE(r.ok()) << r.status();
      EXPECT_EQ(r->results(0).outcome(), INGEST_OUTCOME_STORED);
      opened += r->results(0).conversation_opened();
    }
    EXPECT_EQ(opened, 1);
    EXPECT_EQ(CountFor("conversations", page), 1);
    EXPECT_EQ(CountFor("messages", page), 16);
    EXPECT_EQ(
        Count(absl::StrCat("SELECT message_count FROM session.conversations WHERE endpoint_id='",
                           page, "'")),
        16);
  }

  PgIngestStore store_{pool()};
};

TEST_F(IngestPgTest, FirstMessageCreatesContactConversationAndRouteOutboxRow) {
  const std::string page = Unique("p"), user = Unique("u");
  const absl::Time t = absl::FromUnixSeconds(1700000000);
  const v1::IngestResponse r = MustIngest(TextBatch(page, user, Unique("m"), "hello", t));
  ASSERT_EQ(r.results_size(), 1);
  EXPECT_EQ(r.results(0).outcome(), INGEST_OUTCOME_STORED);
  EXPECT_TRUE(r.results(0).conversation_opened());
  const std::string conversation = r.results(0).conversation_id();
  EXPECT_EQ(Query(absl::StrCat("SELECT state FROM session.conversations WHERE id = '", conversation,
                               "'")),
            "1");
  EXPECT_EQ(Query(absl::StrCat("SELECT session.us(reply_deadline) FROM session.conversations "
                               "WHERE id = '",
                               conversation, "'")),
            absl::StrCat(absl::ToUnixMicros(t + absl::Hours(24))));
  EXPECT_EQ(Query(absl::StrCat("SELECT search_config::text FROM session.conversations WHERE id = '",
                               conversation, "'")),
            "english");
  // The route row carries what router needs.
  const std::string hex = Query(absl::StrCat(
      "SELECT encode(payload, 'hex') FROM session.outbox WHERE kind = 'route_conversation' AND "
      "payload = payload AND position(decode('",
      Hex(conversation), "', 'hex') in payload) > 0"));
  router::v1::EnqueueConversationRequest route;
  ASSERT_TRUE(route.ParseFromString(Unhex(hex)));
  EXPECT_EQ(route.conversation_id(), conversation);
  EXPECT_EQ(route.context().user_id(), user);
  EXPECT_EQ(route.context().first_message_text(), "hello");
  EXPECT_EQ(route.context().customer_name(), "Ada Lovelace");
  EXPECT_EQ(route.work_stream_id(), "8a1f0b9e-3f2a-4d1b-8c7e-0123456789ab");
}

TEST_F(IngestPgTest, ReplayingABatchStoresNothingNew) {
  const std::string page = Unique("p"), user = Unique("u");
  v1::IngestRequest batch = TextBatch(page, user, Unique("m"), "one");
  AddText(&batch, user, Unique("m"), "two");
  AddText(&batch, Unique("u"), Unique("m"), "three");
  const v1::IngestResponse first = MustIngest(batch);
  for (const auto& r : first.results()) EXPECT_EQ(r.outcome(), INGEST_OUTCOME_STORED);
  const int messages = CountFor("messages", page);
  const int conversations = CountFor("conversations", page);
  const int outbox = Count("SELECT count(*) FROM session.outbox");
  const v1::IngestResponse again = MustIngest(batch);
  ASSERT_EQ(again.results_size(), 3);
  for (int i = 0; i < 3; ++i) {
    EXPECT_EQ(again.results(i).outcome(), INGEST_OUTCOME_DUPLICATE) << i;
    EXPECT_EQ(again.results(i).message_id(), first.results(i).message_id()) << i;
  }
  EXPECT_EQ(messages, 3);
  EXPECT_EQ(conversations, 2);
  EXPECT_EQ(CountFor("messages", page), messages);
  EXPECT_EQ(CountFor("conversations", page), conversations);
  EXPECT_EQ(Count("SELECT count(*) FROM session.outbox"), outbox);
}

TEST_F(IngestPgTest, PoisonEventsAreDeadLetteredWhileTheRestOfTheBatchIsStored) {
  const std::string page = Unique("p"), user = Unique("u");
  v1::IngestRequest batch = TextBatch(page, user, Unique("m"), "first");
  AddText(&batch, user, Unique("m"), std::string("a\0b\0c", 5));  // repaired: NULs dropped
  v1::InboundEvent* status = batch.add_events();                  // refers to nothing
  status->set_dedup_key("status:SMnope:delivered");
  *status->mutable_endpoint() = batch.endpoints(0).endpoint();
  status->mutable_customer()->set_user_id(user);
  status->set_raw_event("MessageSid=SMnope&MessageStatus=delivered");
  status->mutable_status()->set_provider_message_id("SMnope");
  status->mutable_status()->set_status(common::v1::DELIVERY_STATUS_DELIVERED);
  v1::InboundEvent* sticker = AddText(&batch, user, Unique("m"), "x");  // NUL outside text
  sticker->mutable_message()->mutable_content()->add_parts()->mutable_sticker()->set_sticker_id(
      std::string("36\0", 3));

  const v1::IngestResponse r = MustIngest(batch);
  ASSERT_EQ(r.results_size(), 4);
  EXPECT_EQ(r.results(0).outcome(), INGEST_OUTCOME_STORED);
  EXPECT_EQ(r.results(1).outcome(), INGEST_OUTCOME_STORED);
  EXPECT_EQ(r.results(2).outcome(), INGEST_OUTCOME_DEAD_LETTERED);
  EXPECT_EQ(r.results(2).detail(), "status callback refers to unknown message SMnope");
  EXPECT_EQ(r.results(3).outcome(), INGEST_OUTCOME_DEAD_LETTERED);
  EXPECT_EQ(r.results(3).detail(), "content holds a NUL character outside text");
  EXPECT_EQ(Query(absl::StrCat("SELECT body_text FROM session.messages WHERE id = '",
                               r.results(1).message_id(), "'")),
            "abc");
  EXPECT_EQ(Query(absl::StrCat("SELECT convert_from(raw_event, 'UTF8') FROM session.dead_letters "
                               "WHERE id = '",
                               r.results(2).dead_letter_id(), "'")),
            "MessageSid=SMnope&MessageStatus=delivered");
  EXPECT_EQ(CountFor("dead_letters", page), 2);
  // A replay dead-letters nothing twice.
  const v1::IngestResponse again = MustIngest(batch);
  for (const auto& e : again.results()) EXPECT_EQ(e.outcome(), INGEST_OUTCOME_DUPLICATE);
  EXPECT_EQ(CountFor("dead_letters", page), 2);
}

TEST_F(IngestPgTest, AValuePostgresqlRefusesDeadLettersOnlyItsEvent) {
  const std::string page = Unique("p"), user = Unique("u");
  const v1::IngestResponse r = MustIngest(BatchWithAFarFutureMiddle(page, user));
  ASSERT_EQ(r.results_size(), 3);
  EXPECT_EQ(r.results(0).outcome(), INGEST_OUTCOME_STORED);
  EXPECT_EQ(r.results(1).outcome(), INGEST_OUTCOME_DEAD_LETTERED);
  EXPECT_TRUE(absl::StartsWith(r.results(1).detail(), "postgresql refused the event: "))
      << r.results(1).detail();
  EXPECT_EQ(r.results(2).outcome(), INGEST_OUTCOME_STORED);
  EXPECT_EQ(CountFor("messages", page), 2);
  EXPECT_EQ(CountFor("dead_letters", page), 1);
}

TEST_F(IngestPgTest, SixteenConcurrentIngestsForANewCustomerOpenOneConversation) {
  const std::string page = Unique("p"), user = Unique("u");
  const auto results = IngestConcurrently(
      16, [&](int i) { return TextBatch(page, user, Unique("m"), absl::StrCat("msg ", i)); },
      /*store_per_call=*/true);
  ExpectSixteenInOneConversation(page, results);
  EXPECT_EQ(Count(absl::StrCat("SELECT count(*) FROM session.contacts ct JOIN "
                               "session.channel_identities i ON i.contact_id = ct.id WHERE "
                               "i.endpoint_id = '",
                               page, "'")),
            1);
}

// The fast path: once a customer's live conversation is remembered, the messages of a group go
// in by one statement, with the outcomes storing them one by one would give.
TEST_F(IngestPgTest, ARememberedConversationTakesAWholeBatchAtOnce) {
  const std::string page = Unique("p"), user = Unique("u"), mid = Unique("m");
  const absl::Time t = absl::FromUnixSeconds(1700000000);
  const v1::IngestResponse first = MustIngest(TextBatch(page, user, mid, "hi", t));
  const std::string conversation = first.results(0).conversation_id();
  v1::IngestRequest batch = TextBatch(page, user, Unique("m"), "one", t + absl::Seconds(1));
  AddText(&batch, user, Unique("m"), "three", t + absl::Seconds(3));
  AddText(&batch, user, mid, "hi again", t + absl::Seconds(9));  // the first message's key
  AddText(&batch, user, Unique("m"), "two", t + absl::Seconds(2));
  const v1::IngestResponse r = MustIngest(batch);
  ASSERT_EQ(r.results_size(), 4);
  for (int i : {0, 1, 3}) {
    EXPECT_EQ(r.results(i).outcome(), INGEST_OUTCOME_STORED) << i;
    EXPECT_EQ(r.results(i).conversation_id(), conversation) << i;
    EXPECT_FALSE(r.results(i).conversation_opened()) << i;
  }
  EXPECT_EQ(r.results(2).outcome(), INGEST_OUTCOME_DUPLICATE);
  EXPECT_EQ(r.results(2).message_id(), first.results(0).message_id());
  EXPECT_EQ(CountFor("messages", page), 4);
  const std::string where =
      absl::StrCat(" FROM session.conversations WHERE id = '", conversation, "'");
  EXPECT_EQ(Count(absl::StrCat("SELECT message_count", where)), 4);
  EXPECT_EQ(Query(absl::StrCat("SELECT session.us(last_customer_message_at)", where)),
            absl::StrCat(absl::ToUnixMicros(t + absl::Seconds(3))));
  EXPECT_EQ(Query(absl::StrCat("SELECT session.us(reply_deadline)", where)),
            absl::StrCat(absl::ToUnixMicros(t + absl::Seconds(3) + absl::Hours(24))));
  EXPECT_EQ(Query(absl::StrCat("SELECT body_text FROM session.messages WHERE id = '",
                               r.results(3).message_id(), "'")),
            "two");
}

TEST_F(IngestPgTest, AValuePostgresqlRefusesInARememberedConversationDeadLettersOnlyItsEvent) {
  const std::string page = Unique("p"), user = Unique("u");
  MustIngest(TextBatch(page, user, Unique("m"), "hi"));
  const v1::IngestResponse r = MustIngest(BatchWithAFarFutureMiddle(page, user));
  ASSERT_EQ(r.results_size(), 3);
  EXPECT_EQ(r.results(0).outcome(), INGEST_OUTCOME_STORED);
  EXPECT_EQ(r.results(1).outcome(), INGEST_OUTCOME_DEAD_LETTERED);
  EXPECT_EQ(r.results(2).outcome(), INGEST_OUTCOME_STORED);
  EXPECT_EQ(CountFor("messages", page), 3);
  EXPECT_EQ(CountFor("dead_letters", page), 1);
}

TEST_F(IngestPgTest, AMessageInAnAssignedConversationTellsTheAgentThroughTheOutbox) {
  const std::string page = Unique("p"), user = Unique("u");
  const std::string conversation =
      MustIngest(TextBatch(page, user, Unique("m"), "hi")).results(0).conversation_id();
  PgConversationStore conversations(pool());
  v1::ApplyRoutingUpdateRequest assign;
  assign.set_conversation_id(conversation);
  assign.set_routing_event_id(NewUuid());
  assign.set_routing_sequence(1);
  assign.mutable_assigned()->set_agent_id("agent-7");
  assign.mutable_assigned()->set_queue_id("queue-1");
  ASSERT_TRUE(conversations.ApplyRoutingUpdate(assign).ok());
  // The remembered conversation has no agent: the first message finds the assignment, the
  // second uses the conversation remembered with it.
  for (const char* text : {"where is it?", "hello?"}) {
    const v1::IngestResponse r = MustIngest(TextBatch(page, user, Unique("m"), text));
    ASSERT_EQ(r.results(0).outcome(), INGEST_OUTCOME_STORED);
    EXPECT_EQ(r.results(0).conversation_id(), conversation);
    const std::string hex = Query(absl::StrCat(
        "SELECT encode(payload, 'hex') FROM session.outbox WHERE kind = 'agent_message' AND "
        "position(decode('",
        Hex(r.results(0).message_id()), "', 'hex') in payload) > 0"));
    router::v1::PublishConversationEventRequest event;
    ASSERT_TRUE(event.ParseFromString(Unhex(hex))) << text;
    EXPECT_EQ(event.conversation_id(), conversation);
    EXPECT_EQ(event.customer_message().message_id(), r.results(0).message_id());
    EXPECT_EQ(event.customer_message().content().parts(0).text(), text);
  }
}

// Group commit: concurrent calls on one store share transactions.
TEST_F(IngestPgTest, GroupCommitDeadLettersOnlyTheCallPostgresqlRefuses) {
  const std::string page = Unique("p");
  constexpr int kCalls = 24;
  constexpr int kOdd = 7;
  const auto results = IngestConcurrently(kCalls, [&](int i) {
    v1::IngestRequest batch = TextBatch(page, Unique("u"), Unique("m"), absl::StrCat("msg ", i));
    if (i == kOdd) {
      batch.mutable_events(0)->mutable_provider_time()->set_seconds(
          int64_t{100000000000000});  // beyond timestamptz
    }
    return batch;
  });
  for (int i = 0; i < kCalls; ++i) {
    ASSERT_TRUE(results[i].ok()) << results[i].status();
    ASSERT_EQ(results[i]->results_size(), 1);
    EXPECT_EQ(results[i]->results(0).outcome(),
              i == kOdd ? INGEST_OUTCOME_DEAD_LETTERED : INGEST_OUTCOME_STORED)
        << i;
  }
  EXPECT_TRUE(
      absl::StartsWith(results[kOdd]->results(0).detail(), "postgresql refused the event: "))
      << results[kOdd]->results(0).detail();
  EXPECT_EQ(CountFor("messages", page), kCalls - 1);
  EXPECT_EQ(CountFor("conversations", page), kCalls - 1);
  EXPECT_EQ(CountFor("dead_letters", page), 1);
}

TEST_F(IngestPgTest, GroupCommitStoresConcurrentCallsWithOneDedupKeyOnce) {
  const std::string page = Unique("p"), user = Unique("u"), mid = Unique("m");
  constexpr int kCalls = 16;
  const auto results =
      IngestConcurrently(kCalls, [&](int) { return TextBatch(page, user, mid, "same"); });
  int stored = 0;
  std::string message_id;
  for (const auto& r : results) {
    ASSERT_TRUE(r.ok()) << r.status();
    ASSERT_EQ(r->results_size(), 1);
    if (r->results(0).outcome() == INGEST_OUTCOME_STORED) {
      ++stored;
      message_id = r->results(0).message_id();
    } else {
      EXPECT_EQ(r->results(0).outcome(), INGEST_OUTCOME_DUPLICATE);
    }
  }
  EXPECT_EQ(stored, 1);
  for (const auto& r : results) EXPECT_EQ(r->results(0).message_id(), message_id);
  EXPECT_EQ(CountFor("messages", page), 1);
  EXPECT_EQ(CountFor("conversations", page), 1);
}

TEST_F(IngestPgTest, GroupCommitStoresConcurrentCallsWithOneDedupKeyOnceInARememberedConversation) {
  const std::string page = Unique("p"), user = Unique("u"), mid = Unique("m");
  MustIngest(TextBatch(page, user, Unique("m"), "first"));
  constexpr int kCalls = 16;
  const auto results =
      IngestConcurrently(kCalls, [&](int) { return TextBatch(page, user, mid, "same"); });
  int stored = 0;
  for (const auto& r : results) {
    ASSERT_TRUE(r.ok()) << r.status();
    stored += r->results(0).outcome() == INGEST_OUTCOME_STORED;
    EXPECT_EQ(r->results(0).message_id(), results[0]->results(0).message_id());
  }
  EXPECT_EQ(stored, 1);
  EXPECT_EQ(CountFor("messages", page), 2);
  EXPECT_EQ(Count(absl::StrCat(
                "SELECT message_count FROM session.conversations WHERE endpoint_id='", page, "'")),
            2);
}

TEST_F(IngestPgTest, GroupCommitStoresConcurrentMessagesOfOneRememberedCustomerInOneConversation) {
  const std::string page = Unique("p"), user = Unique("u");
  MustIngest(TextBatch(page, user, Unique("m"), "first"));
  const auto results = IngestConcurrently(
      15, [&](int i) { return TextBatch(page, user, Unique("m"), absl::StrCat("msg ", i)); });
  for (const auto& r : results) {
    ASSERT_TRUE(r.ok()) << r.status();
    EXPECT_EQ(r->results(0).outcome(), INGEST_OUTCOME_STORED);
    EXPECT_FALSE(r->results(0).conversation_opened());
  }
  EXPECT_EQ(CountFor("conversations", page), 1);
  EXPECT_EQ(CountFor("messages", page), 16);
  EXPECT_EQ(Count(absl::StrCat(
                "SELECT message_count FROM session.conversations WHERE endpoint_id='", page, "'")),
            16);
}

TEST_F(IngestPgTest, GroupCommitOpensOneConversationForSixteenConcurrentCalls) {
  const std::string page = Unique("p"), user = Unique("u");
  const auto results = IngestConcurrently(
      16, [&](int i) { return TextBatch(page, user, Unique("m"), absl::StrCat("msg ", i)); });
  ExpectSixteenInOneConversation(page, results);
}

TEST_F(IngestPgTest, AMessageAfterCloseOpensANewConversationForTheSameContact) {
  const std::string page = Unique("p"), user = Unique("u");
  const v1::IngestResponse first = MustIngest(TextBatch(page, user, Unique("m"), "hi"));
  const std::string old_id = first.results(0).conversation_id();
  PgConversationStore conversations(pool());
  v1::ChangeConversationStateRequest close;
  close.set_conversation_id(old_id);
  close.set_state(common::v1::CONVERSATION_STATE_CLOSED);
  ASSERT_TRUE(conversations.ChangeState(close).ok());

  const v1::IngestResponse second = MustIngest(TextBatch(page, user, Unique("m"), "back again"));
  EXPECT_TRUE(second.results(0).conversation_opened());
  EXPECT_NE(second.results(0).conversation_id(), old_id);
  EXPECT_EQ(Count(absl::StrCat("SELECT count(DISTINCT contact_id) FROM session.conversations "
                               "WHERE endpoint_id = '",
                               page, "'")),
            1);
  // And a message while it is open continues it.
  const v1::IngestResponse third = MustIngest(TextBatch(page, user, Unique("m"), "more"));
  EXPECT_FALSE(third.results(0).conversation_opened());
  EXPECT_EQ(third.results(0).conversation_id(), second.results(0).conversation_id());
}

TEST_F(IngestPgTest, DeliveryStatusesNeverMoveBackwards) {
  const std::string page = Unique("p"), user = Unique("u");
  const absl::Time t = absl::FromUnixSeconds(1700000000);
  MustIngest(TextBatch(page, user, Unique("m"), "hi", t));
  // The page answered from its inbox: an echo Parley did not send.
  v1::IngestRequest echo = TextBatch(page, user, "unused", "unused", t + absl::Seconds(5));
  v1::InboundEvent* ev = echo.mutable_events(0);
  ev->set_dedup_key("echo:mid.out");
  v1::EchoEvent* e = ev->mutable_echo();
  e->set_provider_message_id("mid.out");
  e->mutable_content()->add_parts()->set_text("we shipped it");
  const v1::IngestResponse stored = MustIngest(echo);
  ASSERT_EQ(stored.results(0).outcome(), INGEST_OUTCOME_STORED);
  const std::string message = stored.results(0).message_id();
  auto status_of = [&] {
    return Query(
        absl::StrCat("SELECT delivery_status FROM session.messages WHERE id = '", message, "'"));
  };
  EXPECT_EQ(status_of(), "4");  // SENT

  auto receipt = [&](bool read, int64_t watermark_s) {
    v1::IngestRequest b = TextBatch(page, user, "unused", "unused", t);
    v1::InboundEvent* r = b.mutable_events(0);
    r->set_dedup_key(absl::StrCat(read ? "read:" : "delivery:", user, ":", watermark_s));
    google::protobuf::Timestamp* w =
        read ? r->mutable_read()->mutable_watermark() : r->mutable_delivery()->mutable_watermark();
    w->set_seconds(watermark_s);
    return MustIngest(b).results(0);
  };
  EXPECT_EQ(receipt(true, 1700000010).outcome(), INGEST_OUTCOME_STORED);
  EXPECT_EQ(status_of(), "6");  // READ
  const v1::IngestEventResult late = receipt(false, 1700000011);
  EXPECT_EQ(late.outcome(), INGEST_OUTCOME_DUPLICATE);
  EXPECT_EQ(status_of(), "6");
  // A receipt older than every message Parley knows refers to nothing.
  EXPECT_EQ(receipt(false, 1600000000).outcome(), INGEST_OUTCOME_DEAD_LETTERED);

  v1::IngestRequest failed = TextBatch(page, user, "unused", "unused", t);
  v1::InboundEvent* f = failed.mutable_events(0);
  f->set_dedup_key("status:mid.out:failed");
  f->mutable_status()->set_provider_message_id("mid.out");
  f->mutable_status()->set_status(common::v1::DELIVERY_STATUS_FAILED);
  EXPECT_EQ(MustIngest(failed).results(0).outcome(), INGEST_OUTCOME_DUPLICATE);
  EXPECT_EQ(status_of(), "6");
  EXPECT_NE(Query(absl::StrCat("SELECT session.us(read_at) FROM session.messages WHERE id = '",
                               message, "'")),
            "");
}

TEST_F(IngestPgTest, ABatchCutOffMidwayStoresNothing) {
  const std::string page = Unique("p");
  v1::IngestRequest batch = TextBatch(page, Unique("u"), Unique("m"), "one");
  AddText(&batch, Unique("u"), Unique("m"), "two");
  // Another session holds the outbox, so the batch stops at its first outbox row; then its
  // connection is cut, as when PostgreSQL goes away mid-batch.
  pqxx::connection blocker(uri());
  pqxx::work lock(blocker);
  lock.exec("LOCK TABLE session.outbox IN ACCESS EXCLUSIVE MODE");
  absl::StatusOr<v1::IngestResponse> result = absl::UnknownError("not run");
  std::thread ingest([&] { result = store_.Ingest(batch); });
  bool cut = false;
  for (int i = 0; i < 6000 && !cut; ++i) {
    // pg_stat_activity is a snapshot kept for the whole transaction unless cleared.
    lock.exec("SELECT pg_stat_clear_snapshot()");
    cut = !lock.exec(
                   "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                   "WHERE wait_event_type = 'Lock' AND query LIKE '%session.outbox%' "
                   "AND pid <> pg_backend_pid()")
               .empty();
    if (!cut) std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  lock.abort();  // before joining: an ingest never cut would otherwise wait for ever
  ingest.join();
  ASSERT_TRUE(cut) << "the ingest never waited for the outbox lock";
  EXPECT_EQ(result.status().code(), absl::StatusCode::kUnavailable) << result.status();
  EXPECT_EQ(CountFor("messages", page), 0);
  EXPECT_EQ(CountFor("conversations", page), 0);
  EXPECT_EQ(CountFor("channel_identities", page), 0);
  // The provider's retry then stores the whole batch.
  const v1::IngestResponse retried = MustIngest(batch);
  EXPECT_EQ(retried.results(0).outcome(), INGEST_OUTCOME_STORED);
  EXPECT_EQ(retried.results(1).outcome(), INGEST_OUTCOME_STORED);
  EXPECT_EQ(CountFor("messages", page), 2);
}

}  // namespace
}  // namespace parley::session

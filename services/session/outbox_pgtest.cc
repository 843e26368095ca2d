// The outbox relay on a real PostgreSQL: retries with backoff until the consumer accepts,
// deletes only then, and with two relays at once hands every row over exactly once.
#include <mutex>
#include <set>
#include <thread>

#include "absl/strings/str_cat.h"
#include "services/session/outbox_relay.h"
#include "services/session/session_fixture.h"

namespace parley::session {
namespace {

class FakeConsumer : public OutboxConsumer {
 public:
  explicit FakeConsumer(int failures) : failures_(failures) {}
  absl::Status Deliver(const OutboxRow& row) override {
    std::lock_guard<std::mutex> lock(mu_);
    seen.push_back(row.id);
    if (failures_ > 0) {
      --failures_;
      return absl::UnavailableError("router down");
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(2));
    return absl::OkStatus();
  }
  std::vector<std::string> seen;

 private:
  std::mutex mu_;
  int failures_;
};

class OutboxPgTest : public SessionPgTest {
 protected:
  void SetUp() override {
    Query("WITH d AS (DELETE FROM session.outbox RETURNING 1) SELECT count(*) FROM d");
  }
  std::string Insert(const std::string& kind) {
    return Query(absl::StrCat("INSERT INTO session.outbox (kind, payload) VALUES ('", kind,
                              "', 'x') RETURNING id"));
  }
};

TEST_F(OutboxPgTest, RetriesWithBackoffAndDeletesOnlyAfterSuccess) {
  FakeConsumer consumer(/*failures=*/2);
  OutboxRelay relay(pool(), {{"test_kind", &consumer}},
                    {.initial_backoff = absl::Seconds(30), .max_backoff = absl::Minutes(2)},
                    nullptr);
  const std::string id = Insert("test_kind");
  auto round = relay.RunOnce();
  ASSERT_TRUE(round.ok()) << round.status();
  EXPECT_EQ(*round, 0);
  EXPECT_EQ(Query("SELECT attempts FROM session.outbox"), "1");
  EXPECT_EQ(Query("SELECT last_error FROM session.outbox"), "UNAVAILABLE: router down");
  EXPECT_EQ(Count("SELECT round(extract(epoch FROM next_attempt_at - now()))::int "
                  "FROM session.outbox"),
            30);
  // Not due yet: nothing is handed over.
  EXPECT_EQ(*relay.RunOnce(), 0);
  EXPECT_EQ(consumer.seen.size(), 1u);
  Query(
      "WITH u AS (UPDATE session.outbox SET next_attempt_at = now() RETURNING 1) "
      "SELECT count(*) FROM u");
  EXPECT_EQ(*relay.RunOnce(), 0);
  EXPECT_EQ(Count("SELECT round(extract(epoch FROM next_attempt_at - now()))::int "
                  "FROM session.outbox"),
            60);
  Query(
      "WITH u AS (UPDATE session.outbox SET next_attempt_at = now() RETURNING 1) "
      "SELECT count(*) FROM u");
  EXPECT_EQ(*relay.RunOnce(), 1);
  EXPECT_EQ(Count("SELECT count(*) FROM session.outbox"), 0);
  EXPECT_EQ(consumer.seen, std::vector<std::string>({id, id, id}));
}

TEST_F(OutboxPgTest, UnknownKindsWaitInsteadOfBeingDropped) {
  OutboxRelay relay(pool(), {}, {}, nullptr);
  Insert("mystery");
  EXPECT_EQ(*relay.RunOnce(), 0);
  EXPECT_EQ(Query("SELECT last_error FROM session.outbox"),
            "UNIMPLEMENTED: no consumer for outbox kind 'mystery'");
}

TEST_F(OutboxPgTest, TwoRelaysHandEveryRowOverExactlyOnce) {
  for (int i = 0; i < 40; ++i) Insert("test_kind");
  FakeConsumer a(0), b(0);
  OutboxRelay ra(pool(), {{"test_kind", &a}}, {.batch_size = 5}, nullptr);
  OutboxRelay rb(pool(), {{"test_kind", &b}}, {.batch_size = 5}, nullptr);
  auto drain = [](OutboxRelay& r) {
    for (int i = 0; i < 40; ++i) ASSERT_TRUE(r.RunOnce().ok());
  };
  std::thread ta([&] { drain(ra); });
  std::thread tb([&] { drain(rb); });
  ta.join();
  tb.join();
  std::set<std::string> all(a.seen.begin(), a.seen.end());
  all.insert(b.seen.begin(), b.seen.end());
  EXPECT_EQ(a.seen.size() + b.seen.size(), 40u);
  EXPECT_EQ(all.size(), 40u);
  EXPECT_GT(a.seen.size(), 0u);
  EXPECT_GT(b.seen.size(), 0u);
  EXPECT_EQ(Count("SELECT count(*) FROM session.outbox"), 0);
}

TEST_F(OutboxPgTest, TheLoopDeliversInTheBackground) {
  FakeConsumer consumer(0);
  OutboxRelay relay(pool(), {{"test_kind", &consumer}}, {.poll_interval = absl::Milliseconds(20)},
                    nullptr);
  relay.Start();
  Insert("test_kind");
  for (int i = 0; i < 500 && Count("SELECT count(*) FROM session.outbox") > 0; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  relay.Stop();
  EXPECT_EQ(Count("SELECT count(*) FROM session.outbox"), 0);
  EXPECT_EQ(consumer.seen.size(), 1u);
}

}  // namespace
}  // namespace parley::session

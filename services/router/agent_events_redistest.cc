// The agent event stream against a real Redis and a real gRPC server on a free port: catch-up
// after an id, live tail, trimming (OUT_OF_RANGE), several streams of one agent, cancellation,
// shutdown, a Redis restart, and PublishConversationEvent's idempotency. Waits are for
// conditions, with deadlines; nothing asserts how long anything took.
#include <condition_variable>
#include <memory>
#include <mutex>
#include <optional>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "grpcpp/grpcpp.h"
#include "gtest/gtest.h"
#include "libs/common/executor.h"
#include "libs/grpc/server_runner.h"
#include "libs/testing/metrics.h"
#include "libs/testing/servers.h"
#include "prometheus/metric_family.h"
#include "prometheus/registry.h"
#include "services/router/agent_event_hub.h"
#include "services/router/agent_event_log.h"
#include "services/router/agent_event_service.h"
#include "services/router/engine/redis_engine.h"
#include "services/router/engine/util.h"
#include "services/router/router_metrics.h"

namespace parley::router {
namespace {

using ::testing::ElementsAre;
using ::testing::ElementsAreArray;

constexpr char kAgent[] = "00000000-0000-4000-8000-00000000000a";
constexpr char kOtherAgent[] = "00000000-0000-4000-8000-00000000000b";
constexpr char kUnknownAgent[] = "00000000-0000-4000-8000-0000000000ff";
constexpr absl::Duration kWait = absl::Seconds(30);

class FixedDefinitions : public RoutingDefinitions {
 public:
  FixedDefinitions() {
    auto snapshot = std::make_shared<RoutingSnapshot>();
    for (const char* id : {kAgent, kOtherAgent}) snapshot->agents[id].set_id(id);
    snapshot_ = snapshot;
  }
  std::shared_ptr<const RoutingSnapshot> Current() const override {
    std::lock_guard<std::mutex> lock(mu_);
    return snapshot_;
  }
  void Set(std::shared_ptr<const RoutingSnapshot> snapshot) {
    std::lock_guard<std::mutex> lock(mu_);
    snapshot_ = std::move(snapshot);
  }

 private:
  mutable std::mutex mu_;
  std::shared_ptr<const RoutingSnapshot> snapshot_;
};

// Polls `condition` until it holds or the deadline passes.
template <typename F>
bool WaitUntil(F condition, absl::Duration timeout = kWait) {
  const absl::Time deadline = absl::Now() + timeout;
  while (!condition()) {
    if (absl::Now() > deadline) return false;
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  return true;
}

// One client stream read on its own thread into a list the test waits on.
class StreamClient {
 public:
  StreamClient(v1::AgentEventService::Stub& stub, std::string agent_id, std::string after,
               std::string client_id = "desk-1") {
    v1::StreamAgentEventsRequest req;
    req.set_agent_id(std::move(agent_id));
    req.set_after_event_id(std::move(after));
    req.set_client_id(std::move(client_id));
    thread_ = std::thread([this, &stub, req] {
      std::unique_ptr<grpc::ClientReader<v1::AgentEvent>> reader =
          stub.StreamAgentEvents(&ctx_, req);
      reader->WaitForInitialMetadata();
      Update([&] { ready_ = true; });
      v1::AgentEvent event;
      while (reader->Read(&event)) Update([&] { events_.push_back(event); });
      grpc::Status status = reader->Finish();
      Update([&] { status_ = status; });
    });
  }
  ~StreamClient() {
    ctx_.TryCancel();
    thread_.join();
  }

  void Cancel() { ctx_.TryCancel(); }

  // True once the server sent the headers (positioned and listening), or the call ended.
  bool WaitReady() {
    return Wait([this] { return ready_ || status_.has_value(); });
  }
  bool WaitForEvents(size_t n) {
    return Wait([this, n] { return events_.size() >= n; });
  }
  // The final status, once the call ended; nullopt when it did not end in time.
  std::optional<grpc::Status> WaitForEnd() {
    std::unique_lock<std::mutex> lock(mu_);
    cv_.wait_for(lock, absl::ToChronoMilliseconds(kWait), [this] { return status_.has_value(); });
    return status_;
  }
  std::vector<v1::AgentEvent> events() {
    std::lock_guard<std::mutex> lock(mu_);
    return events_;
  }
  std::vector<std::string> details() {
    std::vector<std::string> out;
    for (const v1::AgentEvent& e : events()) out.push_back(e.offer_ended().detail());
    return out;
  }

 private:
  template <typename F>
  void Update(F f) {
    {
      std::lock_guard<std::mutex> lock(mu_);
      f();
    }
    cv_.notify_all();
  }
  template <typename F>
  bool Wait(F condition) {
    std::unique_lock<std::mutex> lock(mu_);
    return cv_.wait_for(lock, absl::ToChronoMilliseconds(kWait), condition);
  }

  grpc::ClientContext ctx_;
  std::mutex mu_;
  std::condition_variable cv_;
  bool ready_ = false;
  std::vector<v1::AgentEvent> events_;
  std::optional<grpc::Status> status_;
  std::thread thread_;
};

bool IdLess(const std::string& a, const std::string& b) {
  const auto split = [](const std::string& id) {
    const size_t dash = id.find('-');
    return std::make_pair(std::stoull(id.substr(0, dash)), std::stoull(id.substr(dash + 1)));
  };
  return split(a) < split(b);
}

v1::AgentEvent Numbered(int n) {
  v1::AgentEvent event;
  event.set_conversation_id("00000000-0000-4000-8000-000000000c01");
  event.mutable_offer_ended()->set_detail(absl::StrCat("e", n));
  return event;
}

std::vector<std::string> Range(int from, int to) {
  std::vector<std::string> out;
  for (int i = from; i <= to; ++i) out.push_back(absl::StrCat("e", i));
  return out;
}

class AgentEventsTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    auto server = testing::RedisServer::Start();
    ASSERT_TRUE(server.ok()) << server.status();
    redis_server_ = server->release();
  }
  static void TearDownTestSuite() {
    delete redis_server_;
    redis_server_ = nullptr;
  }

  void SetUp() override {
    const redis::ClientOptions options{.host = "127.0.0.1", .port = redis_server_->port()};
    pool_ = std::make_unique<engine::RedisPool>(options, 2);
    ASSERT_TRUE(pool_->Get().Command({"FLUSHALL"}).ok());
    log_ = std::make_unique<AgentEventLog>(*pool_, engine::Keys("t:"));
    hub_ = std::make_unique<AgentEventHub>(*log_, options);
    ASSERT_TRUE(hub_->Start().ok());
    metrics_ = std::make_unique<RouterMetrics>(registry_);
    executor_ = std::make_unique<Executor>(2);
    service_ = std::make_unique<AgentEventServiceImpl>(*log_, *hub_, definitions_, *executor_,
                                                       metrics_.get());
    runner_ = std::make_unique<ServerRunner>(
        ServerOptions{.address = "127.0.0.1:0", .shutdown_grace = absl::Seconds(5)},
        std::vector<DependencyProbe>{});
    runner_->AddService(service_.get());
    ASSERT_TRUE(runner_->Start().ok());
    stub_ = v1::AgentEventService::NewStub(grpc::CreateChannel(
        absl::StrCat("127.0.0.1:", runner_->port()), grpc::InsecureChannelCredentials()));
  }

  void TearDown() override {
    hub_->Shutdown(absl::Seconds(1));
    runner_->Shutdown();
  }

  std::string Append(int n, const std::string& agent = kAgent) {
    absl::StatusOr<std::string> id = log_->Append(agent, Numbered(n));
    EXPECT_TRUE(id.ok()) << id.status();
    return id.value_or("");
  }

  // What a client does after UNAVAILABLE: connect again (the first command on each pooled
  // connection Redis dropped fails once, then reconnects). Returns the first final status
  // that is not UNAVAILABLE; nullopt when none came in time.
  std::optional<grpc::Status> ReconnectUntilEnd(const std::string& agent,
                                                const std::string& after) {
    const absl::Time deadline = absl::Now() + kWait;
    while (absl::Now() < deadline) {
      StreamClient client(*stub_, agent, after);
      std::optional<grpc::Status> ended = client.WaitForEnd();
      if (!ended.has_value() || ended->error_code() != grpc::StatusCode::UNAVAILABLE) {
        return ended;
      }
    }
    return std::nullopt;
  }

  std::string StreamKey(const std::string& agent = kAgent) {
    return log_->keys().AgentEvents(agent);
  }

  // Exact trimming to the newest `keep` entries (XADD's MAXLEN ~ trims whole nodes only).
  void TrimTo(int keep) {
    ASSERT_TRUE(pool_->Get().Command({"XTRIM", StreamKey(), "MAXLEN", absl::StrCat(keep)}).ok());
  }

  static testing::RedisServer* redis_server_;
  FixedDefinitions definitions_;
  prometheus::Registry registry_;
  std::unique_ptr<engine::RedisPool> pool_;
  std::unique_ptr<AgentEventLog> log_;
  std::unique_ptr<AgentEventHub> hub_;
  std::unique_ptr<RouterMetrics> metrics_;
  std::unique_ptr<Executor> executor_;  // destroyed before what its tasks use
  std::unique_ptr<AgentEventServiceImpl> service_;
  std::unique_ptr<ServerRunner> runner_;
  std::unique_ptr<v1::AgentEventService::Stub> stub_;
};

testing::RedisServer* AgentEventsTest::redis_server_ = nullptr;

TEST(EventIdTest, ParsesAndNormalizes) {
  EXPECT_EQ(*ParseEventId("1719990000000-0", "f"), "1719990000000-0");
  EXPECT_EQ(*ParseEventId("007-01", "f"), "7-1");
  for (const char* bad : {"", "-", "1", "1-", "-1", "1-2-3", "a-1", "1-x", " 1-1", "1-1 ", "+1-1",
                          "99999999999999999999999-0", "1-99999999999999999999"}) {
    absl::StatusOr<std::string> id = ParseEventId(bad, "after_event_id");
    EXPECT_EQ(id.status().code(), absl::StatusCode::kInvalidArgument) << bad;
    EXPECT_THAT(std::string(id.status().message()), ::testing::HasSubstr("after_event_id"));
  }
}

TEST_F(AgentEventsTest, ResumesAfterTheLastSeenIdThenTailsLive) {
  std::vector<std::string> ids;
  for (int i = 1; i <= 5; ++i) ids.push_back(Append(i));

  StreamClient client(*stub_, kAgent, ids[1]);
  ASSERT_TRUE(client.WaitForEvents(3));
  Append(6);
  Append(7);
  ASSERT_TRUE(client.WaitForEvents(5));
  EXPECT_THAT(client.details(), ElementsAreArray(Range(3, 7)));
  const std::vector<v1::AgentEvent> events = client.events();
  EXPECT_EQ(events[0].event_id(), ids[2]);
  EXPECT_EQ(events[0].agent_id(), kAgent);
  EXPECT_EQ(events[0].conversation_id(), "00000000-0000-4000-8000-000000000c01");
  for (size_t i = 0; i < events.size(); ++i) {
    EXPECT_EQ(*ParseEventId(events[i].event_id(), "event_id"), events[i].event_id());
    if (i > 0) {
      EXPECT_TRUE(IdLess(events[i - 1].event_id(), events[i].event_id()));
    }
  }
}

TEST_F(AgentEventsTest, ResumeFromTheLastIdSendsOnlyNewEvents) {
  Append(1);
  const std::string last = Append(2);
  StreamClient client(*stub_, kAgent, last);
  ASSERT_TRUE(client.WaitReady());
  Append(3);
  ASSERT_TRUE(client.WaitForEvents(1));
  EXPECT_THAT(client.details(), ElementsAre("e3"));
}

TEST_F(AgentEventsTest, EmptyAfterIdStartsFromNow) {
  Append(1);
  Append(2);
  StreamClient client(*stub_, kAgent, "");
  ASSERT_TRUE(client.WaitReady());
  Append(3);
  Append(4, kOtherAgent);  // another agent's events never show up
  Append(5);
  ASSERT_TRUE(client.WaitForEvents(2));
  EXPECT_THAT(client.details(), ElementsAre("e3", "e5"));
}

TEST_F(AgentEventsTest, FromNowOnAStreamThatDoesNotExistYet) {
  StreamClient client(*stub_, kAgent, "");
  ASSERT_TRUE(client.WaitReady());
  Append(1);
  ASSERT_TRUE(client.WaitForEvents(1));
  EXPECT_THAT(client.details(), ElementsAre("e1"));
}

TEST_F(AgentEventsTest, CatchUpLongerThanOnePage) {
  std::vector<std::string> ids;
  for (int i = 1; i <= 350; ++i) ids.push_back(Append(i));
  StreamClient client(*stub_, kAgent, ids[0]);
  ASSERT_TRUE(client.WaitForEvents(349));
  EXPECT_THAT(client.details(), ElementsAreArray(Range(2, 350)));
}

TEST_F(AgentEventsTest, TrimmedHistoryIsOutOfRange) {
  std::vector<std::string> ids;
  for (int i = 1; i <= 10; ++i) ids.push_back(Append(i));
  TrimTo(5);  // keeps e6..e10

  // e4 was seen, e5 is gone: events were lost for this client.
  StreamClient lost(*stub_, kAgent, ids[3]);
  std::optional<grpc::Status> status = lost.WaitForEnd();
  ASSERT_TRUE(status.has_value());
  EXPECT_EQ(status->error_code(), grpc::StatusCode::OUT_OF_RANGE) << status->error_message();
  EXPECT_TRUE(lost.events().empty());

  // e6 is the oldest kept: everything after it is still there.
  StreamClient kept(*stub_, kAgent, ids[5]);
  ASSERT_TRUE(kept.WaitForEvents(4));
  EXPECT_THAT(kept.details(), ElementsAreArray(Range(7, 10)));
}

TEST_F(AgentEventsTest, AnIdNewerThanTheStreamIsOutOfRange) {
  Append(1);
  StreamClient client(*stub_, kAgent, "99999999999999-0");
  std::optional<grpc::Status> status = client.WaitForEnd();
  ASSERT_TRUE(status.has_value());
  EXPECT_EQ(status->error_code(), grpc::StatusCode::OUT_OF_RANGE);
}

TEST_F(AgentEventsTest, AnIdForAStreamThatNoLongerExistsIsOutOfRange) {
  const std::string id = Append(1);
  ASSERT_TRUE(pool_->Get().Command({"DEL", StreamKey()}).ok());
  StreamClient client(*stub_, kAgent, id);
  std::optional<grpc::Status> status = client.WaitForEnd();
  ASSERT_TRUE(status.has_value());
  EXPECT_EQ(status->error_code(), grpc::StatusCode::OUT_OF_RANGE);
}

TEST_F(AgentEventsTest, LogCursorDetectsTrimmingPastItExactly) {
  // A cursor made at the end of a missing stream knows its ordinal (0)...
  absl::StatusOr<EventCursor> cursor = log_->Tail(kAgent);
  ASSERT_TRUE(cursor.ok()) << cursor.status();
  EXPECT_EQ(cursor->ordinal, 0);
  for (int i = 1; i <= 4; ++i) Append(i);
  // ...so a stream created afterwards is read from its first entry, not taken for trimmed.
  absl::StatusOr<AgentEventPage> page = log_->Read(kAgent, *cursor, 2);
  ASSERT_TRUE(page.ok()) << page.status();
  ASSERT_EQ(page->events.size(), 2u);
  EXPECT_TRUE(page->more);
  EXPECT_EQ(cursor->ordinal, 2);

  // Trimming what the cursor already read is fine...
  TrimTo(2);
  page = log_->Read(kAgent, *cursor, 10);
  ASSERT_TRUE(page.ok()) << page.status();
  ASSERT_EQ(page->events.size(), 2u);
  EXPECT_FALSE(page->more);
  EXPECT_EQ(page->events[1].offer_ended().detail(), "e4");

  // ...trimming one entry it has not read is not.
  for (int i = 5; i <= 7; ++i) Append(i);
  TrimTo(2);  // e5 is gone
  page = log_->Read(kAgent, *cursor, 10);
  EXPECT_EQ(page.status().code(), absl::StatusCode::kOutOfRange) << page.status();
}

TEST_F(AgentEventsTest, TrimmingWhileAStreamLagsEndsItWithOutOfRange) {
  // A cursor that knows its ordinal (caught up) sees trimming that outruns it.
  absl::StatusOr<EventCursor> cursor = log_->Tail(kAgent);
  ASSERT_TRUE(cursor.ok());
  for (int i = 1; i <= 3; ++i) Append(i);
  TrimTo(1);
  absl::StatusOr<AgentEventPage> page = log_->Read(kAgent, *cursor, 10);
  EXPECT_EQ(page.status().code(), absl::StatusCode::kOutOfRange) << page.status();
}

TEST_F(AgentEventsTest, RejectsBadRequests) {
  struct Case {
    std::string agent, after, client;
    grpc::StatusCode code;
    std::string field;
  };
  for (const Case& c : std::vector<Case>{
           {"not-a-uuid", "", "d", grpc::StatusCode::INVALID_ARGUMENT, "agent_id"},
           {kAgent, "12-x", "d", grpc::StatusCode::INVALID_ARGUMENT, "after_event_id"},
           {kAgent, "", "", grpc::StatusCode::INVALID_ARGUMENT, "client_id"},
           {kAgent, "", std::string(65, 'c'), grpc::StatusCode::INVALID_ARGUMENT, "client_id"},
           {kUnknownAgent, "", "d", grpc::StatusCode::NOT_FOUND, kUnknownAgent},
       }) {
    StreamClient client(*stub_, c.agent, c.after, c.client);
    std::optional<grpc::Status> status = client.WaitForEnd();
    ASSERT_TRUE(status.has_value()) << c.field;
    EXPECT_EQ(status->error_code(), c.code) << c.field << ": " << status->error_message();
    EXPECT_THAT(status->error_message(), ::testing::HasSubstr(c.field));
  }
}

TEST_F(AgentEventsTest, TwoStreamsOfOneAgentBothReceiveEverything) {
  const std::string start = Append(0);
  StreamClient desk1(*stub_, kAgent, start, "desk-1");
  StreamClient desk2(*stub_, kAgent, "", "desk-2");
  ASSERT_TRUE(desk1.WaitReady());
  ASSERT_TRUE(desk2.WaitReady());
  std::thread writer([&] {
    for (int i = 1; i <= 250; ++i) Append(i);
  });
  writer.join();
  ASSERT_TRUE(desk1.WaitForEvents(250));
  ASSERT_TRUE(desk2.WaitForEvents(250));
  EXPECT_THAT(desk1.details(), ElementsAreArray(Range(1, 250)));
  EXPECT_THAT(desk2.details(), ElementsAreArray(Range(1, 250)));
  EXPECT_EQ(hub_->subscriber_count(), 2);
}

TEST_F(AgentEventsTest, CancellationEndsTheStreamAndReleasesIt) {
  StreamClient client(*stub_, kAgent, "");
  ASSERT_TRUE(client.WaitReady());
  ASSERT_TRUE(WaitUntil([&] { return hub_->subscriber_count() == 1; }));
  client.Cancel();
  std::optional<grpc::Status> status = client.WaitForEnd();
  ASSERT_TRUE(status.has_value());
  EXPECT_EQ(status->error_code(), grpc::StatusCode::CANCELLED);
  EXPECT_TRUE(WaitUntil([&] { return hub_->subscriber_count() == 0; }));

  // Another stream of the same agent still works.
  StreamClient again(*stub_, kAgent, "");
  ASSERT_TRUE(again.WaitReady());
  Append(1);
  ASSERT_TRUE(again.WaitForEvents(1));
}

TEST_F(AgentEventsTest, ShutdownEndsOpenStreamsWithUnavailable) {
  StreamClient client(*stub_, kAgent, "");
  ASSERT_TRUE(client.WaitReady());
  hub_->Shutdown(absl::Seconds(1));
  std::optional<grpc::Status> status = client.WaitForEnd();
  ASSERT_TRUE(status.has_value());
  EXPECT_EQ(status->error_code(), grpc::StatusCode::UNAVAILABLE) << status->error_message();
  EXPECT_TRUE(WaitUntil([&] { return hub_->subscriber_count() == 0; }));

  StreamClient late(*stub_, kAgent, "");
  status = late.WaitForEnd();
  ASSERT_TRUE(status.has_value());
  EXPECT_EQ(status->error_code(), grpc::StatusCode::UNAVAILABLE);
}

TEST_F(AgentEventsTest, RedisRestartEndsTheStreamAndLostHistoryIsOutOfRange) {
  Append(1);
  StreamClient client(*stub_, kAgent, "");
  ASSERT_TRUE(client.WaitReady());
  Append(2);
  ASSERT_TRUE(client.WaitForEvents(1));
  const std::string last_seen = client.events().back().event_id();

  ASSERT_TRUE(redis_server_->Stop().ok());
  std::optional<grpc::Status> status = client.WaitForEnd();
  ASSERT_TRUE(status.has_value());
  EXPECT_EQ(status->error_code(), grpc::StatusCode::UNAVAILABLE) << status->error_message();
  ASSERT_TRUE(redis_server_->Resume().ok());  // without its data

  // The reconnecting client learns that its history is gone...
  status = ReconnectUntilEnd(kAgent, last_seen);
  ASSERT_TRUE(status.has_value());
  EXPECT_EQ(status->error_code(), grpc::StatusCode::OUT_OF_RANGE) << status->error_message();

  // ...reloads, and streams from now on again (once every pooled connection is new).
  for (int i = 0; i < 2; ++i) ASSERT_TRUE(pool_->Get().Ping().ok());
  StreamClient fresh(*stub_, kAgent, "");
  ASSERT_TRUE(fresh.WaitReady());
  Append(3);
  ASSERT_TRUE(fresh.WaitForEvents(1));
  EXPECT_THAT(fresh.details(), ElementsAre("e3"));
}

class PublishTest : public AgentEventsTest {
 protected:
  grpc::Status Publish(const v1::PublishConversationEventRequest& req, bool* delivered) {
    grpc::ClientContext ctx;
    v1::PublishConversationEventResponse resp;
    grpc::Status status = stub_->PublishConversationEvent(&ctx, req, &resp);
    *delivered = resp.delivered();
    return status;
  }
  void Assign(const std::string& conversation, const std::string& agent) {
    ASSERT_TRUE(pool_->Get()
                    .Command({"HSET", log_->keys().Conversation(conversation), "st", "assigned",
                              "agent", agent})
                    .ok());
  }
  static v1::PublishConversationEventRequest Message(const std::string& source,
                                                     const std::string& conversation) {
    v1::PublishConversationEventRequest req;
    req.set_source_event_id(source);
    req.set_conversation_id(conversation);
    req.mutable_customer_message()->set_message_id("00000000-0000-4000-8000-0000000000e1");
    return req;
  }
};

constexpr char kConv[] = "00000000-0000-4000-8000-000000000c01";
constexpr char kSource1[] = "00000000-0000-4000-8000-0000000005e1";
constexpr char kSource2[] = "00000000-0000-4000-8000-0000000005e2";

TEST_F(PublishTest, AppendsToTheAssignedAgentOnce) {
  Assign(kConv, kAgent);
  StreamClient client(*stub_, kAgent, "");
  ASSERT_TRUE(client.WaitReady());

  bool delivered = false;
  ASSERT_TRUE(Publish(Message(kSource1, kConv), &delivered).ok());
  EXPECT_TRUE(delivered);
  ASSERT_TRUE(Publish(Message(kSource1, kConv), &delivered).ok());
  EXPECT_FALSE(delivered);  // a repeat

  v1::PublishConversationEventRequest status_change;
  status_change.set_source_event_id(kSource2);
  status_change.set_conversation_id(kConv);
  status_change.mutable_delivery_status()->set_message_id("00000000-0000-4000-8000-0000000000e2");
  ASSERT_TRUE(Publish(status_change, &delivered).ok());
  EXPECT_TRUE(delivered);

  ASSERT_TRUE(client.WaitForEvents(2));
  const std::vector<v1::AgentEvent> events = client.events();
  EXPECT_EQ(events[0].conversation_id(), kConv);
  EXPECT_EQ(events[0].agent_id(), kAgent);
  EXPECT_TRUE(events[0].has_event_time());
  EXPECT_EQ(events[0].customer_message().message_id(), "00000000-0000-4000-8000-0000000000e1");
  EXPECT_EQ(events[1].delivery_status().message_id(), "00000000-0000-4000-8000-0000000000e2");
  absl::StatusOr<redis::Reply> len = pool_->Get().Command({"XLEN", StreamKey()});
  ASSERT_TRUE(len.ok());
  EXPECT_EQ(len->integer, 2);
}

TEST_F(PublishTest, DropsEventsOfConversationsNotAssigned) {
  bool delivered = true;
  ASSERT_TRUE(Publish(Message(kSource1, kConv), &delivered).ok());  // unknown conversation
  EXPECT_FALSE(delivered);
  ASSERT_TRUE(
      pool_->Get().Command({"HSET", log_->keys().Conversation(kConv), "st", "queued"}).ok());
  ASSERT_TRUE(Publish(Message(kSource2, kConv), &delivered).ok());
  EXPECT_FALSE(delivered);
  absl::StatusOr<redis::Reply> exists = pool_->Get().Command({"EXISTS", StreamKey()});
  ASSERT_TRUE(exists.ok());
  EXPECT_EQ(exists->integer, 0);
}

TEST_F(PublishTest, RejectsBadRequests) {
  bool delivered = false;
  v1::PublishConversationEventRequest no_event;
  no_event.set_source_event_id(kSource1);
  no_event.set_conversation_id(kConv);
  struct Case {
    v1::PublishConversationEventRequest req;
    std::string field;
  };
  for (const Case& c : std::vector<Case>{{Message("x", kConv), "source_event_id"},
                                         {Message(kSource1, "' OR 1=1"), "conversation_id"},
                                         {no_event, "event"}}) {
    grpc::Status status = Publish(c.req, &delivered);
    EXPECT_EQ(status.error_code(), grpc::StatusCode::INVALID_ARGUMENT) << c.field;
    EXPECT_THAT(status.error_message(), ::testing::HasSubstr(c.field));
  }
}

using parley::testing::MetricSample;

class MetricsTest : public AgentEventsTest {
 protected:
  void HSet(const std::string& key, std::vector<std::string> fields) {
    fields.insert(fields.begin(), {"HSET", key});
    ASSERT_TRUE(pool_->Get().Command(fields).ok());
  }
  void ZAdd(const std::string& key, int64_t score, const std::string& member) {
    ASSERT_TRUE(pool_->Get().Command({"ZADD", key, absl::StrCat(score), member}).ok());
  }
};

constexpr char kQueue1[] = "00000000-0000-4000-8000-0000000000a1";
constexpr char kQueue2[] = "00000000-0000-4000-8000-0000000000a2";

TEST_F(MetricsTest, CollectorReadsQueuesPresenceAndCapacityFromTheEngineKeys) {
  auto snapshot = std::make_shared<RoutingSnapshot>(*definitions_.Current());
  snapshot->queues[kQueue1].set_id(kQueue1);
  snapshot->queues[kQueue2].set_id(kQueue2);
  definitions_.Set(snapshot);
  const engine::Keys& keys = log_->keys();
  const absl::Time now = absl::FromUnixMillis(1'800'000'000'000);
  const int64_t now_ms = absl::ToUnixMillis(now);
  // Queue 1: a FIFO conversation waiting 30 s and an urgent one (score below 0) waiting 90 s.
  ZAdd(keys.Queue(kQueue1), now_ms - 30'000, "c-fifo");
  ZAdd(keys.Queue(kQueue1), now_ms + 60'000 - 10'000'000'000'000, "c-urgent");
  HSet(keys.Conversation("c-urgent"), {"enq", absl::StrCat(now_ms - 90'000)});
  // Agent A available using 2 of 5; agent B offline (its capacity is not counted).
  HSet(keys.Agent(kAgent), {"p", "1", "used", "2", "cap", "5"});
  HSet(keys.Agent(kOtherAgent), {"p", "5", "used", "0", "cap", "3"});

  RouterMetricsCollector collector(*pool_, keys, definitions_, *metrics_);
  ASSERT_TRUE(collector.CollectOnce(now).ok());
  EXPECT_EQ(MetricSample(registry_, "parley_router_queue_depth", {{"queue_id", kQueue1}}), 2);
  EXPECT_EQ(
      MetricSample(registry_, "parley_router_queue_oldest_wait_seconds", {{"queue_id", kQueue1}}),
      90);
  EXPECT_EQ(MetricSample(registry_, "parley_router_queue_depth", {{"queue_id", kQueue2}}), 0);
  EXPECT_EQ(
      MetricSample(registry_, "parley_router_queue_oldest_wait_seconds", {{"queue_id", kQueue2}}),
      0);
  EXPECT_EQ(MetricSample(registry_, "parley_router_agents", {{"presence", "available"}}), 1);
  EXPECT_EQ(MetricSample(registry_, "parley_router_agents", {{"presence", "offline"}}), 1);
  EXPECT_EQ(MetricSample(registry_, "parley_router_agents", {{"presence", "busy"}}), 0);
  EXPECT_EQ(MetricSample(registry_, "parley_router_capacity_units", {{"kind", "used"}}), 2);
  EXPECT_EQ(MetricSample(registry_, "parley_router_capacity_units", {{"kind", "total"}}), 5);

  // A queue deleted from the definitions disappears from the metrics.
  auto fewer = std::make_shared<RoutingSnapshot>(*snapshot);
  fewer->queues.erase(kQueue2);
  definitions_.Set(fewer);
  ASSERT_TRUE(collector.CollectOnce(now).ok());
  EXPECT_EQ(MetricSample(registry_, "parley_router_queue_depth", {{"queue_id", kQueue2}}),
            std::nullopt);
  EXPECT_EQ(MetricSample(registry_, "parley_router_queue_depth", {{"queue_id", kQueue1}}), 2);

  // Redis away: the round fails with UNAVAILABLE and keeps the last values.
  ASSERT_TRUE(redis_server_->Stop().ok());
  absl::Status down = collector.CollectOnce(now);
  for (int i = 0; i < 3 && down.ok(); ++i) down = collector.CollectOnce(now);
  EXPECT_EQ(down.code(), absl::StatusCode::kUnavailable) << down;
  EXPECT_EQ(MetricSample(registry_, "parley_router_queue_depth", {{"queue_id", kQueue1}}), 2);
  ASSERT_TRUE(redis_server_->Resume().ok());
}

TEST_F(MetricsTest, EngineCountersAndStreamGauge) {
  metrics_->OfferEnded(OfferOutcome::kAccepted);
  metrics_->OfferEnded(OfferOutcome::kExpired);
  metrics_->OfferEnded(OfferOutcome::kExpired);
  metrics_->Assigned(kQueue1, absl::Seconds(12));
  EXPECT_EQ(MetricSample(registry_, "parley_router_offers_total", {{"outcome", "accepted"}}), 1);
  EXPECT_EQ(MetricSample(registry_, "parley_router_offers_total", {{"outcome", "expired"}}), 2);
  EXPECT_EQ(MetricSample(registry_, "parley_router_offers_total", {{"outcome", "rejected"}}), 0);
  EXPECT_EQ(
      MetricSample(registry_, "parley_router_time_to_assign_seconds", {{"queue_id", kQueue1}}), 1);

  StreamClient client(*stub_, kAgent, "");
  ASSERT_TRUE(client.WaitReady());
  EXPECT_EQ(MetricSample(registry_, "parley_router_agent_event_streams"), 1);
  Append(1);
  ASSERT_TRUE(client.WaitForEvents(1));
  EXPECT_TRUE(WaitUntil(
      [&] { return MetricSample(registry_, "parley_router_agent_events_sent_total") == 1; }));
  client.Cancel();
  ASSERT_TRUE(client.WaitForEnd().has_value());
  EXPECT_TRUE(
      WaitUntil([&] { return MetricSample(registry_, "parley_router_agent_event_streams") == 0; }));
}

// The engine's own events (offer, assignment) reach an open stream, and
// PublishConversationEvent finds the agent of a conversation the engine assigned.
TEST_F(PublishTest, EngineEventsAndPublishedMessagesReachTheAgentsStream) {
  auto snapshot = std::make_shared<RoutingSnapshot>(*definitions_.Current());
  v1::Queue& queue = snapshot->queues[kQueue1];
  queue.set_id(kQueue1);
  queue.add_agent_ids(kAgent);
  v1::Agent& agent = snapshot->agents[kAgent];
  agent.set_capacity(2);
  agent.set_enabled(true);
  agent.add_queue_ids(kQueue1);
  const std::string ws_id = engine::NewUuid();
  v1::WorkStream& ws = snapshot->work_streams[ws_id];
  ws.set_id(ws_id);
  ws.set_channel(common::v1::CHANNEL_MESSENGER);
  ws.set_mode(v1::ROUTING_MODE_PUSH);
  ws.set_capacity_cost(1);
  ws.set_strategy(v1::ASSIGNMENT_STRATEGY_LEAST_ACTIVE);
  engine::SetDurationMs(60'000, ws.mutable_offer_timeout());
  ws.set_default_queue_id(kQueue1);
  snapshot->rules[ws_id];
  definitions_.Set(snapshot);
  engine::RedisEngine engine(*pool_, definitions_, engine::EngineOptions{.key_prefix = "t:"});
  ASSERT_TRUE(engine.SyncAgents(*snapshot).ok());

  StreamClient client(*stub_, kAgent, "");
  ASSERT_TRUE(client.WaitReady());
  ASSERT_TRUE(engine.SetPresence(kAgent, v1::PRESENCE_AVAILABLE).ok());
  v1::EnqueueConversationRequest enqueue;
  enqueue.set_conversation_id(kConv);
  enqueue.set_request_id(engine::NewUuid());
  enqueue.set_work_stream_id(ws_id);
  enqueue.mutable_context()->set_channel(common::v1::CHANNEL_MESSENGER);
  engine::SetMs(engine::NowMs(), enqueue.mutable_enqueue_time());
  ASSERT_TRUE(engine.Enqueue(enqueue).ok());

  ASSERT_TRUE(client.WaitForEvents(1));
  const v1::AgentEvent offer = client.events()[0];
  ASSERT_TRUE(offer.has_offer()) << offer.DebugString();
  EXPECT_EQ(offer.conversation_id(), kConv);
  absl::StatusOr<v1::Assignment> assignment =
      engine.AcceptOffer(offer.offer().offer().offer_id(), kAgent);
  ASSERT_TRUE(assignment.ok()) << assignment.status();

  bool delivered = false;
  ASSERT_TRUE(Publish(Message(kSource1, kConv), &delivered).ok());
  EXPECT_TRUE(delivered);
  ASSERT_TRUE(client.WaitForEvents(3));
  const std::vector<v1::AgentEvent> events = client.events();
  EXPECT_TRUE(events[1].has_assigned()) << events[1].DebugString();
  EXPECT_TRUE(events[2].has_customer_message()) << events[2].DebugString();
  for (const v1::AgentEvent& e : events) EXPECT_EQ(e.agent_id(), kAgent);
}

}  // namespace
}  // namespace parley::router

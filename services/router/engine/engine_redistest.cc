// Router's Redis engine against a real Redis: queueing, offers, accept/reject/expiry, presence
// and heartbeats, capacity, strategies, pick mode, transfers, finishing, urgency, the event and
// session-update streams, and the invariants (no conversation offered to two agents at once or
// assigned twice, no agent over capacity, FIFO) with two engines (two "replicas") and many
// threads at once. Definitions come from a snapshot filled in by the test.
#include <atomic>
#include <map>
#include <random>
#include <set>
#include <thread>

#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "gtest/gtest.h"
#include "libs/testing/metrics.h"
#include "libs/testing/servers.h"
#include "parley/session/v1/session.pb.h"
#include "prometheus/registry.h"
#include "services/router/engine/redis_engine.h"
#include "services/router/engine/util.h"
#include "services/router/router_metrics.h"

namespace parley::router::engine {
namespace {

using common::v1::EngagementContext;

class StaticDefinitions : public RoutingDefinitions {
 public:
  std::shared_ptr<const RoutingSnapshot> Current() const override {
    absl::MutexLock lock(&mu_);
    return snapshot_;
  }
  void Set(RoutingSnapshot snapshot) {
    absl::MutexLock lock(&mu_);
    snapshot_ = std::make_shared<const RoutingSnapshot>(std::move(snapshot));
  }

 private:
  mutable absl::Mutex mu_;
  std::shared_ptr<const RoutingSnapshot> snapshot_ = std::make_shared<RoutingSnapshot>();
};

// Builds a snapshot: queues, agents (members of queues), work streams.
struct SnapshotBuilder {
  RoutingSnapshot s;
  std::string Queue(int priority = 0) {
    v1::Queue q;
    q.set_id(NewUuid());
    q.set_name(q.id());
    q.set_priority(priority);
    s.queues[q.id()] = q;
    return q.id();
  }
  std::string Agent(int capacity, const std::vector<std::string>& queues,
                    const std::vector<std::string>& skills = {}) {
    v1::Agent a;
    a.set_id(NewUuid());
    a.set_display_name(absl::StrCat("agent ", s.agents.size() + 1));
    a.set_capacity(capacity);
    a.set_enabled(true);
    for (const std::string& q : queues) {
      a.add_queue_ids(q);
      s.queues[q].add_agent_ids(a.id());
    }
    for (const std::string& k : skills) a.add_skills(k);
    s.agents[a.id()] = a;
    return a.id();
  }
  std::string WorkStream(const std::string& default_queue,
                         v1::RoutingMode mode = v1::ROUTING_MODE_PUSH, int cost = 1,
                         v1::AssignmentStrategy strategy = v1::ASSIGNMENT_STRATEGY_LEAST_ACTIVE,
                         int64_t offer_timeout_ms = 60000, int64_t urgent_before_ms = 0) {
    v1::WorkStream ws;
    ws.set_id(NewUuid());
    ws.set_name(ws.id());
    ws.set_channel(common::v1::CHANNEL_MESSENGER);
    ws.set_mode(mode);
    ws.set_capacity_cost(cost);
    ws.set_strategy(strategy);
    SetDurationMs(offer_timeout_ms, ws.mutable_offer_timeout());
    SetDurationMs(urgent_before_ms, ws.mutable_urgent_before_deadline());
    ws.set_default_queue_id(default_queue);
    s.work_streams[ws.id()] = ws;
    s.rules[ws.id()];
    return ws.id();
  }
};

class EngineTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    auto server = testing::RedisServer::Start();
    ASSERT_TRUE(server.ok()) << server.status();
    server_ = std::move(*server).release();
  }
  static void TearDownTestSuite() { delete server_; }

  void SetUp() override {
    pool_ = std::make_unique<RedisPool>(*redis::ParseAddress(server_->address()), 4);
    ASSERT_TRUE(pool_->Get().Command({"FLUSHALL"}).ok());
  }

  RedisEngine& Engine(EngineOptions options = {}, RouterMetrics* metrics = nullptr) {
    options.key_prefix = "t:";
    engines_.push_back(std::make_unique<RedisEngine>(*pool_, defs_, options, metrics));
    return *engines_.back();
  }

  void Publish() { defs_.Set(b_.s); }

  v1::EnqueueConversationRequest Request(const std::string& ws, int64_t enqueue_ms = 0,
                                         const std::string& conv = NewUuid()) {
    v1::EnqueueConversationRequest r;
    r.set_conversation_id(conv);
    r.set_request_id(NewUuid());
    r.set_work_stream_id(ws);
    r.mutable_context()->set_channel(common::v1::CHANNEL_MESSENGER);
    r.mutable_context()->set_customer_name("Gilda");
    SetMs(enqueue_ms == 0 ? NowMs() : enqueue_ms, r.mutable_enqueue_time());
    return r;
  }

  std::string Enqueue(RedisEngine& e, const std::string& ws, int64_t enqueue_ms = 0) {
    v1::EnqueueConversationRequest r = Request(ws, enqueue_ms);
    absl::StatusOr<v1::EnqueueConversationResponse> resp = e.Enqueue(r);
    EXPECT_TRUE(resp.ok()) << resp.status();
    return r.conversation_id();
  }

  // Every event of the agent's stream, in order.
  std::vector<v1::AgentEvent> Events(const std::string& agent) {
    absl::StatusOr<redis::Reply> r =
        pool_->Get().Command({"XRANGE", "t:agent-events:{" + agent + "}", "-", "+"});
    EXPECT_TRUE(r.ok()) << r.status();
    std::vector<v1::AgentEvent> out;
    for (const redis::Reply& entry : r->elements) {
      v1::AgentEvent e;
      EXPECT_TRUE(e.ParseFromString(entry.elements[1].elements[1].str));
      e.set_event_id(entry.elements[0].str);
      out.push_back(e);
    }
    return out;
  }

  // Every session update, in order, with its routing_sequence filled in.
  std::vector<session::v1::ApplyRoutingUpdateRequest> SessionUpdates() {
    absl::StatusOr<redis::Reply> r =
        pool_->Get().Command({"XRANGE", "t:session-updates", "-", "+"});
    EXPECT_TRUE(r.ok()) << r.status();
    std::vector<session::v1::ApplyRoutingUpdateRequest> out;
    for (const redis::Reply& entry : r->elements) {
      std::map<std::string, std::string> f;
      const auto& kv = entry.elements[1].elements;
      for (size_t i = 0; i + 1 < kv.size(); i += 2) f[kv[i].str] = kv[i + 1].str;
      session::v1::ApplyRoutingUpdateRequest u;
      EXPECT_TRUE(u.ParseFromString(f["u"]));
      u.set_routing_sequence(std::stoll(f["s"]));
      EXPECT_EQ(u.conversation_id(), f["c"]);
      out.push_back(u);
    }
    return out;
  }

  v1::AgentStatus Status(RedisEngine& e, const std::string& agent) {
    absl::StatusOr<v1::AgentStatus> s = e.GetAgentStatus(agent);
    EXPECT_TRUE(s.ok()) << s.status();
    return s.ok() ? *s : v1::AgentStatus();
  }

  void Available(RedisEngine& e, const std::string& agent) {
    absl::StatusOr<v1::AgentStatus> s = e.SetPresence(agent, v1::PRESENCE_AVAILABLE);
    ASSERT_TRUE(s.ok()) << s.status();
  }

  static testing::RedisServer* server_;
  std::unique_ptr<RedisPool> pool_;
  StaticDefinitions defs_;
  SnapshotBuilder b_;
  std::vector<std::unique_ptr<RedisEngine>> engines_;
};

testing::RedisServer* EngineTest::server_ = nullptr;

TEST_F(EngineTest, QueuesFifoAndReportsPosition) {
  const std::string q = b_.Queue();
  const std::string ws = b_.WorkStream(q);
  Publish();
  RedisEngine& e = Engine();
  const int64_t t0 = NowMs();
  const std::string second = Enqueue(e, ws, t0 + 10);
  const std::string first = Enqueue(e, ws, t0);  // earlier enqueue time goes first
  absl::StatusOr<v1::GetQueuePositionResponse> p1 = e.GetQueuePosition(first);
  absl::StatusOr<v1::GetQueuePositionResponse> p2 = e.GetQueuePosition(second);
  ASSERT_TRUE(p1.ok() && p2.ok());
  EXPECT_EQ(p1->status(), v1::ROUTING_STATUS_QUEUED);
  EXPECT_EQ(p1->position(), 1);
  EXPECT_EQ(p2->position(), 2);
  EXPECT_EQ(p2->queue_length(), 2);
  EXPECT_EQ(p1->queue_id(), q);

  // A repeat changes nothing.
  v1::EnqueueConversationRequest again = Request(ws, t0, first);
  absl::StatusOr<v1::EnqueueConversationResponse> repeat = e.Enqueue(again);
  ASSERT_TRUE(repeat.ok());
  EXPECT_TRUE(repeat->already_routed());
  EXPECT_EQ(repeat->position(), 1);

  // Session hears each conversation queued once.
  std::vector<session::v1::ApplyRoutingUpdateRequest> updates = SessionUpdates();
  ASSERT_EQ(updates.size(), 2u);
  EXPECT_TRUE(updates[0].has_queued());
  EXPECT_EQ(updates[0].queued().queue_id(), q);
  EXPECT_EQ(e.GetQueuePosition(NewUuid()).status().code(), absl::StatusCode::kNotFound);
}

TEST_F(EngineTest, EnqueueChecksWorkStream) {
  const std::string q = b_.Queue();
  const std::string ws = b_.WorkStream(q);
  Publish();
  RedisEngine& e = Engine();
  EXPECT_EQ(e.Enqueue(Request(NewUuid())).status().code(), absl::StatusCode::kNotFound);
  v1::EnqueueConversationRequest whatsapp = Request(ws);
  whatsapp.mutable_context()->set_channel(common::v1::CHANNEL_WHATSAPP);
  EXPECT_EQ(e.Enqueue(whatsapp).status().code(), absl::StatusCode::kFailedPrecondition);
}

TEST_F(EngineTest, OffersToAvailableAgentAndAcceptAssigns) {
  const std::string q = b_.Queue();
  const std::string ws = b_.WorkStream(q);
  const std::string agent = b_.Agent(2, {q});
  Publish();
  RedisEngine& e = Engine();
  const std::string conv = Enqueue(e, ws);
  EXPECT_TRUE(Events(agent).empty());  // OFFLINE: no offer
  Available(e, agent);

  std::vector<v1::AgentEvent> events = Events(agent);
  ASSERT_EQ(events.size(), 1u);
  ASSERT_TRUE(events[0].has_offer());
  const v1::Offer& offer = events[0].offer().offer();
  EXPECT_EQ(offer.conversation_id(), conv);
  EXPECT_EQ(offer.agent_id(), agent);
  EXPECT_EQ(offer.queue_id(), q);
  EXPECT_EQ(offer.context().customer_name(), "Gilda");
  EXPECT_EQ(offer.capacity_cost(), 1);
  v1::AgentStatus status = Status(e, agent);
  EXPECT_EQ(status.capacity_used(), 1);  // reserved
  ASSERT_EQ(status.pending_offer_ids_size(), 1);
  absl::StatusOr<v1::GetQueuePositionResponse> pos = e.GetQueuePosition(conv);
  ASSERT_TRUE(pos.ok());
  EXPECT_EQ(pos->status(), v1::ROUTING_STATUS_OFFERED);
  EXPECT_EQ(pos->offer().offer_id(), offer.offer_id());

  const std::string other = b_.Agent(1, {q});
  Publish();
  EXPECT_EQ(e.AcceptOffer(offer.offer_id(), other).status().code(),
            absl::StatusCode::kPermissionDenied);
  EXPECT_EQ(e.AcceptOffer(NewUuid(), agent).status().code(), absl::StatusCode::kNotFound);
  absl::StatusOr<v1::Assignment> a = e.AcceptOffer(offer.offer_id(), agent);
  ASSERT_TRUE(a.ok()) << a.status();
  EXPECT_EQ(a->kind(), common::v1::ASSIGNMENT_KIND_OFFER_ACCEPTED);
  absl::Status twice = e.AcceptOffer(offer.offer_id(), agent).status();
  EXPECT_EQ(twice.code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_NE(twice.message().find("already accepted"), std::string::npos) << twice;

  status = Status(e, agent);
  EXPECT_EQ(status.capacity_used(), 1);
  EXPECT_EQ(status.pending_offer_ids_size(), 0);
  ASSERT_EQ(status.active_conversation_ids_size(), 1);
  events = Events(agent);
  ASSERT_EQ(events.size(), 2u);
  ASSERT_TRUE(events[1].has_assigned());
  EXPECT_EQ(events[1].assigned().assignment().conversation_id(), conv);
  EXPECT_GT(events[1].event_id(), events[0].event_id());

  std::vector<session::v1::ApplyRoutingUpdateRequest> updates = SessionUpdates();
  ASSERT_EQ(updates.size(), 2u);
  ASSERT_TRUE(updates[1].has_assigned());
  EXPECT_EQ(updates[1].assigned().agent_id(), agent);
  EXPECT_EQ(updates[1].assigned().agent_display_name(), b_.s.agents[agent].display_name());
  EXPECT_GT(updates[1].routing_sequence(), updates[0].routing_sequence());
  EXPECT_NE(updates[1].routing_event_id(), updates[0].routing_event_id());
}

TEST_F(EngineTest, RejectReoffersToSomeoneElseThenToTheSameAgentWhenAlone) {
  const std::string q = b_.Queue();
  const std::string ws = b_.WorkStream(q);
  const std::string a1 = b_.Agent(1, {q});
  const std::string a2 = b_.Agent(1, {q});
  Publish();
  RedisEngine& e = Engine();
  Available(e, a1);
  const std::string conv = Enqueue(e, ws);
  ASSERT_EQ(Events(a1).size(), 1u);
  const std::string offer1 = Events(a1)[0].offer().offer().offer_id();
  ASSERT_TRUE(e.RejectOffer(offer1, a1).ok());
  // a1 alone can take it: offered to a1 again.
  std::vector<v1::AgentEvent> ev1 = Events(a1);
  ASSERT_EQ(ev1.size(), 3u);
  EXPECT_EQ(ev1[1].offer_ended().reason(), v1::OFFER_END_REASON_REJECTED);
  EXPECT_TRUE(ev1[1].has_event_time());
  ASSERT_TRUE(ev1[2].has_offer());
  EXPECT_EQ(ev1[2].offer().offer().previous_offers(), 1);
  const std::string offer2 = ev1[2].offer().offer().offer_id();
  EXPECT_EQ(e.RejectOffer(offer1, a1).code(), absl::StatusCode::kFailedPrecondition);

  Available(e, a2);  // nothing to offer a2: the conversation is offered to a1
  ASSERT_TRUE(e.RejectOffer(offer2, a1).ok());
  std::vector<v1::AgentEvent> ev2 = Events(a2);
  ASSERT_EQ(ev2.size(), 1u);
  EXPECT_EQ(ev2[0].offer().offer().conversation_id(), conv);
  EXPECT_EQ(Status(e, a1).capacity_used(), 0);
  EXPECT_EQ(Status(e, a2).capacity_used(), 1);
}

TEST_F(EngineTest, ExpiredOfferIsOfferedAgainBySweep) {
  const std::string q = b_.Queue();
  const std::string ws =
      b_.WorkStream(q, v1::ROUTING_MODE_PUSH, 1, v1::ASSIGNMENT_STRATEGY_LEAST_ACTIVE, 100);
  const std::string a1 = b_.Agent(1, {q});
  const std::string a2 = b_.Agent(1, {q});
  Publish();
  RedisEngine& e = Engine();
  RedisEngine& other_replica = Engine();
  Available(e, a1);
  Enqueue(e, ws);
  Available(e, a2);
  ASSERT_EQ(Events(a1).size(), 1u);
  std::this_thread::sleep_for(std::chrono::milliseconds(150));
  absl::StatusOr<SweepResult> sweep = other_replica.SweepOnce();
  ASSERT_TRUE(sweep.ok()) << sweep.status();
  EXPECT_EQ(sweep->offers_expired, 1);
  std::vector<v1::AgentEvent> ev1 = Events(a1);
  ASSERT_EQ(ev1.size(), 2u);
  EXPECT_EQ(ev1[1].offer_ended().reason(), v1::OFFER_END_REASON_EXPIRED);
  ASSERT_EQ(Events(a2).size(), 1u);  // re-offered to the other agent
  EXPECT_EQ(Status(e, a1).capacity_used(), 0);
}

TEST_F(EngineTest, HeartbeatsStopAndAgentGoesOfflineWithOffersWithdrawn) {
  const std::string q = b_.Queue();
  const std::string ws = b_.WorkStream(q);
  const std::string a1 = b_.Agent(1, {q});
  Publish();
  EngineOptions options;
  options.offline_after = absl::Milliseconds(100);
  RedisEngine& e = Engine(options);
  Available(e, a1);
  ASSERT_TRUE(e.Heartbeat(a1).ok());
  const std::string conv = Enqueue(e, ws);
  ASSERT_EQ(Events(a1).size(), 1u);
  ASSERT_TRUE(e.SweepOnce().ok());
  EXPECT_EQ(Status(e, a1).presence(), v1::PRESENCE_AVAILABLE);  // still fresh
  std::this_thread::sleep_for(std::chrono::milliseconds(150));
  absl::StatusOr<SweepResult> sweep = e.SweepOnce();
  ASSERT_TRUE(sweep.ok());
  EXPECT_EQ(sweep->agents_offline, 1);
  v1::AgentStatus status = Status(e, a1);
  EXPECT_EQ(status.presence(), v1::PRESENCE_OFFLINE);
  EXPECT_EQ(status.capacity_used(), 0);
  std::vector<v1::AgentEvent> ev = Events(a1);
  ASSERT_EQ(ev.size(), 2u);
  EXPECT_EQ(ev[1].offer_ended().reason(), v1::OFFER_END_REASON_WITHDRAWN);
  EXPECT_EQ(e.GetQueuePosition(conv)->status(), v1::ROUTING_STATUS_QUEUED);
}

TEST_F(EngineTest, LeavingAvailableWithdrawsOffersAndDisabledAgentsOnlyGoOffline) {
  const std::string q = b_.Queue();
  const std::string ws = b_.WorkStream(q);
  const std::string a1 = b_.Agent(1, {q});
  const std::string a2 = b_.Agent(1, {q});
  Publish();
  RedisEngine& e = Engine();
  Available(e, a1);
  Enqueue(e, ws);
  ASSERT_TRUE(e.SetPresence(a2, v1::PRESENCE_BUSY).ok());
  EXPECT_TRUE(Events(a2).empty());  // BUSY gets no offers
  Available(e, a2);
  ASSERT_TRUE(e.SetPresence(a1, v1::PRESENCE_AWAY).ok());
  EXPECT_EQ(Events(a1).back().offer_ended().reason(), v1::OFFER_END_REASON_WITHDRAWN);
  EXPECT_TRUE(Events(a2).back().has_offer());

  b_.s.agents[a1].set_enabled(false);
  Publish();
  EXPECT_EQ(e.SetPresence(a1, v1::PRESENCE_AVAILABLE).status().code(),
            absl::StatusCode::kFailedPrecondition);
  EXPECT_TRUE(e.SetPresence(a1, v1::PRESENCE_OFFLINE).ok());
  EXPECT_EQ(e.SetPresence(NewUuid(), v1::PRESENCE_OFFLINE).status().code(),
            absl::StatusCode::kNotFound);
}

TEST_F(EngineTest, CapacityLimitsOffersAndFinishFreesIt) {
  const std::string q = b_.Queue();
  const std::string ws = b_.WorkStream(q, v1::ROUTING_MODE_PUSH, 2);
  const std::string agent = b_.Agent(5, {q});
  Publish();
  RedisEngine& e = Engine();
  std::vector<std::string> convs;
  for (int i = 0; i < 4; ++i) convs.push_back(Enqueue(e, ws, NowMs() + i));
  Available(e, agent);
  EXPECT_EQ(Status(e, agent).pending_offer_ids_size(), 2);  // 2 + 2 <= 5 < 6
  EXPECT_EQ(Status(e, agent).capacity_used(), 4);
  for (const v1::AgentEvent& ev : Events(agent)) {
    ASSERT_TRUE(e.AcceptOffer(ev.offer().offer().offer_id(), agent).ok());
  }
  v1::FinishConversationRequest finish;
  finish.set_conversation_id(convs[0]);
  finish.set_request_id(NewUuid());
  finish.set_reason("closed by agent");
  absl::StatusOr<v1::FinishConversationResponse> done = e.Finish(finish);
  ASSERT_TRUE(done.ok()) << done.status();
  EXPECT_EQ(done->released_agent_id(), agent);
  EXPECT_EQ(done->released_capacity(), 2);
  // The freed capacity went to the next conversation at once.
  EXPECT_EQ(Status(e, agent).capacity_used(), 4);
  EXPECT_EQ(e.GetQueuePosition(convs[2])->status(), v1::ROUTING_STATUS_OFFERED);
  EXPECT_TRUE(Events(agent).size() >= 4u);
  bool closed = false;
  for (const v1::AgentEvent& ev : Events(agent)) {
    if (ev.has_conversation_closed()) {
      closed = true;
      EXPECT_EQ(ev.conversation_id(), convs[0]);
      EXPECT_EQ(ev.agent_id(), agent);
      EXPECT_EQ(ev.conversation_closed().reason(), "closed by agent");
      EXPECT_EQ(ev.conversation_closed().released_capacity(), 2);
    }
  }
  EXPECT_TRUE(closed);
  // Finishing again changes nothing; enqueueing a finished conversation is refused.
  absl::StatusOr<v1::FinishConversationResponse> again = e.Finish(finish);
  ASSERT_TRUE(again.ok());
  EXPECT_EQ(again->released_capacity(), 0);
  EXPECT_EQ(e.Enqueue(Request(ws, 0, convs[0])).status().code(),
            absl::StatusCode::kFailedPrecondition);
  EXPECT_EQ(e.GetQueuePosition(convs[0]).status().code(), absl::StatusCode::kNotFound);
}

TEST_F(EngineTest, RoundRobinTakesMembersInTurn) {
  const std::string q = b_.Queue();
  const std::string ws =
      b_.WorkStream(q, v1::ROUTING_MODE_PUSH, 1, v1::ASSIGNMENT_STRATEGY_ROUND_ROBIN);
  std::vector<std::string> agents = {b_.Agent(10, {q}), b_.Agent(10, {q}), b_.Agent(10, {q})};
  Publish();
  RedisEngine& e = Engine();
  for (const std::string& a : agents) Available(e, a);
  for (int i = 0; i < 6; ++i) Enqueue(e, ws, NowMs() + i);
  for (const std::string& a : agents) EXPECT_EQ(Events(a).size(), 2u);
}

TEST_F(EngineTest, LeastActiveAndLongestIdle) {
  const std::string q = b_.Queue();
  const std::string least = b_.WorkStream(q);
  const std::string idle =
      b_.WorkStream(q, v1::ROUTING_MODE_PUSH, 1, v1::ASSIGNMENT_STRATEGY_LONGEST_IDLE);
  const std::string busy = b_.Agent(10, {q});
  const std::string free = b_.Agent(10, {q});
  Publish();
  RedisEngine& e = Engine();
  Available(e, busy);
  for (int i = 0; i < 2; ++i) Enqueue(e, least);
  EXPECT_EQ(Events(busy).size(), 2u);
  std::this_thread::sleep_for(std::chrono::milliseconds(5));
  Available(e, free);
  Enqueue(e, least);  // free has fewer conversations
  EXPECT_EQ(Events(free).size(), 1u);
  for (const v1::AgentEvent& ev : Events(free)) {
    ASSERT_TRUE(e.AcceptOffer(ev.offer().offer().offer_id(), free).ok());
  }
  // busy became Available first and was assigned nothing since its offers: longest idle.
  Enqueue(e, idle);
  EXPECT_EQ(Events(busy).size(), 3u);
}

TEST_F(EngineTest, SkillsAndPriorityAcrossQueues) {
  const std::string low = b_.Queue(0);
  const std::string high = b_.Queue(10);
  const std::string ws_low = b_.WorkStream(low);
  const std::string ws_high = b_.WorkStream(high);
  const std::string agent = b_.Agent(1, {low, high});
  Publish();
  RedisEngine& e = Engine();
  const std::string c_low = Enqueue(e, ws_low, NowMs() - 1000);
  const std::string c_high = Enqueue(e, ws_high);
  Available(e, agent);
  ASSERT_EQ(Events(agent).size(), 1u);
  EXPECT_EQ(Events(agent)[0].offer().offer().conversation_id(), c_high);
}

TEST_F(EngineTest, UrgentConversationsGoFirst) {
  const std::string q = b_.Queue();
  const std::string ws = b_.WorkStream(q, v1::ROUTING_MODE_PUSH, 1,
                                       v1::ASSIGNMENT_STRATEGY_LEAST_ACTIVE, 60000, 3600000);
  Publish();
  RedisEngine& e = Engine();
  const int64_t now = NowMs();
  const std::string old = Enqueue(e, ws, now - 5000);
  v1::EnqueueConversationRequest near = Request(ws, now);
  SetMs(now + 1000, near.mutable_reply_deadline());  // inside the urgent hour
  ASSERT_TRUE(e.Enqueue(near).ok());
  v1::EnqueueConversationRequest later = Request(ws, now);
  SetMs(now + 3600000 + 200, later.mutable_reply_deadline());  // urgent in 200 ms
  ASSERT_TRUE(e.Enqueue(later).ok());
  EXPECT_EQ(e.GetQueuePosition(near.conversation_id())->position(), 1);
  EXPECT_EQ(e.GetQueuePosition(old)->position(), 2);
  EXPECT_EQ(e.GetQueuePosition(later.conversation_id())->position(), 3);
  std::this_thread::sleep_for(std::chrono::milliseconds(300));
  absl::StatusOr<SweepResult> sweep = e.SweepOnce();
  ASSERT_TRUE(sweep.ok());
  EXPECT_EQ(sweep->promoted, 1);
  EXPECT_EQ(e.GetQueuePosition(later.conversation_id())->position(), 2);
}

TEST_F(EngineTest, PickModeListsAndPicks) {
  const std::string q = b_.Queue();
  const std::string other_q = b_.Queue();
  const std::string ws = b_.WorkStream(q, v1::ROUTING_MODE_PICK, 2);
  const std::string agent = b_.Agent(3, {q});
  const std::string outsider = b_.Agent(3, {other_q});
  Publish();
  RedisEngine& e = Engine();
  const int64_t now = NowMs();
  const std::string c1 = Enqueue(e, ws, now);
  const std::string c2 = Enqueue(e, ws, now + 1);
  absl::StatusOr<std::vector<v1::QueuedConversation>> list = e.ListQueued(agent, "", 0, 50);
  ASSERT_TRUE(list.ok()) << list.status();
  ASSERT_EQ(list->size(), 2u);
  EXPECT_EQ((*list)[0].conversation_id(), c1);
  EXPECT_EQ(Events(agent).size(), 0u);  // pick mode: no offers

  EXPECT_EQ(e.Pick(agent, c1, NewUuid()).status().code(), absl::StatusCode::kFailedPrecondition)
      << "OFFLINE agents cannot pick";
  ASSERT_TRUE(e.SetPresence(agent, v1::PRESENCE_BUSY).ok());
  EXPECT_EQ(e.Pick(outsider, c1, NewUuid()).status().code(), absl::StatusCode::kPermissionDenied);
  const std::string request = NewUuid();
  absl::StatusOr<v1::Assignment> a = e.Pick(agent, c1, request);
  ASSERT_TRUE(a.ok()) << a.status();
  EXPECT_EQ(a->kind(), common::v1::ASSIGNMENT_KIND_PICKED);
  absl::StatusOr<v1::Assignment> repeat = e.Pick(agent, c1, request);
  ASSERT_TRUE(repeat.ok()) << repeat.status();
  EXPECT_EQ(repeat->assign_time().seconds(), a->assign_time().seconds());
  absl::Status full = e.Pick(agent, c2, NewUuid()).status();
  EXPECT_EQ(full.code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_EQ(full.message(), "agent has 1 free unit, the conversation needs 2");
  EXPECT_EQ(e.Pick(agent, NewUuid(), NewUuid()).status().code(), absl::StatusCode::kNotFound);
}

TEST_F(EngineTest, TransferToAgentAndToQueue) {
  const std::string q = b_.Queue();
  const std::string q2 = b_.Queue();
  const std::string ws = b_.WorkStream(q);
  const std::string ws2 = b_.WorkStream(q2);
  const std::string from = b_.Agent(1, {q});
  const std::string to = b_.Agent(1, {});
  Publish();
  RedisEngine& e = Engine();
  Available(e, from);
  const int64_t enq = NowMs() - 60000;
  const std::string conv = Enqueue(e, ws, enq);
  ASSERT_TRUE(e.AcceptOffer(Events(from)[0].offer().offer().offer_id(), from).ok());

  v1::TransferConversationRequest t;
  t.set_conversation_id(conv);
  t.set_agent_id(from);
  t.set_to_agent_id(to);
  t.set_reason("billing question");
  t.set_request_id(NewUuid());
  EXPECT_EQ(e.Transfer(t).status().code(), absl::StatusCode::kFailedPrecondition);  // OFFLINE
  ASSERT_TRUE(e.SetPresence(to, v1::PRESENCE_BUSY).ok());
  absl::StatusOr<v1::TransferConversationResponse> r = e.Transfer(t);
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->assignment().agent_id(), to);
  EXPECT_EQ(r->assignment().from_agent_id(), from);
  EXPECT_EQ(Status(e, from).capacity_used(), 0);
  EXPECT_EQ(Status(e, to).capacity_used(), 1);
  EXPECT_TRUE(Events(from).back().has_transferred());
  EXPECT_EQ(Events(to).back().assigned().transfer_reason(), "billing question");
  EXPECT_TRUE(e.Transfer(t).ok());  // a repeat returns the first result
  EXPECT_EQ(Status(e, to).capacity_used(), 1);

  v1::TransferConversationRequest back = t;
  back.set_agent_id(from);
  back.set_request_id(NewUuid());
  EXPECT_EQ(e.Transfer(back).status().code(), absl::StatusCode::kPermissionDenied);

  const std::string waiting = Enqueue(e, ws2);  // enqueued after conv
  v1::TransferConversationRequest to_queue;
  to_queue.set_conversation_id(conv);
  to_queue.set_agent_id(to);
  to_queue.set_to_queue_id(q2);
  to_queue.set_request_id(NewUuid());
  absl::StatusOr<v1::TransferConversationResponse> queued = e.Transfer(to_queue);
  ASSERT_TRUE(queued.ok()) << queued.status();
  EXPECT_EQ(queued->status(), v1::ROUTING_STATUS_QUEUED);
  EXPECT_EQ(queued->position(), 1);  // keeps its original enqueue time
  EXPECT_EQ(e.GetQueuePosition(waiting)->position(), 2);
  EXPECT_EQ(Status(e, to).capacity_used(), 0);
  std::vector<session::v1::ApplyRoutingUpdateRequest> updates = SessionUpdates();
  ASSERT_TRUE(updates.back().has_queued());
  EXPECT_EQ(updates.back().queued().transferred_by_agent_id(), to);
}

TEST_F(EngineTest, ReopenAssignsToPreferredAgentDirectly) {
  const std::string q = b_.Queue();
  const std::string ws = b_.WorkStream(q);
  const std::string agent = b_.Agent(1, {});
  Publish();
  RedisEngine& e = Engine();
  ASSERT_TRUE(e.SetPresence(agent, v1::PRESENCE_BUSY).ok());
  v1::EnqueueConversationRequest r = Request(ws);
  r.set_preferred_agent_id(agent);
  absl::StatusOr<v1::EnqueueConversationResponse> resp = e.Enqueue(r);
  ASSERT_TRUE(resp.ok());
  EXPECT_EQ(resp->status(), v1::ROUTING_STATUS_ASSIGNED);
  EXPECT_EQ(Events(agent).back().assigned().assignment().kind(),
            common::v1::ASSIGNMENT_KIND_REOPENED);
  // No room left: the next reopen is queued as usual.
  v1::EnqueueConversationRequest r2 = Request(ws);
  r2.set_preferred_agent_id(agent);
  EXPECT_EQ(e.Enqueue(r2)->status(), v1::ROUTING_STATUS_QUEUED);
}

TEST_F(EngineTest, ScriptsComeBackAfterScriptFlush) {
  const std::string q = b_.Queue();
  const std::string ws = b_.WorkStream(q);
  Publish();
  RedisEngine& e = Engine();
  Enqueue(e, ws);
  ASSERT_TRUE(pool_->Get().Command({"SCRIPT", "FLUSH"}).ok());
  Enqueue(e, ws);  // EVALSHA answers NOSCRIPT; EVAL loads it again
  absl::StatusOr<redis::Reply> depth = pool_->Get().Command({"ZCARD", "t:queue:" + q});
  ASSERT_TRUE(depth.ok());
  EXPECT_EQ(depth->integer, 2);
}

using parley::testing::MetricSample;

TEST_F(EngineTest, MetricsCountOfferOutcomesAndTimeToAssign) {
  const std::string q = b_.Queue();
  const std::string ws =
      b_.WorkStream(q, v1::ROUTING_MODE_PUSH, 1, v1::ASSIGNMENT_STRATEGY_LEAST_ACTIVE, 100);
  const std::string a1 = b_.Agent(1, {q});
  const std::string a2 = b_.Agent(1, {q});
  Publish();
  prometheus::Registry registry;
  RouterMetrics metrics(registry);
  RedisEngine& e = Engine({}, &metrics);
  auto offers = [&](const std::string& outcome) {
    return MetricSample(registry, "parley_router_offers_total", {{"outcome", outcome}});
  };
  auto last_offer = [&](const std::string& agent) {
    std::vector<v1::AgentEvent> ev = Events(agent);
    EXPECT_FALSE(ev.empty());
    EXPECT_TRUE(!ev.empty() && ev.back().has_offer());
    return ev.empty() ? std::string() : ev.back().offer().offer().offer_id();
  };

  Available(e, a1);
  Enqueue(e, ws, NowMs() - 2000);  // waited two seconds already
  ASSERT_TRUE(e.AcceptOffer(last_offer(a1), a1).ok());
  EXPECT_EQ(offers("accepted"), 1);
  EXPECT_EQ(MetricSample(registry, "parley_router_time_to_assign_seconds", {{"queue_id", q}}), 1);

  Enqueue(e, ws);  // a1 is full: offered to a2
  Available(e, a2);
  ASSERT_TRUE(e.RejectOffer(last_offer(a2), a2).ok());  // a2 alone can take it: offered again
  EXPECT_EQ(offers("rejected"), 1);
  last_offer(a2);
  std::this_thread::sleep_for(std::chrono::milliseconds(150));
  absl::StatusOr<SweepResult> sweep = e.SweepOnce();  // expires, offers to a2 once more
  ASSERT_TRUE(sweep.ok()) << sweep.status();
  ASSERT_EQ(sweep->offers_expired, 1);
  EXPECT_EQ(offers("expired"), 1);
  last_offer(a2);
  ASSERT_TRUE(e.SetPresence(a2, v1::PRESENCE_AWAY).ok());
  EXPECT_EQ(offers("withdrawn"), 1);
  EXPECT_EQ(offers("accepted"), 1);
  EXPECT_EQ(MetricSample(registry, "parley_router_time_to_assign_seconds", {{"queue_id", q}}), 1);
}

TEST_F(EngineTest, LeavingAQueueWithdrawsItsOffersAndReoffersThem) {
  const std::string q = b_.Queue();
  const std::string other_q = b_.Queue();
  const std::string ws = b_.WorkStream(q);
  const std::string a1 = b_.Agent(1, {q, other_q});
  const std::string a2 = b_.Agent(1, {q});
  Publish();
  prometheus::Registry registry;
  RouterMetrics metrics(registry);
  RedisEngine& e = Engine({}, &metrics);
  Available(e, a1);
  const std::string conv = Enqueue(e, ws);
  ASSERT_EQ(Events(a1).size(), 1u);
  Available(e, a2);  // nothing for a2: the conversation is offered to a1
  ASSERT_TRUE(Events(a2).empty());
  ASSERT_TRUE(e.SyncAgents(*defs_.Current()).ok());  // no membership change: nothing happens
  ASSERT_EQ(Events(a1).size(), 1u);

  // a1 leaves q (but stays in other_q).
  b_.s.agents[a1].clear_queue_ids();
  b_.s.agents[a1].add_queue_ids(other_q);
  b_.s.queues[q].clear_agent_ids();
  b_.s.queues[q].add_agent_ids(a2);
  Publish();
  ASSERT_TRUE(e.SyncAgents(*defs_.Current()).ok());

  std::vector<v1::AgentEvent> ev1 = Events(a1);
  ASSERT_EQ(ev1.size(), 2u);
  EXPECT_EQ(ev1[1].offer_ended().reason(), v1::OFFER_END_REASON_WITHDRAWN);
  EXPECT_EQ(ev1[1].offer_ended().detail(), "agent is no longer a member of the queue");
  v1::AgentStatus s1 = Status(e, a1);
  EXPECT_EQ(s1.capacity_used(), 0);
  EXPECT_EQ(s1.pending_offer_ids_size(), 0);
  EXPECT_EQ(s1.presence(), v1::PRESENCE_AVAILABLE);
  std::vector<v1::AgentEvent> ev2 = Events(a2);
  ASSERT_EQ(ev2.size(), 1u);
  EXPECT_EQ(ev2[0].offer().offer().conversation_id(), conv);
  EXPECT_EQ(Status(e, a2).capacity_used(), 1);
  EXPECT_EQ(MetricSample(registry, "parley_router_offers_total", {{"outcome", "withdrawn"}}), 1);
}

// Many enqueues at once on one replica: the calls that find a pass running only ask it to look
// again, and those requests must not be lost. No sweeper runs here, so a conversation whose
// "look again" were dropped would stay queued. Bursts on fresh engines, so that the last
// enqueues of a burst often land while a pass is running.
TEST_F(EngineTest, ConcurrentEnqueuesAreAllOfferedWithoutASweep) {
  const std::string q = b_.Queue();
  const std::string ws = b_.WorkStream(q);
  std::vector<std::string> agents;
  for (int i = 0; i < 4; ++i) agents.push_back(b_.Agent(1000, {q}));
  Publish();
  for (const std::string& a : agents) Available(Engine(), a);
  constexpr int kBursts = 40, kThreads = 8, kEach = 2;
  for (int burst = 0; burst < kBursts; ++burst) {
    RedisEngine& e = Engine();
    std::vector<std::thread> threads;
    for (int t = 0; t < kThreads; ++t) {
      threads.emplace_back([&] {
        for (int i = 0; i < kEach; ++i) Enqueue(e, ws);
      });
    }
    for (std::thread& t : threads) t.join();
    engines_.clear();  // waits for the dispatcher thread to finish its passes
    absl::StatusOr<redis::Reply> depth = pool_->Get().Command({"ZCARD", "t:queue:" + q});
    ASSERT_TRUE(depth.ok());
    ASSERT_EQ(depth->integer, 0) << "burst " << burst;
  }
  std::set<std::string> offered;
  for (const std::string& a : agents) {
    for (const v1::AgentEvent& ev : Events(a)) {
      if (!ev.has_offer()) continue;
      EXPECT_TRUE(offered.insert(ev.conversation_id()).second) << "offered twice";
    }
  }
  EXPECT_EQ(offered.size(), static_cast<size_t>(kBursts * kThreads * kEach));
}

// Two engines (replicas) and many threads: random accept/reject/timeout and presence changes.
// A checker reads every agent's capacity use atomically, over and over, while it runs.
TEST_F(EngineTest, InvariantsHoldUnderConcurrency) {
  const std::string q = b_.Queue();
  const std::string ws =
      b_.WorkStream(q, v1::ROUTING_MODE_PUSH, 1, v1::ASSIGNMENT_STRATEGY_LEAST_ACTIVE, 200);
  std::vector<std::string> agents;
  for (int i = 0; i < 12; ++i) agents.push_back(b_.Agent(1 + i % 3, {q}));
  Publish();
  RedisEngine& r1 = Engine();
  RedisEngine& r2 = Engine();
  RedisEngine* replicas[2] = {&r1, &r2};
  constexpr int kConversations = 300;
  std::atomic<bool> stop{false};
  std::atomic<int> violations{0};
  absl::Mutex first_mu;
  std::map<std::string, int64_t> first_offer;  // conv -> global offer sequence of its 1st offer
  auto note_first = [&](const std::string& conv) {
    absl::StatusOr<redis::Reply> r = pool_->Get().Command({"HGET", "t:conv:" + conv, "first"});
    if (!r.ok() || r->type == redis::Reply::Type::kNil) return;
    absl::MutexLock lock(&first_mu);
    first_offer[conv] = std::stoll(r->str);
  };

  // Capacity checker: one Lua call reads every agent at one instant.
  std::thread checker([&] {
    redis::Client client(*redis::ParseAddress(server_->address()));
    std::string script =
        "local bad = 0 for i = 1, #ARGV do local a = redis.call('HMGET', 't:agent:' .. ARGV[i], "
        "'used', 'cap') if tonumber(a[1] or '0') > tonumber(a[2] or '0') or "
        "tonumber(a[1] or '0') < 0 then bad = bad + 1 end end return bad";
    std::vector<std::string> cmd = {"EVAL", script, "0"};
    cmd.insert(cmd.end(), agents.begin(), agents.end());
    while (!stop.load()) {
      absl::StatusOr<redis::Reply> r = client.Command(cmd);
      if (r.ok() && r->integer > 0) violations += static_cast<int>(r->integer);
    }
  });

  std::vector<std::string> convs(kConversations);
  std::thread producer([&] {
    const int64_t t0 = NowMs();
    for (int i = 0; i < kConversations; ++i) {
      v1::EnqueueConversationRequest r = Request(ws, t0 + i);
      convs[i] = r.conversation_id();
      ASSERT_TRUE(replicas[i % 2]->Enqueue(r).ok());
    }
  });
  std::vector<std::thread> workers;
  for (int w = 0; w < 4; ++w) {
    workers.emplace_back([&, w] {
      std::mt19937 rng(w);
      RedisEngine& e = *replicas[w % 2];
      while (!stop.load()) {
        const std::string& agent = agents[rng() % agents.size()];
        const int roll = static_cast<int>(rng() % 100);
        if (roll < 8) {
          (void)e.SetPresence(agent, roll < 4 ? v1::PRESENCE_AWAY : v1::PRESENCE_AVAILABLE);
          continue;
        }
        absl::StatusOr<v1::AgentStatus> s = e.GetAgentStatus(agent);
        if (!s.ok()) continue;
        for (const std::string& offer : s->pending_offer_ids()) {
          const int answer = static_cast<int>(rng() % 10);
          if (answer < 6) {
            (void)e.AcceptOffer(offer, agent);
          } else if (answer < 8) {
            (void)e.RejectOffer(offer, agent);
          }  // else: let it time out
        }
        // Finish some assigned conversations so that capacity keeps turning over.
        for (const std::string& conv : s->active_conversation_ids()) {
          if (rng() % 3 == 0) {
            note_first(conv);
            v1::FinishConversationRequest f;
            f.set_conversation_id(conv);
            f.set_request_id(NewUuid());
            (void)e.Finish(f);
          }
        }
      }
    });
  }
  std::thread sweeper([&] {
    int i = 0;
    while (!stop.load()) {
      (void)replicas[i++ % 2]->SweepOnce();
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
  });
  producer.join();

  // Run until every conversation was assigned (finished ones included), then stop.
  auto all_assigned = [&] {
    std::set<std::string> assigned;
    for (const auto& u : SessionUpdates()) {
      if (u.has_assigned()) assigned.insert(u.conversation_id());
    }
    return assigned.size() == static_cast<size_t>(kConversations);
  };
  const absl::Time deadline = absl::Now() + absl::Seconds(120);
  while (!all_assigned() && absl::Now() < deadline) {
    for (const std::string& a : agents) (void)r1.SetPresence(a, v1::PRESENCE_AVAILABLE);
    std::this_thread::sleep_for(std::chrono::milliseconds(200));
  }
  stop = true;
  for (std::thread& t : workers) t.join();
  sweeper.join();
  checker.join();

  EXPECT_EQ(violations.load(), 0);
  // Exactly one assignment per conversation: the session stream has one "assigned" each.
  std::map<std::string, int> assigned;
  for (const auto& u : SessionUpdates()) {
    if (u.has_assigned()) ++assigned[u.conversation_id()];
  }
  EXPECT_EQ(assigned.size(), static_cast<size_t>(kConversations));
  for (const auto& [conv, n] : assigned) EXPECT_EQ(n, 1) << conv;
  // Every agent's capacity use matches what it holds.
  for (const std::string& a : agents) {
    v1::AgentStatus s = Status(r1, a);
    EXPECT_LE(s.capacity_used(), s.capacity());
    EXPECT_EQ(s.capacity_used(), s.active_conversation_ids_size() + s.pending_offer_ids_size());
  }
  // FIFO: first offers happened in enqueue order.
  for (const std::string& conv : convs) note_first(conv);
  std::vector<std::pair<int64_t, int>> order;
  for (int i = 0; i < kConversations; ++i) {
    auto it = first_offer.find(convs[i]);
    if (it != first_offer.end()) order.emplace_back(it->second, i);
  }
  EXPECT_EQ(order.size(), static_cast<size_t>(kConversations));
  std::sort(order.begin(), order.end());
  for (size_t i = 1; i < order.size(); ++i) {
    EXPECT_LT(order[i - 1].second, order[i].second) << "FIFO broken at " << i;
  }
}

}  // namespace
}  // namespace parley::router::engine

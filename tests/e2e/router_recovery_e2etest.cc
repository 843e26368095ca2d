// Recovery of router with real binaries: a replica killed with SIGKILL while its offer is
// pending leaves nothing stranded (the other replica's sweeper expires the offer and offers the
// conversation again), and a Redis restarted empty is refilled from session's open and
// assigned conversations (queues rebuilt, agents' capacity held again).
#include <functional>

#include "tests/e2e/router_e2e.h"

namespace parley::e2e {
namespace {

bool WaitUntil(const std::function<bool()>& done, absl::Duration timeout) {
  const absl::Time deadline = absl::Now() + timeout;
  while (absl::Now() < deadline) {
    if (done()) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  return done();
}

class RouterRecoveryE2eTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_NO_FATAL_FAILURE(cluster_.Start(2, {"--presence_offline_after=10m"}));
    Admin admin(cluster_.routers_[0]->channel());
    queue_ = admin.Queue("general", 0);
    ws_ = admin.WorkStream("messenger general", queue_, 1, 5);
    a1_ = admin.Agent("first", 2, {queue_});
    a2_ = admin.Agent("second", 1, {queue_});
    for (const auto& r : cluster_.routers_) {
      routing_.push_back(router::v1::RoutingService::NewStub(r->channel()));
      presence_.push_back(router::v1::PresenceService::NewStub(r->channel()));
    }
    conversations_ = session::v1::ConversationService::NewStub(cluster_.session_->channel());
    ingest_ = session::v1::IngestService::NewStub(cluster_.session_->channel());
    // Both replicas have loaded the agents.
    for (auto& p : presence_) {
      ASSERT_TRUE(WaitUntil([&] { return Status(*p, a2_).ok(); }, absl::Seconds(10)));
    }
  }

  grpc::Status Status(router::v1::PresenceService::Stub& p, const std::string& agent,
                      router::v1::AgentStatus* out = nullptr) {
    router::v1::GetAgentStatusRequest r;
    r.set_agent_id(agent);
    router::v1::GetAgentStatusResponse resp;
    grpc::Status s = Call([&](grpc::ClientContext* c) { return p.GetAgentStatus(c, r, &resp); });
    if (out != nullptr) *out = resp.status();
    return s;
  }

  grpc::Status SetPresence(int replica, const std::string& agent, router::v1::Presence p) {
    router::v1::SetPresenceRequest r;
    r.set_agent_id(agent);
    r.set_presence(p);
    r.set_client_id("desktop");
    router::v1::SetPresenceResponse out;
    return Call(
        [&](grpc::ClientContext* c) { return presence_[replica]->SetPresence(c, r, &out); });
  }

  std::vector<std::string> Ingest(int first, int count) {
    session::v1::IngestRequest req = NewCustomers("1000000000000001", ws_, first, count);
    session::v1::IngestResponse out;
    grpc::Status s = Call([&](grpc::ClientContext* c) { return ingest_->Ingest(c, req, &out); });
    EXPECT_TRUE(s.ok()) << s.error_message();
    std::vector<std::string> ids;
    for (const auto& r : out.results()) ids.push_back(r.conversation_id());
    return ids;
  }

  // The agent's events from Redis, in order.
  std::vector<router::v1::AgentEvent> Events(const std::string& agent) {
    redis::Client redis = cluster_.Redis();
    absl::StatusOr<redis::Reply> r = redis.Command(
        {"XRANGE", absl::StrCat(RouterCluster::kPrefix, "agent-events:{", agent, "}"), "-", "+"});
    std::vector<router::v1::AgentEvent> out;
    if (!r.ok()) return out;
    for (const redis::Reply& entry : r->elements) {
      router::v1::AgentEvent e;
      e.ParseFromString(entry.elements[1].elements[1].str);
      out.push_back(e);
    }
    return out;
  }

  std::vector<std::string> PendingOffers(const std::string& agent) {
    std::vector<std::string> offers;
    for (const auto& e : Events(agent)) {
      if (e.has_offer()) offers.push_back(e.offer().offer().offer_id());
      if (e.has_offer_ended()) {
        offers.erase(std::remove(offers.begin(), offers.end(), e.offer_ended().offer_id()),
                     offers.end());
      }
      if (e.has_assigned()) offers.clear();
    }
    return offers;
  }

  grpc::Status Accept(int replica, const std::string& offer, const std::string& agent) {
    router::v1::AcceptOfferRequest r;
    r.set_offer_id(offer);
    r.set_agent_id(agent);
    router::v1::AcceptOfferResponse out;
    return Call([&](grpc::ClientContext* c) { return routing_[replica]->AcceptOffer(c, r, &out); });
  }

  session::v1::Conversation Conversation(const std::string& id) {
    session::v1::GetConversationRequest r;
    r.set_conversation_id(id);
    session::v1::GetConversationResponse out;
    (void)Call([&](grpc::ClientContext* c) { return conversations_->GetConversation(c, r, &out); });
    return out.conversation();
  }

  RouterCluster cluster_;
  std::string queue_, ws_, a1_, a2_;
  std::vector<std::unique_ptr<router::v1::RoutingService::Stub>> routing_;
  std::vector<std::unique_ptr<router::v1::PresenceService::Stub>> presence_;
  std::unique_ptr<session::v1::ConversationService::Stub> conversations_;
  std::unique_ptr<session::v1::IngestService::Stub> ingest_;
};

TEST_F(RouterRecoveryE2eTest, OfferOfAKilledReplicaExpiresAndIsOfferedAgain) {
  ASSERT_TRUE(SetPresence(0, a1_, router::v1::PRESENCE_AVAILABLE).ok());
  const std::vector<std::string> convs = Ingest(0, 1);
  ASSERT_EQ(convs.size(), 1u);
  // Session hands the conversation to replica 0, which offers it to a1 at once.
  ASSERT_TRUE(WaitUntil([&] { return PendingOffers(a1_).size() == 1; }, absl::Seconds(20)));
  cluster_.routers_[0]->Kill();
  ASSERT_TRUE(SetPresence(1, a2_, router::v1::PRESENCE_AVAILABLE).ok());

  // Replica 1 expires the dead replica's offer after the 5 s timeout and offers it to a2.
  ASSERT_TRUE(WaitUntil([&] { return PendingOffers(a2_).size() == 1; }, absl::Seconds(20)));
  std::vector<router::v1::AgentEvent> a1_events = Events(a1_);
  ASSERT_GE(a1_events.size(), 2u);
  EXPECT_EQ(a1_events.back().offer_ended().reason(), router::v1::OFFER_END_REASON_EXPIRED);
  ASSERT_TRUE(Accept(1, PendingOffers(a2_)[0], a2_).ok());
  // Session learns the assignment from replica 1's relay.
  EXPECT_TRUE(WaitUntil(
      [&] {
        session::v1::Conversation c = Conversation(convs[0]);
        return c.state() == common::v1::CONVERSATION_STATE_ACTIVE && c.agent_id() == a2_;
      },
      absl::Seconds(20)))
      << cluster_.routers_[1]->Log().substr(0, 4000);
}

TEST_F(RouterRecoveryE2eTest, RedisRestartedEmptyIsRebuiltFromSession) {
  ASSERT_TRUE(SetPresence(1, a1_, router::v1::PRESENCE_AVAILABLE).ok());
  const std::vector<std::string> convs = Ingest(0, 3);
  ASSERT_EQ(convs.size(), 3u);
  // a1 (capacity 2) accepts two; the third waits (a2 is offline).
  for (int accepted = 0; accepted < 2;) {
    ASSERT_TRUE(WaitUntil([&] { return !PendingOffers(a1_).empty(); }, absl::Seconds(20)));
    if (Accept(1, PendingOffers(a1_)[0], a1_).ok()) ++accepted;
  }
  ASSERT_TRUE(WaitUntil(
      [&] {
        int active = 0;
        for (const std::string& c : convs) {
          active += Conversation(c).state() == common::v1::CONVERSATION_STATE_ACTIVE;
        }
        return active == 2;
      },
      absl::Seconds(20)));

  ASSERT_TRUE(cluster_.redis_->Stop().ok());
  ASSERT_TRUE(cluster_.redis_->Resume().ok());  // empty: no persistence

  // The replicas notice, rebuild from session: a1 holds its two conversations again.
  router::v1::AgentStatus status;
  EXPECT_TRUE(WaitUntil(
      [&] {
        return Status(*presence_[0], a1_, &status).ok() && status.capacity_used() == 2 &&
               status.active_conversation_ids_size() == 2;
      },
      absl::Seconds(30)))
      << status.DebugString();
  // The open one is queued again and goes to a2 as soon as a2 is available.
  ASSERT_TRUE(WaitUntil([&] { return SetPresence(0, a2_, router::v1::PRESENCE_AVAILABLE).ok(); },
                        absl::Seconds(10)));
  ASSERT_TRUE(WaitUntil([&] { return PendingOffers(a2_).size() == 1; }, absl::Seconds(20)));
  ASSERT_TRUE(Accept(0, PendingOffers(a2_)[0], a2_).ok());
  EXPECT_TRUE(WaitUntil(
      [&] {
        for (const std::string& c : convs) {
          if (Conversation(c).state() != common::v1::CONVERSATION_STATE_ACTIVE) return false;
        }
        return true;
      },
      absl::Seconds(20)));
}

}  // namespace
}  // namespace parley::e2e

// Two real parley-router replicas side by side on one real Redis and PostgreSQL, with the
// real parley-session binary handing them conversations from its outbox: 1,000 conversations
// and 50 agents with random accept / reject / timeout and presence changes. Every
// conversation must end assigned exactly once, no agent may ever be over capacity (a checker
// reads every agent's capacity in one atomic Redis script, over and over, while it runs), and
// each queue must be served FIFO: a conversation is never offered while an earlier one of the
// same queue, already waiting at that moment, has not been offered yet.
#include <atomic>
#include <deque>
#include <iostream>
#include <map>
#include <mutex>
#include <random>
#include <set>

#include "tests/e2e/router_e2e.h"

namespace parley::e2e {
namespace {

constexpr int kAgents = 50;
constexpr int kConversations = 1000;

// A few threads running the agents' answers (gRPC calls) off the event reader's thread.
class Workers {
 public:
  explicit Workers(int n) {
    for (int i = 0; i < n; ++i) threads_.emplace_back([this] { Run(); });
  }
  ~Workers() {
    {
      std::lock_guard<std::mutex> lock(mu_);
      stop_ = true;
    }
    cv_.notify_all();
    for (std::thread& t : threads_) t.join();
  }
  void Post(std::function<void()> f) {
    {
      std::lock_guard<std::mutex> lock(mu_);
      tasks_.push_back(std::move(f));
    }
    cv_.notify_one();
  }

 private:
  void Run() {
    while (true) {
      std::function<void()> f;
      {
        std::unique_lock<std::mutex> lock(mu_);
        cv_.wait(lock, [this] { return stop_ || !tasks_.empty(); });
        if (tasks_.empty()) return;
        f = std::move(tasks_.front());
        tasks_.pop_front();
      }
      f();
    }
  }
  std::mutex mu_;
  std::condition_variable cv_;
  std::deque<std::function<void()>> tasks_;
  bool stop_ = false;
  std::vector<std::thread> threads_;
};

struct FirstOffer {
  std::string queue;
  int64_t enq = 0;    // enqueue time (ms): the FIFO key
  int64_t first = 0;  // global sequence number of its first offer
  int64_t eseq = 0;   // offers made before it was queued
};

TEST(RouterStressE2eTest, TwoReplicasAssignEveryConversationOnceWithinCapacityAndFifo) {
  RouterCluster cluster;
  ASSERT_NO_FATAL_FAILURE(cluster.Start(2, {"--presence_offline_after=10m"}));
  Admin admin(cluster.routers_[0]->channel());
  const std::string general = admin.Queue("general", 0);
  const std::string billing = admin.Queue("billing", 0);
  const std::string vip = admin.Queue("vip", 10);
  const std::string ws_general = admin.WorkStream("messenger general", general, 1, 5);
  const std::string ws_billing = admin.WorkStream("messenger billing", billing, 2, 5);
  admin.EndpointRule(ws_general, "3000000000000003", vip);
  std::vector<std::string> agents;
  std::map<std::string, int> capacity;
  for (int i = 0; i < kAgents; ++i) {
    agents.push_back(admin.Agent(absl::StrCat("agent ", i), 1 + i % 3, {general, billing, vip}));
    capacity[agents.back()] = 1 + i % 3;
  }

  std::vector<std::unique_ptr<router::v1::RoutingService::Stub>> routing;
  std::vector<std::unique_ptr<router::v1::PresenceService::Stub>> presence;
  for (const auto& r : cluster.routers_) {
    routing.push_back(router::v1::RoutingService::NewStub(r->channel()));
    presence.push_back(router::v1::PresenceService::NewStub(r->channel()));
  }
  auto conversations = session::v1::ConversationService::NewStub(cluster.session_->channel());
  auto ingest = session::v1::IngestService::NewStub(cluster.session_->channel());

  // Both replicas see every agent before anything starts.
  for (auto& p : presence) {
    int known = 0;
    for (int attempt = 0; attempt < 100 && known < kAgents; ++attempt) {
      router::v1::ListAgentStatusesRequest r;
      r.set_page_size(100);
      router::v1::ListAgentStatusesResponse out;
      if (Call([&](grpc::ClientContext* c) { return p->ListAgentStatuses(c, r, &out); }).ok()) {
        known = out.statuses_size();
      }
      if (known < kAgents) std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
    ASSERT_EQ(known, kAgents);
  }
  auto set_presence = [&](const std::string& agent, router::v1::Presence p, int replica) {
    router::v1::SetPresenceRequest r;
    r.set_agent_id(agent);
    r.set_presence(p);
    r.set_client_id("stress-desktop");
    router::v1::SetPresenceResponse out;
    return Call([&](grpc::ClientContext* c) { return presence[replica]->SetPresence(c, r, &out); });
  };
  for (int i = 0; i < kAgents; ++i) {
    ASSERT_TRUE(set_presence(agents[i], router::v1::PRESENCE_AVAILABLE, i % 2).ok());
  }

  std::atomic<bool> stop{false};
  std::atomic<int64_t> checks{0}, violations{0}, unexpected{0};
  std::atomic<int> accepted{0}, rejected{0}, ignored{0}, flaps{0};
  std::mutex mu;
  std::map<std::string, int> assigned;  // conversation -> AssignedEvents seen
  std::map<std::string, FirstOffer> first_offers;

  // Capacity checker: every agent's use against its capacity, in one atomic script.
  std::thread checker([&] {
    redis::Client redis = cluster.Redis();
    std::string script =
        "local bad = 0 for i = 1, #ARGV, 2 do "
        "local used = tonumber(redis.call('HGET', KEYS[1] .. ARGV[i], 'used') or '0') "
        "if used > tonumber(ARGV[i + 1]) or used < 0 then bad = bad + 1 end end return bad";
    std::vector<std::string> cmd = {"EVAL", script, "1",
                                    absl::StrCat(RouterCluster::kPrefix, "agent:")};
    for (const auto& [agent, cap] : capacity) cmd.insert(cmd.end(), {agent, absl::StrCat(cap)});
    while (!stop.load()) {
      absl::StatusOr<redis::Reply> r = redis.Command(cmd);
      if (!r.ok()) continue;
      ++checks;
      violations += r->integer;
    }
  });

  Workers workers(8);
  std::thread flapper([&] {
    std::mt19937 rng(7);
    while (!stop.load()) {
      const std::string agent = agents[rng() % agents.size()];
      const auto away = rng() % 2 == 0 ? router::v1::PRESENCE_AWAY : router::v1::PRESENCE_BUSY;
      if (set_presence(agent, away, static_cast<int>(rng() % 2)).ok()) ++flaps;
      std::this_thread::sleep_for(std::chrono::milliseconds(150));
      (void)set_presence(agent, router::v1::PRESENCE_AVAILABLE, static_cast<int>(rng() % 2));
    }
  });

  // The agents' desktops: read every agent's event stream, answer offers at random, close
  // conversations once assigned (session then tells router to release the capacity).
  std::thread reader([&] {
    redis::Client redis = cluster.Redis();
    std::mt19937 rng(11);
    std::vector<std::string> ids(agents.size(), "0-0");
    while (!stop.load()) {
      std::vector<std::string> cmd = {"XREAD", "COUNT", "200", "BLOCK", "200", "STREAMS"};
      for (const std::string& a : agents) {
        cmd.push_back(absl::StrCat(RouterCluster::kPrefix, "agent-events:{", a, "}"));
      }
      cmd.insert(cmd.end(), ids.begin(), ids.end());
      absl::StatusOr<redis::Reply> r = redis.Command(cmd);
      if (!r.ok()) continue;
      for (const redis::Reply& stream : r->elements) {
        const std::string& key = stream.elements[0].str;
        const std::string agent = key.substr(key.find('{') + 1, 36);
        const size_t index = std::find(agents.begin(), agents.end(), agent) - agents.begin();
        for (const redis::Reply& entry : stream.elements[1].elements) {
          ids[index] = entry.elements[0].str;
          router::v1::AgentEvent event;
          if (!event.ParseFromString(entry.elements[1].elements[1].str)) {
            ++unexpected;
            continue;
          }
          const std::string conv = event.conversation_id();
          if (event.has_offer()) {
            absl::StatusOr<redis::Reply> h = redis.Command(
                {"HMGET", absl::StrCat(RouterCluster::kPrefix, "conv:", conv), "first", "eseq"});
            {
              std::lock_guard<std::mutex> lock(mu);
              if (h.ok() && !first_offers.contains(conv) && h->elements.size() == 2 &&
                  !h->elements[0].str.empty()) {
                FirstOffer& f = first_offers[conv];
                f.queue = event.offer().offer().queue_id();
                f.enq = event.offer().offer().enqueue_time().seconds() * 1000 +
                        event.offer().offer().enqueue_time().nanos() / 1000000;
                f.first = std::stoll(h->elements[0].str);
                f.eseq = std::stoll(h->elements[1].str);
              }
            }
            const int roll = static_cast<int>(rng() % 100);
            const std::string offer_id = event.offer().offer().offer_id();
            const int replica = static_cast<int>(rng() % 2);
            if (roll < 75) {
              workers.Post([&, offer_id, agent, replica] {
                router::v1::AcceptOfferRequest req;
                req.set_offer_id(offer_id);
                req.set_agent_id(agent);
                router::v1::AcceptOfferResponse out;
                grpc::Status s = Call([&](grpc::ClientContext* c) {
                  return routing[replica]->AcceptOffer(c, req, &out);
                });
                if (s.ok()) ++accepted;
                if (!s.ok() && s.error_code() != grpc::StatusCode::FAILED_PRECONDITION) {
                  ++unexpected;
                }
              });
            } else if (roll < 90) {
              workers.Post([&, offer_id, agent, replica] {
                router::v1::RejectOfferRequest req;
                req.set_offer_id(offer_id);
                req.set_agent_id(agent);
                router::v1::RejectOfferResponse out;
                grpc::Status s = Call([&](grpc::ClientContext* c) {
                  return routing[replica]->RejectOffer(c, req, &out);
                });
                if (s.ok()) ++rejected;
                if (!s.ok() && s.error_code() != grpc::StatusCode::FAILED_PRECONDITION) {
                  ++unexpected;
                }
              });
            } else {
              ++ignored;  // the offer expires after the work stream's 5 s
            }
          } else if (event.has_assigned()) {
            {
              std::lock_guard<std::mutex> lock(mu);
              ++assigned[conv];
            }
            workers.Post([&, conv, agent] {
              // Session may not have applied the assignment yet: retry until it has.
              for (int attempt = 0; attempt < 100 && !stop.load(); ++attempt) {
                session::v1::ChangeConversationStateRequest req;
                req.set_conversation_id(conv);
                req.set_state(common::v1::CONVERSATION_STATE_CLOSED);
                req.set_agent_id(agent);
                req.set_request_id(absl::StrCat("00000000-0000-4000-8000-", conv.substr(24)));
                session::v1::ChangeConversationStateResponse out;
                grpc::Status s = Call([&](grpc::ClientContext* c) {
                  return conversations->ChangeConversationState(c, req, &out);
                });
                if (s.ok()) return;
                std::this_thread::sleep_for(std::chrono::milliseconds(50));
              }
            });
          }
        }
      }
    }
  });

  // 1,000 customers write in, in batches, while the agents work.
  struct Page {
    std::string id, ws;
    int count;
  };
  const std::vector<Page> pages = {{"1000000000000001", ws_general, 500},
                                   {"2000000000000002", ws_billing, 300},
                                   {"3000000000000003", ws_general, 200}};
  for (const Page& page : pages) {
    for (int first = 0; first < page.count; first += 50) {
      session::v1::IngestRequest req = NewCustomers(page.id, page.ws, first, 50);
      session::v1::IngestResponse out;
      grpc::Status s = Call([&](grpc::ClientContext* c) { return ingest->Ingest(c, req, &out); });
      ASSERT_TRUE(s.ok()) << s.error_message();
    }
  }

  const absl::Time deadline = absl::Now() + absl::Seconds(150);
  size_t done = 0;
  while (absl::Now() < deadline) {
    {
      std::lock_guard<std::mutex> lock(mu);
      done = assigned.size();
    }
    if (done == kConversations) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(200));
  }
  stop = true;
  flapper.join();
  reader.join();
  checker.join();

  std::cout << "assigned=" << done << " accepted=" << accepted << " rejected=" << rejected
            << " ignored(expired)=" << ignored << " presence_flaps=" << flaps
            << " capacity_checks=" << checks << std::endl;
  EXPECT_EQ(done, static_cast<size_t>(kConversations))
      << cluster.routers_[0]->Log().substr(0, 4000);
  for (const auto& [conv, n] : assigned) EXPECT_EQ(n, 1) << conv << " assigned " << n << " times";
  EXPECT_EQ(violations.load(), 0) << "agent over capacity";
  EXPECT_GT(checks.load(), 100);
  EXPECT_EQ(unexpected.load(), 0);
  EXPECT_GT(rejected.load(), 0);
  EXPECT_GT(ignored.load(), 0);
  EXPECT_GT(flaps.load(), 0);

  // FIFO within each queue.
  int fifo_violations = 0;
  for (const auto& [x_id, x] : first_offers) {
    for (const auto& [y_id, y] : first_offers) {
      if (x.queue != y.queue || y.enq >= x.enq) continue;
      // y was waiting (queued before x's first offer) and is earlier, yet offered later.
      if (y.eseq < x.first && y.first > x.first) ++fifo_violations;
    }
  }
  EXPECT_EQ(first_offers.size(), static_cast<size_t>(kConversations));
  EXPECT_EQ(fifo_violations, 0);

  // Session learned every assignment: nothing is left OPEN there.
  int open = -1;
  for (int attempt = 0; attempt < 100 && open != 0; ++attempt) {
    session::v1::ListConversationsRequest r;
    r.add_states(common::v1::CONVERSATION_STATE_OPEN);
    r.set_page_size(500);
    session::v1::ListConversationsResponse out;
    if (Call([&](grpc::ClientContext* c) {
          return conversations->ListConversations(c, r, &out);
        }).ok()) {
      open = out.conversations_size();
    }
    if (open != 0) std::this_thread::sleep_for(std::chrono::milliseconds(200));
  }
  EXPECT_EQ(open, 0);
}

}  // namespace
}  // namespace parley::e2e

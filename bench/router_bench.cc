// Router assignment throughput and enqueue-to-offer latency against running router replicas
// (driven by bench/run_router.sh, which also measures redis-benchmark on the same Redis).
//
//   router_bench <router1,router2,...> <redis host:port> <agents> <producers> <seconds> <rate>
//
// Creates a queue, a push work stream and `agents` agents (capacity 1000) through
// RoutingAdminService, makes them Available, then `producers` threads enqueue new
// conversations (at `rate` per second in total, 0 for as fast as they can) on the replicas in
// turn, while two "desktop" threads read the agents' event streams from Redis and answer each
// offer with asynchronous calls: accept on one replica, then finish the conversation on another
// (so capacity turns over). Prints one line:
//   assignments_per_sec=... enqueued=... assigned=... p50_ms=... p99_ms=...
// where the latency is from the start of EnqueueConversation to the offer being readable in
// the agent's stream.
#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <map>
#include <mutex>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "grpcpp/grpcpp.h"
#include "libs/redis/client.h"
#include "parley/router/v1/router.grpc.pb.h"

namespace {

using Clock = std::chrono::steady_clock;
namespace v1 = parley::router::v1;

std::string Uuid(std::mt19937_64& rng) {
  const uint64_t a = rng(), b = rng();
  char buf[40];
  std::snprintf(buf, sizeof(buf), "%08x-%04x-4%03x-8%03x-%012llx", static_cast<unsigned>(a >> 32),
                static_cast<unsigned>((a >> 16) & 0xffff), static_cast<unsigned>(a & 0xfff),
                static_cast<unsigned>((b >> 48) & 0xfff),
                static_cast<unsigned long long>(b & 0xffffffffffffULL));
  return buf;
}

template <typename F>
grpc::Status Call(F f) {
  grpc::ClientContext ctx;
  ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(10));
  return f(&ctx);
}

void Die(const std::string& what, const grpc::Status& s) {
  std::fprintf(stderr, "router_bench: %s: %s\n", what.c_str(), s.error_message().c_str());
  std::exit(1);
}

// Sets every agent's presence, spreading the calls over the replicas; tries every agent and
// returns the first failure.
grpc::Status SetPresenceOfAll(
    const std::vector<std::unique_ptr<v1::PresenceService::Stub>>& presence,
    const std::vector<std::string>& agents, v1::Presence state) {
  grpc::Status first_failure = grpc::Status::OK;
  for (size_t i = 0; i < agents.size(); ++i) {
    v1::SetPresenceRequest r;
    r.set_agent_id(agents[i]);
    r.set_presence(state);
    r.set_client_id("bench");
    v1::SetPresenceResponse out;
    grpc::Status s =
        Call([&](auto* c) { return presence[i % presence.size()]->SetPresence(c, r, &out); });
    if (!s.ok() && first_failure.ok()) first_failure = s;
  }
  return first_failure;
}

struct Shared {
  std::mutex mu;
  std::map<std::string, Clock::time_point> sent;  // conversation -> enqueue start
  std::vector<double> latencies_ms;
  std::atomic<int64_t> enqueued{0}, assigned{0}, errors{0}, answering{0};
  std::atomic<bool> stop{false};
};

// One agent's answer to an offer: accept it on one replica, then finish the conversation on
// another (so capacity turns over), in gRPC's callbacks, so that no thread waits on a call.
struct Answer {
  grpc::ClientContext accept_context, finish_context;
  v1::AcceptOfferRequest accept;
  v1::AcceptOfferResponse accepted;
  v1::FinishConversationRequest finish;
  v1::FinishConversationResponse finished;
};

void AnswerOffer(Shared& shared, v1::RoutingService::Stub* accept_on,
                 v1::RoutingService::Stub* finish_on, const std::string& offer_id,
                 const std::string& conversation_id, const std::string& agent_id) {
  auto* a = new Answer;
  a->accept.set_offer_id(offer_id);
  a->accept.set_agent_id(agent_id);
  a->finish.set_conversation_id(conversation_id);
  a->finish.set_request_id(offer_id);
  a->finish.set_reason("bench");
  const auto deadline = std::chrono::system_clock::now() + std::chrono::seconds(10);
  a->accept_context.set_deadline(deadline);
  a->finish_context.set_deadline(deadline);
  ++shared.answering;
  accept_on->async()->AcceptOffer(
      &a->accept_context, &a->accept, &a->accepted, [&shared, a, finish_on](grpc::Status s) {
        if (!s.ok()) {
          ++shared.errors;
          delete a;
          --shared.answering;
          return;
        }
        ++shared.assigned;
        finish_on->async()->FinishConversation(&a->finish_context, &a->finish, &a->finished,
                                               [&shared, a](grpc::Status f) {
                                                 if (!f.ok()) ++shared.errors;
                                                 delete a;
                                                 --shared.answering;
                                               });
      });
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 7) {
    std::fprintf(stderr,
                 "usage: router_bench <router,...> <redis> <agents> <producers> <seconds> "
                 "<rate>\n");
    return 2;
  }
  std::vector<std::string> routers = absl::StrSplit(argv[1], ',');
  auto redis_options = parley::redis::ParseAddress(argv[2]);
  int agents_n = 0, producers = 0, seconds = 0, rate = 0;
  if (!redis_options.ok() || !absl::SimpleAtoi(argv[3], &agents_n) ||
      !absl::SimpleAtoi(argv[4], &producers) || !absl::SimpleAtoi(argv[5], &seconds) ||
      !absl::SimpleAtoi(argv[6], &rate)) {
    std::fprintf(stderr, "router_bench: bad arguments\n");
    return 2;
  }
  std::vector<std::shared_ptr<grpc::Channel>> channels;
  std::vector<std::unique_ptr<v1::RoutingService::Stub>> routing;
  std::vector<std::unique_ptr<v1::PresenceService::Stub>> presence;
  for (const std::string& r : routers) {
    channels.push_back(grpc::CreateChannel(r, grpc::InsecureChannelCredentials()));
    routing.push_back(v1::RoutingService::NewStub(channels.back()));
    presence.push_back(v1::PresenceService::NewStub(channels.back()));
  }
  auto admin = v1::RoutingAdminService::NewStub(channels[0]);
  std::mt19937_64 rng(std::random_device{}());
  const std::string tag = Uuid(rng).substr(0, 8);

  v1::CreateQueueRequest cq;
  cq.mutable_queue()->set_name("bench " + tag);
  v1::CreateQueueResponse queue;
  if (auto s = Call([&](auto* c) { return admin->CreateQueue(c, cq, &queue); }); !s.ok()) {
    Die("CreateQueue", s);
  }
  v1::CreateWorkStreamRequest cw;
  auto* ws = cw.mutable_work_stream();
  ws->set_name("bench " + tag);
  ws->set_channel(parley::common::v1::CHANNEL_MESSENGER);
  ws->set_mode(v1::ROUTING_MODE_PUSH);
  ws->set_strategy(v1::ASSIGNMENT_STRATEGY_LEAST_ACTIVE);
  ws->set_capacity_cost(1);
  ws->mutable_offer_timeout()->set_seconds(600);
  ws->set_default_queue_id(queue.queue().id());
  v1::CreateWorkStreamResponse work_stream;
  if (auto s = Call([&](auto* c) { return admin->CreateWorkStream(c, cw, &work_stream); });
      !s.ok()) {
    Die("CreateWorkStream", s);
  }
  std::vector<std::string> agents;
  for (int i = 0; i < agents_n; ++i) {
    v1::CreateAgentRequest ca;
    ca.mutable_agent()->set_display_name(absl::StrCat("bench ", tag, " ", i));
    ca.mutable_agent()->set_capacity(1000);
    ca.mutable_agent()->set_enabled(true);
    ca.mutable_agent()->add_queue_ids(queue.queue().id());
    v1::CreateAgentResponse agent;
    if (auto s = Call([&](auto* c) { return admin->CreateAgent(c, ca, &agent); }); !s.ok()) {
      Die("CreateAgent", s);
    }
    agents.push_back(agent.agent().id());
  }
  // Every replica must know the agents (definitions reach replicas within seconds).
  for (auto& p : presence) {
    for (int attempt = 0;; ++attempt) {
      v1::GetAgentStatusRequest r;
      r.set_agent_id(agents.back());
      v1::GetAgentStatusResponse out;
      if (Call([&](auto* c) { return p->GetAgentStatus(c, r, &out); }).ok()) break;
      if (attempt > 100) Die("agents never reached a replica", grpc::Status::CANCELLED);
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
  }
  if (auto s = SetPresenceOfAll(presence, agents, v1::PRESENCE_AVAILABLE); !s.ok()) {
    Die("SetPresence", s);
  }

  Shared shared;
  // Desktops: each reads a slice of the agents' streams and notes when each offer arrived.
  const int desktops = std::min<int>(2, agents_n);
  std::vector<std::thread> threads;
  for (int d = 0; d < desktops; ++d) {
    threads.emplace_back([&, d] {
      parley::redis::ClientOptions o = *redis_options;
      o.command_timeout = absl::Seconds(5);
      parley::redis::Client redis(o);
      std::vector<std::string> mine;
      for (size_t i = d; i < agents.size(); i += desktops) mine.push_back(agents[i]);
      std::vector<std::string> ids(mine.size(), "$");
      size_t turn = d;
      while (!shared.stop.load()) {
        std::vector<std::string> cmd = {"XREAD", "COUNT", "100", "BLOCK", "100", "STREAMS"};
        for (const std::string& a : mine) cmd.push_back("parley:router:agent-events:{" + a + "}");
        cmd.insert(cmd.end(), ids.begin(), ids.end());
        auto reply = redis.Command(cmd);
        const Clock::time_point seen = Clock::now();
        if (!reply.ok()) continue;
        for (const auto& stream : reply->elements) {
          const std::string& key = stream.elements[0].str;
          const std::string agent = key.substr(key.find('{') + 1, 36);
          const size_t idx = std::find(mine.begin(), mine.end(), agent) - mine.begin();
          for (const auto& entry : stream.elements[1].elements) {
            ids[idx] = entry.elements[0].str;
            v1::AgentEvent event;
            if (!event.ParseFromString(entry.elements[1].elements[1].str) || !event.has_offer()) {
              continue;
            }
            {
              std::lock_guard<std::mutex> lock(shared.mu);
              auto it = shared.sent.find(event.conversation_id());
              if (it != shared.sent.end()) {
                shared.latencies_ms.push_back(
                    std::chrono::duration<double, std::milli>(seen - it->second).count());
                shared.sent.erase(it);
              }
            }
            const size_t r1 = turn++ % routing.size(), r2 = turn++ % routing.size();
            AnswerOffer(shared, routing[r1].get(), routing[r2].get(),
                        event.offer().offer().offer_id(), event.conversation_id(), agent);
          }
        }
      }
    });
  }

  std::this_thread::sleep_for(std::chrono::milliseconds(300));  // desktops are reading
  const Clock::time_point start = Clock::now();
  const Clock::time_point end = start + std::chrono::seconds(seconds);
  for (int p = 0; p < producers; ++p) {
    threads.emplace_back([&, p] {
      std::mt19937_64 prng(std::random_device{}() + p);
      const double interval_s = rate > 0 ? static_cast<double>(producers) / rate : 0;
      // Each producer starts at its own phase of the interval, so that at a set rate the
      // conversations arrive evenly spread, not in bursts of `producers` at the same instant.
      Clock::time_point next =
          start + std::chrono::duration_cast<Clock::duration>(
                      std::chrono::duration<double>(interval_s * p / producers));
      for (int64_t i = 0; Clock::now() < end; ++i) {
        if (rate > 0) {
          next += std::chrono::duration_cast<Clock::duration>(
              std::chrono::duration<double>(interval_s));
          std::this_thread::sleep_until(next);
        }
        v1::EnqueueConversationRequest r;
        r.set_conversation_id(Uuid(prng));
        r.set_request_id(Uuid(prng));
        r.set_work_stream_id(work_stream.work_stream().id());
        r.mutable_context()->set_channel(parley::common::v1::CHANNEL_MESSENGER);
        r.mutable_context()->set_customer_name("bench customer");
        const auto now_ms = std::chrono::duration_cast<std::chrono::milliseconds>(
                                std::chrono::system_clock::now().time_since_epoch())
                                .count();
        r.mutable_enqueue_time()->set_seconds(now_ms / 1000);
        r.mutable_enqueue_time()->set_nanos(static_cast<int>(now_ms % 1000) * 1000000);
        {
          std::lock_guard<std::mutex> lock(shared.mu);
          shared.sent[r.conversation_id()] = Clock::now();
        }
        v1::EnqueueConversationResponse out;
        auto& stub = routing[(p + i) % routing.size()];
        if (Call([&](auto* c) { return stub->EnqueueConversation(c, r, &out); }).ok()) {
          ++shared.enqueued;
        } else {
          ++shared.errors;
        }
      }
    });
  }
  std::this_thread::sleep_until(end);
  const int64_t assigned_at_end = shared.assigned.load();
  std::this_thread::sleep_for(std::chrono::milliseconds(500));  // let in-flight offers land
  shared.stop = true;
  for (std::thread& t : threads) t.join();
  for (int i = 0; i < 1000 && shared.answering.load() > 0; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  // Offline: this run's backlog is withdrawn and never offered again, so that a following run
  // measures only its own work.
  (void)SetPresenceOfAll(presence, agents, v1::PRESENCE_OFFLINE);

  std::vector<double> lat = shared.latencies_ms;
  std::sort(lat.begin(), lat.end());
  auto pct = [&](double q) {
    return lat.empty() ? 0.0 : lat[std::min(lat.size() - 1, static_cast<size_t>(q * lat.size()))];
  };
  std::printf(
      "assignments_per_sec=%.0f enqueued=%lld assigned=%lld errors=%lld p50_ms=%.2f "
      "p99_ms=%.2f\n",
      static_cast<double>(assigned_at_end) / seconds,
      static_cast<long long>(shared.enqueued.load()),
      static_cast<long long>(shared.assigned.load()), static_cast<long long>(shared.errors.load()),
      pct(0.5), pct(0.99));
  return 0;
}

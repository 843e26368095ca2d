// Shared by router's end-to-end tests: a real PostgreSQL database, a real Redis, the real
// parley-session binary and several real parley-router replicas side by side, with the
// routing definitions created through RoutingAdminService and conversations created by
// ingesting customer messages into session (whose outbox hands them to router).
#pragma once

#include <signal.h>

#include <chrono>
#include <fstream>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "grpcpp/grpcpp.h"
#include "gtest/gtest.h"
#include "libs/redis/client.h"
#include "libs/testing/probes.h"
#include "libs/testing/servers.h"
#include "libs/testing/subprocess.h"
#include "parley/router/v1/router.grpc.pb.h"
#include "parley/session/v1/session.grpc.pb.h"

namespace parley::e2e {

// One service binary started with flags, killed or stopped on demand.
class Binary {
 public:
  static std::unique_ptr<Binary> Start(const std::string& path, std::vector<std::string> flags,
                                       const std::string& log, int grpc_port = 0) {
    auto b = std::unique_ptr<Binary>(new Binary);
    b->path_ = path;
    b->grpc_port_ = grpc_port != 0 ? grpc_port : testing::PickFreePort();
    b->log_ = log;
    flags.push_back(absl::StrCat("--grpc_address=127.0.0.1:", b->grpc_port_));
    flags.push_back(absl::StrCat("--metrics_address=127.0.0.1:", testing::PickFreePort()));
    flags.push_back("--health_poll_interval=100ms");
    b->flags_ = flags;
    if (!b->Launch()) return nullptr;
    return b;
  }

  bool Launch() {
    std::vector<std::string> argv = {path_};
    argv.insert(argv.end(), flags_.begin(), flags_.end());
    auto process = testing::Subprocess::Spawn(argv, {}, log_);
    EXPECT_TRUE(process.ok()) << process.status();
    if (!process.ok()) return false;
    process_ = *std::move(process);
    const absl::Status up = testing::WaitForHealth(
        address(), grpc::health::v1::HealthCheckResponse::SERVING, absl::Seconds(60));
    EXPECT_TRUE(up.ok()) << up << "\n" << Log();
    return up.ok();
  }

  void Kill() {
    process_->Signal(SIGKILL);
    (void)process_->WaitFor(absl::Seconds(10));
  }

  std::string address() const { return absl::StrCat("127.0.0.1:", grpc_port_); }
  std::shared_ptr<grpc::Channel> channel() const {
    return grpc::CreateChannel(address(), grpc::InsecureChannelCredentials());
  }
  std::string Log() const {
    std::ifstream in(log_);
    return std::string(std::istreambuf_iterator<char>(in), {});
  }

 private:
  Binary() = default;
  std::string path_;
  std::vector<std::string> flags_;
  int grpc_port_ = 0;
  std::string log_;
  std::unique_ptr<testing::Subprocess> process_;
};

inline grpc::Status Call(const std::function<grpc::Status(grpc::ClientContext*)>& rpc,
                         absl::Duration timeout = absl::Seconds(10)) {
  grpc::ClientContext ctx;
  ctx.set_deadline(std::chrono::system_clock::now() + absl::ToChronoMilliseconds(timeout));
  return rpc(&ctx);
}

// PostgreSQL + Redis + session + `replicas` routers.
class RouterCluster {
 public:
  static constexpr char kPrefix[] = "parley:router:";

  void Start(int replicas, const std::vector<std::string>& router_flags) {
    dir_ = testing::MakeTempDir("parley-router-e2e");
    auto db = testing::TestDatabase::Create();
    ASSERT_TRUE(db.ok()) << db.status();
    db_ = *std::move(db);
    auto redis = testing::RedisServer::Start();
    ASSERT_TRUE(redis.ok()) << redis.status();
    redis_ = *std::move(redis);
    const int session_port = testing::PickFreePort();
    router_flags_ = router_flags;
    for (int i = 0; i < replicas; ++i) {
      routers_.push_back(StartRouter(session_port, i));
      ASSERT_NE(routers_.back(), nullptr);
    }
    session_ =
        Binary::Start(PARLEY_SESSION_BIN,
                      {"--pg_uri=" + db_->uri(), "--router_address=" + routers_[0]->address(),
                       "--router_timeout=5s", "--outbox_poll_interval=20ms",
                       "--outbox_initial_backoff=100ms", "--outbox_max_backoff=1s"},
                      dir_ + "/session.log", session_port);
    ASSERT_NE(session_, nullptr);
  }

  std::unique_ptr<Binary> StartRouter(int session_port, int index) {
    std::vector<std::string> flags = {
        "--pg_uri=" + db_->uri(), "--redis_address=" + redis_->address(),
        absl::StrCat("--session_address=127.0.0.1:", session_port),
        "--definitions_poll_interval=200ms", "--sweep_interval=100ms"};
    flags.insert(flags.end(), router_flags_.begin(), router_flags_.end());
    return Binary::Start(PARLEY_ROUTER_BIN, flags,
                         absl::StrCat(dir_, "/router-", index, "-", ++launches_, ".log"));
  }

  redis::Client Redis() const { return redis::Client(*redis::ParseAddress(redis_->address())); }

  std::unique_ptr<testing::TestDatabase> db_;
  std::unique_ptr<testing::RedisServer> redis_;
  std::vector<std::unique_ptr<Binary>> routers_;
  std::unique_ptr<Binary> session_;
  std::vector<std::string> router_flags_;
  std::string dir_;
  int launches_ = 0;
};

// RoutingAdminService helpers (fail the test on error).
class Admin {
 public:
  explicit Admin(std::shared_ptr<grpc::Channel> channel)
      : stub_(router::v1::RoutingAdminService::NewStub(channel)) {}

  std::string Queue(const std::string& name, int priority) {
    router::v1::CreateQueueRequest r;
    r.mutable_queue()->set_name(name);
    r.mutable_queue()->set_priority(priority);
    router::v1::CreateQueueResponse out;
    grpc::Status s = Call([&](grpc::ClientContext* c) { return stub_->CreateQueue(c, r, &out); });
    EXPECT_TRUE(s.ok()) << s.error_message();
    return out.queue().id();
  }

  std::string WorkStream(const std::string& name, const std::string& queue, int cost,
                         int offer_timeout_s) {
    router::v1::CreateWorkStreamRequest r;
    auto* ws = r.mutable_work_stream();
    ws->set_name(name);
    ws->set_channel(common::v1::CHANNEL_MESSENGER);
    ws->set_mode(router::v1::ROUTING_MODE_PUSH);
    ws->set_capacity_cost(cost);
    ws->mutable_offer_timeout()->set_seconds(offer_timeout_s);
    ws->set_strategy(router::v1::ASSIGNMENT_STRATEGY_LEAST_ACTIVE);
    ws->set_default_queue_id(queue);
    router::v1::CreateWorkStreamResponse out;
    grpc::Status s =
        Call([&](grpc::ClientContext* c) { return stub_->CreateWorkStream(c, r, &out); });
    EXPECT_TRUE(s.ok()) << s.error_message();
    return out.work_stream().id();
  }

  void EndpointRule(const std::string& ws, const std::string& endpoint, const std::string& queue) {
    router::v1::CreateRoutingRuleRequest r;
    auto* rule = r.mutable_rule();
    rule->set_work_stream_id(ws);
    rule->set_name("endpoint " + endpoint);
    rule->set_queue_id(queue);
    rule->set_enabled(true);
    auto* cond = rule->mutable_condition()->mutable_condition();
    cond->set_attribute(router::v1::ENGAGEMENT_ATTRIBUTE_ENDPOINT);
    cond->set_condition_operator(router::v1::CONDITION_OPERATOR_EQUALS);
    cond->set_text_value(endpoint);
    router::v1::CreateRoutingRuleResponse out;
    grpc::Status s =
        Call([&](grpc::ClientContext* c) { return stub_->CreateRoutingRule(c, r, &out); });
    EXPECT_TRUE(s.ok()) << s.error_message();
  }

  std::string Agent(const std::string& name, int capacity, const std::vector<std::string>& queues) {
    router::v1::CreateAgentRequest r;
    r.mutable_agent()->set_display_name(name);
    r.mutable_agent()->set_capacity(capacity);
    r.mutable_agent()->set_enabled(true);
    for (const std::string& q : queues) r.mutable_agent()->add_queue_ids(q);
    router::v1::CreateAgentResponse out;
    grpc::Status s = Call([&](grpc::ClientContext* c) { return stub_->CreateAgent(c, r, &out); });
    EXPECT_TRUE(s.ok()) << s.error_message();
    return out.agent().id();
  }

 private:
  std::unique_ptr<router::v1::RoutingAdminService::Stub> stub_;
};

// A batch of first messages from `count` new customers on one page routed by `work_stream`.
inline session::v1::IngestRequest NewCustomers(const std::string& page,
                                               const std::string& work_stream, int first,
                                               int count) {
  session::v1::IngestRequest r;
  r.set_batch_id(absl::StrCat("batch-", page, "-", first));
  r.set_channel(common::v1::CHANNEL_MESSENGER);
  auto* e = r.add_endpoints();
  e->mutable_endpoint()->set_channel(common::v1::CHANNEL_MESSENGER);
  e->mutable_endpoint()->set_id(page);
  e->mutable_settings()->set_language("en");
  e->mutable_settings()->set_work_stream_id(work_stream);
  const int64_t now = absl::ToUnixSeconds(absl::Now());
  for (int i = first; i < first + count; ++i) {
    auto* ev = r.add_events();
    ev->set_dedup_key(absl::StrCat("msg:", page, ":", i));
    *ev->mutable_endpoint() = e->endpoint();
    *ev->mutable_customer()->mutable_endpoint() = e->endpoint();
    ev->mutable_customer()->set_user_id(absl::StrCat(1000000 + i));
    ev->mutable_provider_time()->set_seconds(now);
    ev->mutable_provider_time()->set_nanos(i * 1000);
    ev->mutable_message()->set_provider_message_id(absl::StrCat("mid.", page, ".", i));
    ev->mutable_message()->mutable_content()->add_parts()->set_text("hello");
  }
  return r;
}

}  // namespace parley::e2e

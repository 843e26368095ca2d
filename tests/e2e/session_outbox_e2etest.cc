// The outbox survives a crash of the session binary: Ingest returns, the binary is killed with
// SIGKILL while router refuses calls, and after a restart the row is handed over to router,
// carrying the outbox row id that lets router ignore a second delivery.
#include <signal.h>

#include <mutex>
#include <pqxx/pqxx>
#include <set>
#include <thread>

#include "grpcpp/grpcpp.h"
#include "parley/router/v1/router.grpc.pb.h"
#include "parley/session/v1/session.grpc.pb.h"
#include "tests/e2e/session_e2e.h"

namespace parley::e2e {
namespace {

// Router's EnqueueConversation as the test wants it: refusing (UNAVAILABLE) or accepting, and
// ignoring a request id it has already accepted.
class FakeRouter : public router::v1::RoutingService::CallbackService {
 public:
  grpc::ServerUnaryReactor* EnqueueConversation(
      grpc::CallbackServerContext* ctx, const router::v1::EnqueueConversationRequest* req,
      router::v1::EnqueueConversationResponse* resp) override {
    grpc::Status status;
    {
      std::lock_guard<std::mutex> lock(mu_);
      calls_.push_back(*req);
      if (refusing_) {
        status = grpc::Status(grpc::StatusCode::UNAVAILABLE, "router is down");
      } else {
        resp->set_already_routed(!accepted_.insert(req->request_id()).second);
        if (!resp->already_routed()) routed_.push_back(*req);
      }
    }
    grpc::ServerUnaryReactor* reactor = ctx->DefaultReactor();
    reactor->Finish(status);
    return reactor;
  }
  void set_refusing(bool refusing) {
    std::lock_guard<std::mutex> lock(mu_);
    refusing_ = refusing;
  }
  std::vector<router::v1::EnqueueConversationRequest> calls() {
    std::lock_guard<std::mutex> lock(mu_);
    return calls_;
  }
  std::vector<router::v1::EnqueueConversationRequest> routed() {
    std::lock_guard<std::mutex> lock(mu_);
    return routed_;
  }

 private:
  std::mutex mu_;
  bool refusing_ = true;
  std::set<std::string> accepted_;
  std::vector<router::v1::EnqueueConversationRequest> calls_;
  std::vector<router::v1::EnqueueConversationRequest> routed_;
};

session::v1::IngestRequest OneMessage() {
  session::v1::IngestRequest r;
  r.set_batch_id("b-1");
  r.set_channel(common::v1::CHANNEL_MESSENGER);
  auto* e = r.add_endpoints();
  e->mutable_endpoint()->set_channel(common::v1::CHANNEL_MESSENGER);
  e->mutable_endpoint()->set_id("1895382890692545");
  e->mutable_settings()->set_language("en");
  e->mutable_settings()->set_work_stream_id("8a1f0b9e-3f2a-4d1b-8c7e-0123456789ab");
  auto* ev = r.add_events();
  ev->set_dedup_key("msg:mid.1");
  *ev->mutable_endpoint() = e->endpoint();
  *ev->mutable_customer()->mutable_endpoint() = e->endpoint();
  ev->mutable_customer()->set_user_id("1412611362105802");
  ev->mutable_provider_time()->set_seconds(1700000000);
  ev->mutable_message()->set_provider_message_id("mid.1");
  ev->mutable_message()->mutable_content()->add_parts()->set_text("my parcel did not arrive");
  return r;
}

int OutboxRows(pqxx::connection& conn) {
  pqxx::nontransaction tx(conn);
  return tx.exec1("SELECT count(*) FROM session.outbox")[0].as<int>();
}

TEST(SessionOutboxE2eTest, OutboxSurvivesKillNineAndIsHandedOverAfterRestart) {
  auto pg = testing::PgServer::Start();
  ASSERT_TRUE(pg.ok()) << pg.status();
  {
    pqxx::connection admin((*pg)->uri());
    pqxx::nontransaction(admin).exec("CREATE DATABASE parley");
  }
  const std::string uri = (*pg)->uri("parley");
  const std::string dir = testing::MakeTempDir("parley-session-e2e");

  FakeRouter router;
  int router_port = 0;
  grpc::ServerBuilder builder;
  builder.AddListeningPort("127.0.0.1:0", grpc::InsecureServerCredentials(), &router_port);
  builder.RegisterService(&router);
  std::unique_ptr<grpc::Server> router_server = builder.BuildAndStart();
  ASSERT_NE(router_port, 0);

  const std::vector<std::string> flags = {absl::StrCat("--router_address=127.0.0.1:", router_port),
                                          "--router_timeout=2s", "--outbox_poll_interval=50ms",
                                          "--outbox_initial_backoff=100ms",
                                          "--outbox_max_backoff=400ms"};
  auto session = SessionBinary::Start(uri, flags, dir + "/session-1.log");
  ASSERT_NE(session, nullptr);

  auto stub = session::v1::IngestService::NewStub(
      grpc::CreateChannel(session->address(), grpc::InsecureChannelCredentials()));
  session::v1::IngestResponse resp;
  grpc::ClientContext ctx;
  const grpc::Status status = stub->Ingest(&ctx, OneMessage(), &resp);
  ASSERT_TRUE(status.ok()) << status.error_message();
  session->process().Signal(SIGKILL);
  ASSERT_EQ(*session->process().WaitFor(absl::Seconds(10)), 128 + SIGKILL);
  ASSERT_EQ(resp.results(0).outcome(), session::v1::INGEST_OUTCOME_STORED);
  const std::string conversation = resp.results(0).conversation_id();

  pqxx::connection conn(uri);
  ASSERT_EQ(OutboxRows(conn), 1);
  std::string row_id;
  {
    pqxx::nontransaction tx(conn);
    row_id = tx.exec1("SELECT id::text FROM session.outbox")[0].as<std::string>();
  }
  EXPECT_TRUE(router.routed().empty());

  router.set_refusing(false);
  auto restarted = SessionBinary::Start(uri, flags, dir + "/session-2.log");
  ASSERT_NE(restarted, nullptr);
  for (int i = 0; i < 300 && OutboxRows(conn) > 0; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  EXPECT_EQ(OutboxRows(conn), 0) << restarted->Log();
  const auto routed = router.routed();
  ASSERT_EQ(routed.size(), 1u);
  EXPECT_EQ(routed[0].conversation_id(), conversation);
  EXPECT_EQ(routed[0].request_id(), row_id);
  EXPECT_EQ(routed[0].context().first_message_text(), "my parcel did not arrive");
  // Every hand-over of the row, refused or not, carried the same id: a second delivery is
  // recognisable.
  for (const auto& call : router.calls()) EXPECT_EQ(call.request_id(), row_id);

  restarted->process().Signal(SIGTERM);
  EXPECT_EQ(*restarted->process().WaitFor(absl::Seconds(30)), 0);
  router_server->Shutdown();
}

}  // namespace
}  // namespace parley::e2e

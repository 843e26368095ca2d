// The session binary's API over real gRPC: bad requests get the specific code and message and
// change nothing; ingest metrics appear on /metrics.
#include <chrono>
#include <future>
#include <pqxx/pqxx>
#include <thread>

#include "absl/strings/match.h"
#include "grpcpp/generic/generic_stub.h"
#include "grpcpp/grpcpp.h"
#include "parley/session/v1/session.grpc.pb.h"
#include "tests/e2e/session_e2e.h"

namespace parley::e2e {
namespace {

using session::v1::ConversationService;
using session::v1::IngestService;

class SessionApiE2eTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    auto pg = testing::PgServer::Start();
    ASSERT_TRUE(pg.ok()) << pg.status();
    pg_ = std::move(*pg).release();
    pqxx::connection admin(pg_->uri());
    pqxx::nontransaction(admin).exec("CREATE DATABASE parley");
    session_ = SessionBinary::Start(pg_->uri("parley"), {"--router_address=127.0.0.1:1"},
                                    testing::MakeTempDir("parley-session-api") + "/session.log")
                   .release();
  }
  static void TearDownTestSuite() {
    delete session_;
    delete pg_;
  }

  std::shared_ptr<grpc::Channel> Channel() {
    return grpc::CreateChannel(session_->address(), grpc::InsecureChannelCredentials());
  }
  int Count(const std::string& sql) {
    pqxx::connection conn(pg_->uri("parley"));
    return pqxx::nontransaction(conn).exec1(sql)[0].as<int>();
  }
  std::string IngestOne() {
    session::v1::IngestRequest r;
    r.set_channel(common::v1::CHANNEL_WHATSAPP);
    auto* e = r.add_endpoints();
    e->mutable_endpoint()->set_channel(common::v1::CHANNEL_WHATSAPP);
    e->mutable_endpoint()->set_id("+14155238886");
    auto* ev = r.add_events();
    ev->set_dedup_key("msg:SM1");
    *ev->mutable_endpoint() = e->endpoint();
    ev->mutable_customer()->set_user_id("+31612345678");
    ev->mutable_message()->set_provider_message_id("SM1");
    ev->mutable_message()->mutable_content()->add_parts()->set_text("hallo");
    session::v1::IngestResponse resp;
    grpc::ClientContext ctx;
    const grpc::Status s = IngestService::NewStub(Channel())->Ingest(&ctx, r, &resp);
    EXPECT_TRUE(s.ok()) << s.error_message();
    return s.ok() ? resp.results(0).conversation_id() : "";
  }

  static testing::PgServer* pg_;
  static SessionBinary* session_;
};

testing::PgServer* SessionApiE2eTest::pg_ = nullptr;
SessionBinary* SessionApiE2eTest::session_ = nullptr;

TEST_F(SessionApiE2eTest, MalformedBatchIsInvalidArgumentNamingTheField) {
  session::v1::IngestRequest r;
  r.set_channel(common::v1::CHANNEL_MESSENGER);
  session::v1::IngestResponse resp;
  grpc::ClientContext ctx;
  const grpc::Status s = IngestService::NewStub(Channel())->Ingest(&ctx, r, &resp);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_EQ(s.error_message(), "events: none given");
}

TEST_F(SessionApiE2eTest, UnknownConversationIsNotFound) {
  session::v1::GetConversationRequest r;
  r.set_conversation_id("00000000-0000-4000-8000-000000000000");
  session::v1::GetConversationResponse resp;
  grpc::ClientContext ctx;
  const grpc::Status s = ConversationService::NewStub(Channel())->GetConversation(&ctx, r, &resp);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::NOT_FOUND);
  EXPECT_EQ(s.error_message(), "conversation 00000000-0000-4000-8000-000000000000: not found");
}

TEST_F(SessionApiE2eTest, InvalidTransitionIsFailedPreconditionAndChangesNothing) {
  const std::string id = IngestOne();
  session::v1::ChangeConversationStateRequest r;
  r.set_conversation_id(id);
  r.set_state(common::v1::CONVERSATION_STATE_WRAP_UP);
  session::v1::ChangeConversationStateResponse resp;
  grpc::ClientContext ctx;
  const grpc::Status s =
      ConversationService::NewStub(Channel())->ChangeConversationState(&ctx, r, &resp);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::FAILED_PRECONDITION);
  EXPECT_EQ(s.error_message(), "conversation " + id + ": cannot move from OPEN to WRAP_UP");
  EXPECT_EQ(Count("SELECT count(*) FROM session.conversation_events"), 1);
}

TEST_F(SessionApiE2eTest, BadNotesAreRefusedWithTheirReason) {
  const std::string id = IngestOne();
  auto stub = ConversationService::NewStub(Channel());
  struct Case {
    std::string text;
    grpc::StatusCode code;
    std::string message;
  };
  const std::vector<Case> cases = {
      {"", grpc::StatusCode::INVALID_ARGUMENT, "text: must not be empty"},
      {std::string(4001, 'n'), grpc::StatusCode::INVALID_ARGUMENT,
       "text: 4001 characters, at most 4000 allowed"},
      {"'; DROP TABLE session.notes; --", grpc::StatusCode::OK, ""},
  };
  for (const Case& c : cases) {
    session::v1::AddNoteRequest r;
    r.set_conversation_id(id);
    r.set_author_agent_id("a9e0b9e0-3f2a-4d1b-8c7e-0123456789ab");
    r.set_text(c.text);
    session::v1::AddNoteResponse resp;
    grpc::ClientContext ctx;
    const grpc::Status s = stub->AddNote(&ctx, r, &resp);
    EXPECT_EQ(s.error_code(), c.code) << c.message;
    EXPECT_EQ(s.error_message(), c.message);
  }
  EXPECT_EQ(Count("SELECT count(*) FROM session.notes"), 1);
}

TEST_F(SessionApiE2eTest, InvalidUtf8IsInvalidArgumentNamingTheFieldAndStoresNothing) {
  const std::string id = IngestOne();
  const int notes_before = Count("SELECT count(*) FROM session.notes");
  session::v1::AddNoteRequest r;
  r.set_conversation_id(id);
  r.set_author_agent_id("a9e0b9e0-3f2a-4d1b-8c7e-0123456789ab");
  r.set_text("PLACEHOLDER");
  std::string bytes = r.SerializeAsString();
  // A generated client refuses to send invalid UTF-8, so the bytes are changed on the wire.
  bytes.replace(bytes.find("PLACEHOLDER"), 11, "bad \xc3\x28 text");
  grpc::Slice slice(bytes);
  grpc::ByteBuffer request(&slice, 1);
  grpc::ByteBuffer response;
  grpc::GenericStub stub(Channel());
  grpc::ClientContext ctx;
  std::promise<grpc::Status> done;
  stub.UnaryCall(&ctx, "/parley.session.v1.ConversationService/AddNote", grpc::StubOptions(),
                 &request, &response, [&](grpc::Status st) { done.set_value(std::move(st)); });
  const grpc::Status s = done.get_future().get();
  EXPECT_EQ(s.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_EQ(s.error_message(),
            "the request could not be decoded as parley.session.v1.AddNoteRequest: field "
            "parley.session.v1.AddNoteRequest.text holds bytes that are not valid UTF-8 (string "
            "fields must be UTF-8)");
  EXPECT_EQ(Count("SELECT count(*) FROM session.notes"), notes_before);
}

TEST_F(SessionApiE2eTest, IngestMetricsAreExported) {
  IngestOne();
  // The relay refreshes the state gauges in the background: wait for their first round.
  absl::StatusOr<testing::HttpResponse> metrics;
  for (int i = 0; i < 200; ++i) {
    metrics = testing::HttpGet(session_->metrics_port(), "/metrics");
    ASSERT_TRUE(metrics.ok()) << metrics.status();
    if (absl::StrContains(metrics->body, "parley_session_conversations{")) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  EXPECT_TRUE(absl::StrContains(metrics->body, "parley_session_ingest_events_total"));
  EXPECT_TRUE(absl::StrContains(metrics->body, "parley_session_ingest_seconds_bucket"));
  EXPECT_TRUE(absl::StrContains(metrics->body, "parley_session_outbox_depth"));
  EXPECT_TRUE(absl::StrContains(metrics->body, "parley_session_conversations{state=\"OPEN\"}"));
}

}  // namespace
}  // namespace parley::e2e

// ProviderGatewayService over real gRPC, with pages and senders created through
// ChannelConfigService on a real PostgreSQL (read back through the ChannelCache), the
// accepted-parts ledger in PostgreSQL, and the real parley-provider-sim binary as Facebook and
// Twilio. The attachments service does not exist yet: OutboundFiles is a fixed map here.
#include <fstream>
#include <sstream>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "grpcpp/grpcpp.h"
#include "gtest/gtest.h"
#include "libs/common/executor.h"
#include "libs/testing/metrics.h"
#include "parley/ingress/v1/ingress.grpc.pb.h"
#include "prometheus/registry.h"
#include "services/ingress/channel_config_service.h"
#include "services/ingress/channel_test_support.h"
#include "services/ingress/provider_gateway_service.h"
#include "simdjson.h"
#include "tests/tools/provider_sim/sim_process.h"

namespace parley::ingress {
namespace {

namespace cv1 = common::v1;
namespace it = parley::ingress::testing;
using provider_sim::Recorded;
using provider_sim::SimProcess;

constexpr char kPublicBase[] = "https://parley.example.com";

std::string Fixture(const std::string& rel) {
  std::ifstream in(std::string(PARLEY_PROVIDER_FIXTURES) + "/" + rel, std::ios::binary);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

// Stands in for the attachments service's client (not written yet).
class FixedFiles : public OutboundFiles {
 public:
  absl::StatusOr<File> Resolve(const cv1::EndpointRef&, const std::string& id) override {
    if (id == kImage) return File{cv1::ATTACHMENT_KIND_IMAGE, "https://files.example.com/i.png"};
    if (id == kPdf) return File{cv1::ATTACHMENT_KIND_FILE, "https://files.example.com/d.pdf"};
    return absl::NotFoundError(absl::StrCat("attachment ", id, " does not exist"));
  }
  static constexpr char kImage[] = "11111111-1111-4111-8111-111111111111";
  static constexpr char kPdf[] = "22222222-2222-4222-8222-222222222222";
};

class ProviderGatewayTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    auto env = it::NewChannelEnv(kPublicBase);
    ASSERT_TRUE(env.ok()) << env.status();
    env_ = env->release();
    auto sim = SimProcess::Start(PARLEY_PROVIDER_SIM_BIN);
    ASSERT_TRUE(sim.ok()) << sim.status();
    sim_ = sim->release();
    executor_ = new Executor(2);
    registry_ = new prometheus::Registry();
    metrics_ = new OutboundMetrics(*registry_);
    http_ = new http_client::Client();
    sent_ = new SentParts(*env_->pool);
    OutboundOptions options;
    options.graph.base_url = sim_->base_url();
    options.twilio.base_url = sim_->base_url();
    options.media.extra_origins = {sim_->base_url()};
    gateway_ = new ProviderGateway({.directory = env_->cache,
                                    .http = http_,
                                    .sent_parts = sent_,
                                    .files = &files_,
                                    .media_store = nullptr,
                                    .metrics = metrics_,
                                    .public_base_url = kPublicBase},
                                   options);
    config_service_ = new ChannelConfigServiceImpl(*env_->store, *executor_);
    gateway_service_ = new ProviderGatewayServiceImpl(
        *gateway_, [](std::function<void()> task) { executor_->Post(std::move(task)); });
    grpc::ServerBuilder builder;
    int port = 0;
    builder.AddListeningPort("127.0.0.1:0", grpc::InsecureServerCredentials(), &port);
    builder.RegisterService(config_service_);
    builder.RegisterService(gateway_service_);
    server_ = builder.BuildAndStart().release();
    auto channel =
        grpc::CreateChannel(absl::StrCat("127.0.0.1:", port), grpc::InsecureChannelCredentials());
    config_ = v1::ChannelConfigService::NewStub(channel).release();
    gateway_stub_ = v1::ProviderGatewayService::NewStub(channel).release();
    CreateChannels();
  }

  static void TearDownTestSuite() {
    delete config_;
    delete gateway_stub_;
    if (server_ != nullptr) server_->Shutdown();
    delete server_;
    delete executor_;
    delete gateway_service_;
    delete config_service_;
    delete gateway_;
    delete sent_;
    delete http_;
    delete metrics_;
    delete registry_;
    delete sim_;
    delete env_;
  }

  static void CreateChannels() {
    grpc::ClientContext c1, c2, c3;
    v1::CreateFacebookAppRequest app_req;
    app_req.mutable_app()->set_name("Acme Support");
    app_req.mutable_app()->set_meta_app_id(it::UniqueDigits());
    app_req.mutable_app()->set_app_secret(it::HexSecret("gateway-app"));
    v1::CreateFacebookAppResponse app;
    ASSERT_TRUE(config_->CreateFacebookApp(&c1, app_req, &app).ok());

    v1::CreateFacebookPageRequest page_req;
    page_id_ = it::UniqueDigits();
    page_req.mutable_page()->set_page_id(page_id_);
    page_req.mutable_page()->set_name("Acme");
    page_req.mutable_page()->set_parent_app_id(app.app().id());
    page_req.mutable_page()->set_page_access_token("EAAgateway-token");
    page_req.mutable_page()->mutable_settings()->set_work_stream_id(it::kTestWorkStreamId);
    page_req.mutable_page()->mutable_settings()->set_agent_attachments_enabled(true);
    page_req.mutable_page()->mutable_settings()->set_human_agent_tag_enabled(true);
    v1::CreateFacebookPageResponse page;
    grpc::Status ps = config_->CreateFacebookPage(&c2, page_req, &page);
    ASSERT_TRUE(ps.ok()) << ps.error_message();

    v1::CreateWhatsAppSenderRequest sender_req;
    sender_number_ = absl::StrCat("+1555", it::UniqueDigits().substr(0, 7));
    sender_req.mutable_sender()->set_name("Acme WhatsApp");
    sender_req.mutable_sender()->set_account_sid("AC0123456789abcdef0123456789abcdef");
    sender_req.mutable_sender()->set_auth_token(it::HexSecret("gateway-twilio"));
    sender_req.mutable_sender()->set_phone_number(sender_number_);
    sender_req.mutable_sender()->mutable_settings()->set_work_stream_id(it::kTestWorkStreamId);
    v1::CreateWhatsAppSenderResponse sender;
    grpc::Status ss = config_->CreateWhatsAppSender(&c3, sender_req, &sender);
    ASSERT_TRUE(ss.ok()) << ss.error_message();
    status_callback_uri_ = sender.sender().status_callback_uri();
    ASSERT_TRUE(env_->cache->Refresh().ok());
  }

  void SetUp() override {
    ASSERT_TRUE(sim_->Reset().ok());
    ASSERT_TRUE(
        sim_->RegisterPage(page_id_, "EAAgateway-token", it::HexSecret("gateway-app")).ok());
    ASSERT_TRUE(
        sim_->RegisterAccount("AC0123456789abcdef0123456789abcdef", it::HexSecret("gateway-twilio"))
            .ok());
  }

  static std::string NewId() {
    static int n = 0;
    return absl::StrFormat("%08x-0000-4000-8000-%012x", ::getpid(), ++n);
  }

  v1::SendMessageRequest Messenger(const std::string& text) {
    v1::SendMessageRequest r;
    r.set_outbound_message_id(NewId());
    r.mutable_endpoint()->set_channel(cv1::CHANNEL_MESSENGER);
    r.mutable_endpoint()->set_id(page_id_);
    r.set_recipient_user_id("1412611362105802");
    r.mutable_content()->add_parts()->set_text(text);
    r.set_messaging_type(v1::MESSAGING_TYPE_RESPONSE);
    r.set_sender_kind(cv1::SENDER_KIND_AGENT);
    r.set_attempt(1);
    return r;
  }

  grpc::Status Send(const v1::SendMessageRequest& req, v1::SendMessageResponse* resp) {
    grpc::ClientContext ctx;
    ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(60));
    return gateway_stub_->SendMessage(&ctx, req, resp);
  }

  std::vector<Recorded> Requests(const std::string& api) {
    auto r = sim_->Requests(api);
    EXPECT_TRUE(r.ok()) << r.status();
    return r.ok() ? *r : std::vector<Recorded>{};
  }

  static inline it::ChannelEnv* env_ = nullptr;
  static inline SimProcess* sim_ = nullptr;
  static inline Executor* executor_ = nullptr;
  static inline prometheus::Registry* registry_ = nullptr;
  static inline OutboundMetrics* metrics_ = nullptr;
  static inline http_client::Client* http_ = nullptr;
  static inline SentParts* sent_ = nullptr;
  static inline FixedFiles files_;
  static inline ProviderGateway* gateway_ = nullptr;
  static inline ChannelConfigServiceImpl* config_service_ = nullptr;
  static inline ProviderGatewayServiceImpl* gateway_service_ = nullptr;
  static inline grpc::Server* server_ = nullptr;
  static inline v1::ChannelConfigService::Stub* config_ = nullptr;
  static inline v1::ProviderGatewayService::Stub* gateway_stub_ = nullptr;
  static inline std::string page_id_;
  static inline std::string sender_number_;
  static inline std::string status_callback_uri_;
};

TEST_F(ProviderGatewayTest, MessengerPartsGoOutInOrder) {
  v1::SendMessageRequest req = Messenger("Which colour?");
  req.set_messaging_type(v1::MESSAGING_TYPE_HUMAN_AGENT);
  req.mutable_content()->add_parts()->mutable_attachment()->set_attachment_id(FixedFiles::kImage);
  req.mutable_content()->add_parts()->mutable_attachment()->set_attachment_id(FixedFiles::kPdf);
  auto* q = req.mutable_content()->add_quick_replies();
  q->set_title("Red");
  q->set_payload("RED");
  req.mutable_content()->mutable_reply_to()->set_provider_message_id("m_quoted");
  v1::SendMessageResponse resp;
  grpc::Status s = Send(req, &resp);
  ASSERT_TRUE(s.ok()) << s.error_message();
  ASSERT_TRUE(resp.has_accepted()) << resp.DebugString();
  EXPECT_FALSE(resp.accepted().reply_to_dropped());
  ASSERT_EQ(resp.sent_parts_size(), 3);
  std::vector<Recorded> reqs = Requests("graph");
  ASSERT_EQ(reqs.size(), 3u);
  simdjson::dom::parser parser;
  for (int i = 0; i < 3; ++i) {
    EXPECT_EQ(resp.sent_parts(i).part_index(), i);
    EXPECT_TRUE(absl::StartsWith(resp.sent_parts(i).provider_message_id(), "m_"));
    EXPECT_GT(resp.sent_parts(i).accept_time().seconds(), 0);
    simdjson::dom::element body = parser.parse(reqs[i].body);
    EXPECT_EQ(reqs[i].path, absl::StrCat("/v21.0/", page_id_, "/messages"));
    EXPECT_EQ(body["tag"].get_string().value(), "HUMAN_AGENT");
    EXPECT_EQ(body["message"]["metadata"].get_string().value(), req.outbound_message_id());
    EXPECT_EQ(body["reply_to"].error() == simdjson::SUCCESS, i == 0) << i;
  }
  simdjson::dom::element first = parser.parse(reqs[0].body);
  EXPECT_EQ(first["message"]["text"].get_string().value(), "Which colour?");
  EXPECT_EQ(first["message"]["quick_replies"].get_array().value().size(), 1u);
  simdjson::dom::element second = parser.parse(reqs[1].body);
  EXPECT_EQ(second["message"]["attachment"]["type"].get_string().value(), "image");
  simdjson::dom::element third = parser.parse(reqs[2].body);
  EXPECT_EQ(third["message"]["attachment"]["type"].get_string().value(), "file");
  EXPECT_EQ(third["message"]["attachment"]["payload"]["url"].get_string().value(),
            "https://files.example.com/d.pdf");
}

TEST_F(ProviderGatewayTest, RetryDoesNotResendAcceptedParts) {
  v1::SendMessageRequest req = Messenger("first");
  req.mutable_content()->add_parts()->mutable_attachment()->set_attachment_id(FixedFiles::kImage);
  ASSERT_TRUE(sim_->Fail("graph", 400, Fixture("graph_api/errors/1200_temporary_send_failure.json"),
                         1, "", /*after=*/1)
                  .ok());
  v1::SendMessageResponse first;
  ASSERT_TRUE(Send(req, &first).ok());
  ASSERT_TRUE(first.has_retryable_failure()) << first.DebugString();
  EXPECT_EQ(first.retryable_failure().reason(), v1::RETRY_REASON_PROVIDER_ERROR);
  EXPECT_EQ(first.retryable_failure().provider_code(), 1200);
  ASSERT_EQ(first.sent_parts_size(), 1);
  EXPECT_EQ(first.sent_parts(0).part_index(), 0);

  req.set_attempt(2);
  v1::SendMessageResponse second;
  ASSERT_TRUE(Send(req, &second).ok());
  ASSERT_TRUE(second.has_accepted()) << second.DebugString();
  ASSERT_EQ(second.sent_parts_size(), 2);
  EXPECT_EQ(second.sent_parts(0).provider_message_id(), first.sent_parts(0).provider_message_id());
  std::vector<Recorded> reqs = Requests("graph");
  ASSERT_EQ(reqs.size(), 3u);  // text, failed image, image again: the text went out once
  EXPECT_NE(reqs[2].body.find("attachment"), std::string::npos);
}

TEST_F(ProviderGatewayTest, FinalFailureStopsTheRemainingParts) {
  v1::SendMessageRequest req = Messenger("late reply");
  req.mutable_content()->add_parts()->mutable_attachment()->set_attachment_id(FixedFiles::kImage);
  ASSERT_TRUE(
      sim_->Fail("graph", 400, Fixture("graph_api/errors/10_2018278_outside_window.json")).ok());
  v1::SendMessageResponse resp;
  ASSERT_TRUE(Send(req, &resp).ok());
  ASSERT_TRUE(resp.has_final_failure()) << resp.DebugString();
  EXPECT_EQ(resp.final_failure().error().reason(), cv1::DELIVERY_FAILURE_REASON_WINDOW_CLOSED);
  EXPECT_EQ(resp.final_failure().error().provider_code(), 10);
  EXPECT_EQ(resp.final_failure().error().provider_subcode(), 2018278);
  EXPECT_EQ(resp.final_failure().http_status(), 400);
  EXPECT_EQ(resp.sent_parts_size(), 0);
  EXPECT_EQ(Requests("graph").size(), 1u);
}

TEST_F(ProviderGatewayTest, LimitsAreCheckedBeforeCallingOut) {
  v1::SendMessageRequest req = Messenger(std::string(2001, 'a'));
  v1::SendMessageResponse resp;
  grpc::Status s = Send(req, &resp);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_EQ(s.error_message(), "content.parts[0].text: 2001 characters, Messenger allows 2000");

  v1::SendMessageRequest wa = Messenger(std::string(1601, 'a'));
  wa.mutable_endpoint()->set_channel(cv1::CHANNEL_WHATSAPP);
  wa.mutable_endpoint()->set_id(sender_number_);
  s = Send(wa, &resp);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_EQ(s.error_message(), "content.parts[0].text: 1601 characters, WhatsApp allows 1600");
  EXPECT_TRUE(Requests("").empty());  // the simulator saw nothing
}

TEST_F(ProviderGatewayTest, WhatsAppTextWithStatusCallbackDropsTheQuote) {
  v1::SendMessageRequest req = Messenger("Hola");
  req.mutable_endpoint()->set_channel(cv1::CHANNEL_WHATSAPP);
  req.mutable_endpoint()->set_id(sender_number_);
  req.set_recipient_user_id("+31612345678");
  req.mutable_content()->mutable_reply_to()->set_provider_message_id("SMquoted");
  v1::SendMessageResponse resp;
  grpc::Status s = Send(req, &resp);
  ASSERT_TRUE(s.ok()) << s.error_message();
  ASSERT_TRUE(resp.has_accepted()) << resp.DebugString();
  EXPECT_TRUE(resp.accepted().reply_to_dropped());
  std::vector<Recorded> reqs = Requests("twilio");
  ASSERT_EQ(reqs.size(), 1u);
  EXPECT_EQ(reqs[0].Form("To"), "whatsapp:+31612345678");
  EXPECT_EQ(reqs[0].Form("From"), absl::StrCat("whatsapp:", sender_number_));
  EXPECT_EQ(reqs[0].Form("Body"), "Hola");
  EXPECT_EQ(reqs[0].Form("StatusCallback"), status_callback_uri_);
  EXPECT_TRUE(absl::StartsWith(status_callback_uri_, kPublicBase));
}

TEST_F(ProviderGatewayTest, EndpointErrors) {
  v1::SendMessageResponse resp;
  v1::SendMessageRequest unknown = Messenger("hi");
  unknown.mutable_endpoint()->set_id("999999999999");
  grpc::Status s = Send(unknown, &resp);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::NOT_FOUND);
  EXPECT_EQ(s.error_message(), "page 999999999999 is not configured");

  v1::SendMessageRequest wa = Messenger("file");
  wa.mutable_endpoint()->set_channel(cv1::CHANNEL_WHATSAPP);
  wa.mutable_endpoint()->set_id(sender_number_);
  wa.mutable_content()->add_parts()->mutable_attachment()->set_attachment_id(FixedFiles::kImage);
  s = Send(wa, &resp);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::FAILED_PRECONDITION);
  EXPECT_TRUE(absl::StartsWith(s.error_message(), "ATTACHMENT_VIOLATION_DISABLED_FOR_AGENTS: "))
      << s.error_message();

  v1::SendMessageRequest missing = Messenger("file");
  missing.mutable_content()->add_parts()->mutable_attachment()->set_attachment_id(
      "33333333-3333-4333-8333-333333333333");
  s = Send(missing, &resp);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::NOT_FOUND);
  EXPECT_TRUE(Requests("").empty());
}

TEST_F(ProviderGatewayTest, FetchInboundMediaChecksAndReportsTheMissingStore) {
  grpc::ClientContext c1, c2, c3;
  v1::FetchInboundMediaRequest req;
  req.mutable_endpoint()->set_channel(cv1::CHANNEL_MESSENGER);
  req.mutable_endpoint()->set_id(page_id_);
  req.set_source_key("m_1#0");
  req.set_provider_url("https://evil.example.com/x.png");
  v1::FetchInboundMediaResponse resp;
  grpc::Status s = gateway_stub_->FetchInboundMedia(&c1, req, &resp);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  req.set_provider_url("https://scontent.xx.fbcdn.net/v/1.png");
  req.mutable_endpoint()->set_id("999999999999");
  s = gateway_stub_->FetchInboundMedia(&c2, req, &resp);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::NOT_FOUND);
  req.mutable_endpoint()->set_id(page_id_);
  s = gateway_stub_->FetchInboundMedia(&c3, req, &resp);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::UNAVAILABLE);  // no attachments service yet
}

TEST_F(ProviderGatewayTest, SendsAreCountedByChannelAndResult) {
  v1::SendMessageResponse resp;
  ASSERT_TRUE(Send(Messenger("count me"), &resp).ok());
  EXPECT_GE(parley::testing::MetricSample(*registry_, "parley_ingress_outbound_sends_total",
                                          {{"channel", "messenger"}, {"result", "accepted"}})
                .value_or(0),
            1);
}

}  // namespace
}  // namespace parley::ingress

// Outbound delivery through the real parley-ingress binary: channels created over
// ChannelConfigService, then ProviderGatewayService.SendMessage to the real parley-provider-sim
// (as Facebook and Twilio), which records exactly what arrived. Also the outbound metrics.
#include <unistd.h>

#include <fstream>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "grpcpp/grpcpp.h"
#include "gtest/gtest.h"
#include "libs/testing/probes.h"
#include "libs/testing/servers.h"
#include "libs/testing/subprocess.h"
#include "parley/ingress/v1/ingress.grpc.pb.h"
#include "tests/tools/provider_sim/sim_process.h"

namespace parley {
namespace {

namespace cv1 = common::v1;
namespace iv1 = ingress::v1;

constexpr char kSecret[] = "00112233445566778899aabbccddeeff";
constexpr char kToken[] = "EAAe2e-page-token";
constexpr char kSid[] = "ACfedcba9876543210fedcba9876543210";
constexpr char kAuth[] = "ffeeddccbbaa99887766554433221100";
constexpr char kWorkStream[] = "8a1f0b9e-3f2a-4d1b-8c7e-0123456789ab";

class OutboundE2eTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto db = testing::TestDatabase::Create();
    ASSERT_TRUE(db.ok()) << db.status();
    db_ = *std::move(db);
    auto sim = provider_sim::SimProcess::Start(PARLEY_PROVIDER_SIM_BIN);
    ASSERT_TRUE(sim.ok()) << sim.status();
    sim_ = *std::move(sim);
    grpc_port_ = testing::PickFreePort();
    metrics_port_ = testing::PickFreePort();
    log_ = absl::StrCat(testing::MakeTempDir("outbound-e2e"), "/ingress.log");
    auto p = testing::Subprocess::Spawn(
        {PARLEY_INGRESS_BIN, absl::StrCat("--pg_uri=", db_->uri()),
         absl::StrCat("--grpc_address=127.0.0.1:", grpc_port_),
         absl::StrCat("--metrics_address=127.0.0.1:", metrics_port_),
         absl::StrCat("--http_address=127.0.0.1:", testing::PickFreePort()),
         "--public_base_url=https://parley.example.com",
         absl::StrCat("--graph_api_base_url=", sim_->base_url()),
         absl::StrCat("--twilio_api_base_url=", sim_->base_url())},
        {}, log_);
    ASSERT_TRUE(p.ok()) << p.status();
    ingress_ = *std::move(p);
    std::string address = absl::StrCat("127.0.0.1:", grpc_port_);
    ASSERT_TRUE(
        testing::WaitForHealth(address, grpc::health::v1::HealthCheckResponse::SERVING).ok())
        << Log();
    auto channel = grpc::CreateChannel(address, grpc::InsecureChannelCredentials());
    config_ = iv1::ChannelConfigService::NewStub(channel);
    gateway_ = iv1::ProviderGatewayService::NewStub(channel);
  }
  void TearDown() override {
    if (ingress_ != nullptr) {
      ingress_->Signal(SIGTERM);
      EXPECT_EQ(ingress_->WaitFor(absl::Seconds(30)).value_or(-1), 0) << Log();
    }
  }

  std::string Log() {
    std::ifstream in(log_);
    return std::string(std::istreambuf_iterator<char>(in), {});
  }

  // SendMessage, retried while the new channel has not reached the cache yet (NOT_FOUND).
  iv1::SendMessageResponse SendWhenConfigured(const iv1::SendMessageRequest& req) {
    iv1::SendMessageResponse resp;
    grpc::Status s;
    absl::Time deadline = absl::Now() + absl::Seconds(30);
    do {
      grpc::ClientContext ctx;
      resp.Clear();
      s = gateway_->SendMessage(&ctx, req, &resp);
      if (s.error_code() != grpc::StatusCode::NOT_FOUND) break;
      absl::SleepFor(absl::Milliseconds(100));
    } while (absl::Now() < deadline);
    EXPECT_TRUE(s.ok()) << s.error_message();
    return resp;
  }

  std::unique_ptr<testing::TestDatabase> db_;
  std::unique_ptr<provider_sim::SimProcess> sim_;
  std::unique_ptr<testing::Subprocess> ingress_;
  int grpc_port_ = 0;
  int metrics_port_ = 0;
  std::string log_;
  std::unique_ptr<iv1::ChannelConfigService::Stub> config_;
  std::unique_ptr<iv1::ProviderGatewayService::Stub> gateway_;
};

TEST_F(OutboundE2eTest, MessengerAndWhatsAppSendsReachTheProviders) {
  grpc::ClientContext c1, c2, c3;
  iv1::CreateFacebookAppRequest app_req;
  app_req.mutable_app()->set_name("E2E app");
  app_req.mutable_app()->set_meta_app_id("1821152484774199");
  app_req.mutable_app()->set_app_secret(kSecret);
  iv1::CreateFacebookAppResponse app;
  ASSERT_TRUE(config_->CreateFacebookApp(&c1, app_req, &app).ok());
  iv1::CreateFacebookPageRequest page_req;
  page_req.mutable_page()->set_page_id("1895382890692545");
  page_req.mutable_page()->set_name("E2E page");
  page_req.mutable_page()->set_parent_app_id(app.app().id());
  page_req.mutable_page()->set_page_access_token(kToken);
  page_req.mutable_page()->mutable_settings()->set_work_stream_id(kWorkStream);
  iv1::CreateFacebookPageResponse page;
  grpc::Status ps = config_->CreateFacebookPage(&c2, page_req, &page);
  ASSERT_TRUE(ps.ok()) << ps.error_message();
  iv1::CreateWhatsAppSenderRequest sender_req;
  sender_req.mutable_sender()->set_name("E2E sender");
  sender_req.mutable_sender()->set_account_sid(kSid);
  sender_req.mutable_sender()->set_auth_token(kAuth);
  sender_req.mutable_sender()->set_phone_number("+14155238886");
  sender_req.mutable_sender()->mutable_settings()->set_work_stream_id(kWorkStream);
  iv1::CreateWhatsAppSenderResponse sender;
  grpc::Status ss = config_->CreateWhatsAppSender(&c3, sender_req, &sender);
  ASSERT_TRUE(ss.ok()) << ss.error_message();
  ASSERT_TRUE(sim_->RegisterPage("1895382890692545", kToken, kSecret).ok());
  ASSERT_TRUE(sim_->RegisterAccount(kSid, kAuth).ok());

  iv1::SendMessageRequest fb;
  fb.set_outbound_message_id("5d3c2b1a-0f9e-4d8c-8b7a-6f5e4d3c2b1a");
  fb.mutable_endpoint()->set_channel(cv1::CHANNEL_MESSENGER);
  fb.mutable_endpoint()->set_id("1895382890692545");
  fb.set_recipient_user_id("1412611362105802");
  fb.mutable_content()->add_parts()->set_text("Hi, how can I help?");
  fb.set_messaging_type(iv1::MESSAGING_TYPE_RESPONSE);
  fb.set_sender_kind(cv1::SENDER_KIND_AGENT);
  iv1::SendMessageResponse fb_resp = SendWhenConfigured(fb);
  ASSERT_TRUE(fb_resp.has_accepted()) << fb_resp.DebugString() << Log();
  ASSERT_EQ(fb_resp.sent_parts_size(), 1);

  iv1::SendMessageRequest wa = fb;
  wa.set_outbound_message_id("6e4d3c2b-1a0f-4e9d-8c8b-7a6f5e4d3c2b");
  wa.mutable_endpoint()->set_channel(cv1::CHANNEL_WHATSAPP);
  wa.mutable_endpoint()->set_id("+14155238886");
  wa.set_recipient_user_id("+31612345678");
  iv1::SendMessageResponse wa_resp = SendWhenConfigured(wa);
  ASSERT_TRUE(wa_resp.has_accepted()) << wa_resp.DebugString();

  auto graph = sim_->Requests("graph");
  ASSERT_TRUE(graph.ok());
  ASSERT_EQ(graph->size(), 1u);
  EXPECT_EQ((*graph)[0].status, 200);  // token and appsecret_proof checked by the simulator
  EXPECT_EQ((*graph)[0].Query("access_token"), kToken);
  auto twilio = sim_->Requests("twilio");
  ASSERT_TRUE(twilio.ok());
  ASSERT_EQ(twilio->size(), 1u);
  EXPECT_EQ((*twilio)[0].status, 201);  // Basic auth checked by the simulator
  EXPECT_EQ((*twilio)[0].Form("StatusCallback"), sender.sender().status_callback_uri());
  EXPECT_EQ((*twilio)[0].Form("To"), "whatsapp:+31612345678");

  auto metrics = testing::HttpGet(metrics_port_, "/metrics");
  ASSERT_TRUE(metrics.ok());
  EXPECT_NE(metrics->body.find(
                R"(parley_ingress_outbound_sends_total{channel="messenger",result="accepted"} 1)"),
            std::string::npos);
  EXPECT_NE(metrics->body.find(
                R"(parley_ingress_outbound_sends_total{channel="whatsapp",result="accepted"} 1)"),
            std::string::npos);
  EXPECT_EQ(Log().find(kToken), std::string::npos);  // secrets never reach the log
  EXPECT_EQ(Log().find(kAuth), std::string::npos);
}

}  // namespace
}  // namespace parley

// The simulator's webhooks as a receiver sees them: a real HTTP server in the test receives
// what parley-provider-sim sends, checks the signatures with ingress's own verifier (an
// independent implementation: the simulator signs with its own OpenSSL code) and parses the
// bodies with ingress's parsers, for every Messenger event kind and both Twilio hooks.
#include <mutex>

#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"
#include "libs/http/server.h"
#include "services/ingress/form_encoding.h"
#include "services/ingress/messenger_parser.h"
#include "services/ingress/twilio_parser.h"
#include "services/ingress/webhook_signatures.h"
#include "tests/tools/provider_sim/sim_process.h"

namespace parley::provider_sim {
namespace {

constexpr char kAppSecret[] = "0123456789abcdef0123456789abcdef";
constexpr char kAuthToken[] = "96yc5z9g44vl4ks2p1suc42yb9p4lpmu";

class SimWebhooksTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto sim = SimProcess::Start(PARLEY_PROVIDER_SIM_BIN);
    ASSERT_TRUE(sim.ok()) << sim.status();
    sim_ = *std::move(sim);
    http::Router router;
    router.Post("/hook", [this](const http::Request& r) {
      std::lock_guard<std::mutex> lock(mu_);
      received_.push_back(r);
      return http::Text(200, "ok");
    });
    receiver_ =
        std::make_unique<http::Server>(http::Options{.address = "127.0.0.1:0"}, std::move(router));
    ASSERT_TRUE(receiver_->Start().ok());
    url_ = absl::StrCat("http://127.0.0.1:", receiver_->port(), "/hook");
  }
  void TearDown() override { receiver_->Shutdown(absl::Seconds(2)); }

  http::Request Last() {
    std::lock_guard<std::mutex> lock(mu_);
    return received_.empty() ? http::Request{} : received_.back();
  }

  std::unique_ptr<SimProcess> sim_;
  std::unique_ptr<http::Server> receiver_;
  std::string url_;
  std::mutex mu_;
  std::vector<http::Request> received_;
};

TEST_F(SimWebhooksTest, MessengerEventsOfEveryKindAreSignedAndParse) {
  for (const char* kind : {"text", "quick_reply", "attachments", "sticker", "postback", "delivery",
                           "read", "echo", "reaction", "edit", "reply", "optin", "referral"}) {
    SCOPED_TRACE(kind);
    auto r =
        sim_->Control("/_sim/webhooks/messenger",
                      absl::StrCat(R"({"url":")", url_, R"(","app_secret":")", kAppSecret,
                                   R"(","event":{"kind":")", kind,
                                   R"(","page_id":"1895382890692545","psid":"1412611362105802",)",
                                   R"("target_mid":"m_earlier","text":"héllo"}})"));
    ASSERT_TRUE(r.ok()) << r.status();
    ASSERT_EQ(r->status, 200) << r->body;
    http::Request got = Last();
    EXPECT_EQ(got.headers.Get("Content-Type"), "application/json");
    EXPECT_TRUE(ingress::VerifyHubSignature(ingress::HubAlgorithm::kSha256, kAppSecret, got.body,
                                            got.headers.Get("X-Hub-Signature-256")));
    EXPECT_TRUE(ingress::VerifyHubSignature(ingress::HubAlgorithm::kSha1, kAppSecret, got.body,
                                            got.headers.Get("X-Hub-Signature")));
    EXPECT_FALSE(ingress::VerifyHubSignature(ingress::HubAlgorithm::kSha256, "wrong", got.body,
                                             got.headers.Get("X-Hub-Signature-256")));
    auto batch = ingress::ParseMessengerWebhook(got.body);
    ASSERT_TRUE(batch.ok()) << batch.status();
    EXPECT_EQ(batch->events.size() + batch->skipped.size(), 1u);
    if (std::string(kind) == "text") {
      EXPECT_EQ(batch->events.size(), 1u);
    }
  }
}

TEST_F(SimWebhooksTest, TwilioInboundAndStatusAreSignedOverThePublicUrl) {
  const std::string public_url = "https://parley.example.com/webhooks/twilio/KEY";
  struct Case {
    std::string event;
    ingress::TwilioHook hook;
  };
  std::vector<Case> cases = {
      {R"({"kind":"inbound","account_sid":"AC0123456789abcdef0123456789abcdef",)"
       R"("from":"whatsapp:+31612345678","to":"whatsapp:+14155238886","body":"Olá",)"
       R"("media":[{"url":"https://api.twilio.com/2010-04-01/Accounts/AC1/Messages/MM1/Media/ME1",)"
       R"("content_type":"image/jpeg"}]})",
       ingress::TwilioHook::kInbound},
      {R"({"kind":"status","account_sid":"AC0123456789abcdef0123456789abcdef",)"
       R"("message_sid":"SM0cec4ed334e74bcbb64eb8b6684e9654","status":"failed",)"
       R"("from":"whatsapp:+14155238886","to":"whatsapp:+31612345678","error_code":"63016",)"
       R"("error_message":"outside the allowed window"})",
       ingress::TwilioHook::kStatus},
  };
  for (const Case& c : cases) {
    auto r = sim_->Control(
        "/_sim/webhooks/twilio",
        absl::StrCat(R"({"url":")", url_, R"(","public_url":")", public_url, R"(","auth_token":")",
                     kAuthToken, R"(","event":)", c.event, "}"));
    ASSERT_TRUE(r.ok()) << r.status();
    ASSERT_EQ(r->status, 200) << r->body;
    http::Request got = Last();
    auto params = ingress::DecodeForm(got.body);
    ASSERT_TRUE(params.ok()) << params.status();
    EXPECT_TRUE(ingress::VerifyTwilioSignature(kAuthToken, public_url, *params, got.body,
                                               got.headers.Get("X-Twilio-Signature")));
    EXPECT_FALSE(ingress::VerifyTwilioSignature(kAuthToken, url_, *params, got.body,
                                                got.headers.Get("X-Twilio-Signature")));
    auto parsed = ingress::ParseTwilioWebhook(c.hook, *params, got.body, "+14155238886");
    ASSERT_TRUE(parsed.ok()) << parsed.status();
    EXPECT_TRUE(parsed->event.has_value());
  }
}

}  // namespace
}  // namespace parley::provider_sim

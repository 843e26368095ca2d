// The Graph and Twilio senders and the media download against the real parley-provider-sim
// binary over HTTP: the request shape the simulator recorded, field by field, and every class
// of answer (accepted, retryable with the hint, final with the reason, unreachable).
#include <fstream>
#include <sstream>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"
#include "services/ingress/graph_sender.h"
#include "services/ingress/media_fetcher.h"
#include "services/ingress/twilio_sender.h"
#include "simdjson.h"
#include "tests/tools/provider_sim/sim_process.h"

namespace parley::ingress {
namespace {

namespace cv1 = common::v1;
using provider_sim::Recorded;
using provider_sim::SimProcess;

std::string Fixture(const std::string& rel) {
  std::ifstream in(std::string(PARLEY_PROVIDER_FIXTURES) + "/" + rel, std::ios::binary);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

constexpr char kSid[] = "AC0123456789abcdef0123456789abcdef";
constexpr char kToken[] = "0123456789abcdef0123456789abcdef";

class OutboundSimTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    auto sim = SimProcess::Start(PARLEY_PROVIDER_SIM_BIN);
    ASSERT_TRUE(sim.ok()) << sim.status();
    sim_ = sim->release();
  }
  static void TearDownTestSuite() {
    delete sim_;
    sim_ = nullptr;
  }
  void SetUp() override { ASSERT_TRUE(sim_->Reset().ok()); }

  std::vector<Recorded> Requests(const std::string& api) {
    auto r = sim_->Requests(api);
    EXPECT_TRUE(r.ok()) << r.status();
    return r.ok() ? *r : std::vector<Recorded>{};
  }

  GraphMessage Text() {
    return {.page_id = "1895382890692545",
            .page_access_token = "EAAtoken",
            .app_secret = "shhhhh!is.my.secret",
            .recipient_psid = "1412611362105802",
            .text = "Hello ä 👍"};
  }
  TwilioMessage WhatsApp() {
    return {.account_sid = kSid,
            .auth_token = kToken,
            .from_number = "+14155238886",
            .to_user = "+31612345678",
            .body = "Hello ä",
            .status_callback = "https://parley.example.com/webhooks/twilio/KEY/status"};
  }

  static SimProcess* sim_;
  http_client::Client client_;
  GraphSender graph() {
    return GraphSender(client_, {.base_url = sim_->base_url(), .version = "v21.0"});
  }
  TwilioSender twilio() { return TwilioSender(client_, {.base_url = sim_->base_url()}); }
};

SimProcess* OutboundSimTest::sim_ = nullptr;

TEST(AppSecretProofTest, PublishedVectors) {
  simdjson::dom::parser parser;
  std::string json = Fixture("signatures/facebook_appsecret_proof_vectors.json");
  simdjson::dom::element root = parser.parse(json);
  int n = 0;
  for (simdjson::dom::element v : root["vectors"].get_array()) {
    EXPECT_EQ(AppSecretProof(std::string(v["app_secret"].get_string().value()),
                             std::string(v["access_token"].get_string().value())),
              std::string(v["expected_appsecret_proof"].get_string().value()));
    ++n;
  }
  EXPECT_GE(n, 4);
}

TEST_F(OutboundSimTest, GraphTextWithQuickRepliesReplyToAndHumanAgentTag) {
  GraphMessage m = Text();
  m.human_agent_tag = true;
  m.quick_replies = {{"Red", "PICK_RED"}, {"Green", "PICK_GREEN"}};
  m.reply_to_mid = "m_1fTq8oLumEyIp3Q2MR-aY7IfLZDamVrALniheU";
  m.metadata = "0b7f6a3e-1c2d-4e5f-8a9b-0c1d2e3f4a5b";
  ASSERT_TRUE(sim_->RegisterPage(m.page_id, m.page_access_token, m.app_secret).ok());
  ProviderOutcome o = graph().Send(m);
  ASSERT_EQ(o.kind, OutcomeKind::kAccepted) << o.detail;
  EXPECT_TRUE(absl::StartsWith(o.provider_message_id, "m_"));

  std::vector<Recorded> reqs = Requests("graph");
  ASSERT_EQ(reqs.size(), 1u);
  const Recorded& r = reqs[0];
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(r.method, "POST");
  EXPECT_EQ(r.path, "/v21.0/1895382890692545/messages");
  EXPECT_EQ(r.Query("access_token"), "EAAtoken");
  EXPECT_EQ(r.Query("appsecret_proof"), AppSecretProof("shhhhh!is.my.secret", "EAAtoken"));
  EXPECT_EQ(r.Header("content-type"), "application/json");
  simdjson::dom::parser parser;
  simdjson::dom::element body = parser.parse(r.body);
  EXPECT_EQ(body["recipient"]["id"].get_string().value(), "1412611362105802");
  EXPECT_EQ(body["messaging_type"].get_string().value(), "MESSAGE_TAG");
  EXPECT_EQ(body["tag"].get_string().value(), "HUMAN_AGENT");
  EXPECT_EQ(body["message"]["text"].get_string().value(), "Hello ä 👍");
  EXPECT_EQ(body["message"]["metadata"].get_string().value(), m.metadata);
  auto qr = body["message"]["quick_replies"].get_array().value();
  ASSERT_EQ(qr.size(), 2u);
  EXPECT_EQ(qr.at(0)["content_type"].get_string().value(), "text");
  EXPECT_EQ(qr.at(0)["title"].get_string().value(), "Red");
  EXPECT_EQ(qr.at(1)["payload"].get_string().value(), "PICK_GREEN");
  EXPECT_EQ(body["reply_to"]["mid"].get_string().value(), m.reply_to_mid);
}

TEST_F(OutboundSimTest, GraphResponseAndAttachmentByUrl) {
  GraphMessage m = Text();
  m.text.clear();
  m.attachment_type = "image";
  m.attachment_url = "https://files.parley.example.com/a/1.png?sig=x";
  ProviderOutcome o = graph().Send(m);
  ASSERT_EQ(o.kind, OutcomeKind::kAccepted) << o.detail;
  std::vector<Recorded> reqs = Requests("graph");
  ASSERT_EQ(reqs.size(), 1u);
  simdjson::dom::parser parser;
  simdjson::dom::element body = parser.parse(reqs[0].body);
  EXPECT_EQ(body["messaging_type"].get_string().value(), "RESPONSE");
  EXPECT_TRUE(body["tag"].error() == simdjson::NO_SUCH_FIELD);
  EXPECT_TRUE(body["reply_to"].error() == simdjson::NO_SUCH_FIELD);
  EXPECT_TRUE(body["message"]["text"].error() == simdjson::NO_SUCH_FIELD);
  EXPECT_EQ(body["message"]["attachment"]["type"].get_string().value(), "image");
  EXPECT_EQ(body["message"]["attachment"]["payload"]["url"].get_string().value(), m.attachment_url);
  EXPECT_FALSE(body["message"]["attachment"]["payload"]["is_reusable"].get_bool().value());
}

TEST_F(OutboundSimTest, GraphWrongTokenIsInvalidCredentials) {
  GraphMessage m = Text();
  ASSERT_TRUE(sim_->RegisterPage(m.page_id, "another-token", m.app_secret).ok());
  ProviderOutcome o = graph().Send(m);
  ASSERT_EQ(o.kind, OutcomeKind::kFinal);
  EXPECT_EQ(o.failure_reason, cv1::DELIVERY_FAILURE_REASON_INVALID_CREDENTIALS);
  EXPECT_EQ(o.provider_code, 190);
  EXPECT_EQ(o.detail.find("EAAtoken"), std::string::npos);
}

TEST_F(OutboundSimTest, GraphErrorClassesFromFixtures) {
  ASSERT_TRUE(
      sim_->Fail("graph", 400, Fixture("graph_api/errors/613_rate_limit.json"), 1, "7").ok());
  ProviderOutcome rate = graph().Send(Text());
  ASSERT_EQ(rate.kind, OutcomeKind::kRetryable);
  EXPECT_EQ(rate.retry_reason, v1::RETRY_REASON_RATE_LIMITED);
  EXPECT_EQ(rate.retry_after, absl::Seconds(7));

  ASSERT_TRUE(
      sim_->Fail("graph", 400, Fixture("graph_api/errors/10_2018278_outside_window.json")).ok());
  ProviderOutcome window = graph().Send(Text());
  ASSERT_EQ(window.kind, OutcomeKind::kFinal);
  EXPECT_EQ(window.failure_reason, cv1::DELIVERY_FAILURE_REASON_WINDOW_CLOSED);
  EXPECT_EQ(window.provider_subcode, 2018278);

  ASSERT_TRUE(sim_->Fail("graph", 503, "<html>upstream down</html>").ok());
  ProviderOutcome down = graph().Send(Text());
  EXPECT_EQ(down.retry_reason, v1::RETRY_REASON_PROVIDER_ERROR);
  EXPECT_EQ(down.http_status, 503);

  ProviderOutcome ok = graph().Send(Text());  // the script is used up
  EXPECT_EQ(ok.kind, OutcomeKind::kAccepted);
  EXPECT_EQ(Requests("graph").size(), 4u);
}

TEST_F(OutboundSimTest, UnreachableProviderIsRetryable) {
  GraphSender nowhere(client_, {.base_url = "http://127.0.0.1:1", .version = "v21.0"});
  ProviderOutcome o = nowhere.Send(Text());
  ASSERT_EQ(o.kind, OutcomeKind::kRetryable);
  EXPECT_EQ(o.retry_reason, v1::RETRY_REASON_UNREACHABLE);
  EXPECT_EQ(o.detail.find("EAAtoken"), std::string::npos);  // the query never reaches details
}

TEST_F(OutboundSimTest, TwilioTextShape) {
  ASSERT_TRUE(sim_->RegisterAccount(kSid, kToken).ok());
  ProviderOutcome o = twilio().Send(WhatsApp());
  ASSERT_EQ(o.kind, OutcomeKind::kAccepted) << o.detail;
  EXPECT_TRUE(absl::StartsWith(o.provider_message_id, "SM"));
  std::vector<Recorded> reqs = Requests("twilio");
  ASSERT_EQ(reqs.size(), 1u);
  const Recorded& r = reqs[0];
  EXPECT_EQ(r.status, 201);
  EXPECT_EQ(r.path, absl::StrCat("/2010-04-01/Accounts/", kSid, "/Messages.json"));
  EXPECT_EQ(r.Header("content-type"), "application/x-www-form-urlencoded");
  EXPECT_EQ(r.Header("authorization"),
            "Basic "
            "QUMwMTIzNDU2Nzg5YWJjZGVmMDEyMzQ1Njc4OWFiY2RlZjowMTIzNDU2Nzg5YWJjZGVmMDEyMzQ1Njc4OWFiY2"
            "RlZg==");
  EXPECT_EQ(r.Form("To"), "whatsapp:+31612345678");
  EXPECT_EQ(r.Form("From"), "whatsapp:+14155238886");
  EXPECT_EQ(r.Form("Body"), "Hello ä");
  EXPECT_EQ(r.Form("StatusCallback"), "https://parley.example.com/webhooks/twilio/KEY/status");
  EXPECT_TRUE(r.FormAll("MediaUrl").empty());
}

TEST_F(OutboundSimTest, TwilioMediaAndBusinessScopedRecipient) {
  TwilioMessage m = WhatsApp();
  m.body.clear();
  m.to_user = "IN.2081978709342942";
  m.media_urls = {"https://files.parley.example.com/a/1.png?sig=x"};
  ProviderOutcome o = twilio().Send(m);
  ASSERT_EQ(o.kind, OutcomeKind::kAccepted) << o.detail;
  EXPECT_TRUE(absl::StartsWith(o.provider_message_id, "MM"));
  std::vector<Recorded> reqs = Requests("twilio");
  ASSERT_EQ(reqs.size(), 1u);
  EXPECT_EQ(reqs[0].Form("To"), "whatsapp:IN.2081978709342942");
  EXPECT_EQ(reqs[0].Form("Body"), "");
  EXPECT_EQ(reqs[0].FormAll("MediaUrl"),
            std::vector<std::string>{"https://files.parley.example.com/a/1.png?sig=x"});
}

TEST_F(OutboundSimTest, TwilioErrorClasses) {
  ASSERT_TRUE(sim_->RegisterAccount(kSid, "ffffffffffffffffffffffffffffffff").ok());
  ProviderOutcome auth = twilio().Send(WhatsApp());
  ASSERT_EQ(auth.kind, OutcomeKind::kFinal);
  EXPECT_EQ(auth.failure_reason, cv1::DELIVERY_FAILURE_REASON_INVALID_CREDENTIALS);
  EXPECT_EQ(auth.provider_code, 20003);
  EXPECT_EQ(auth.http_status, 401);
  ASSERT_TRUE(sim_->Reset().ok());

  ASSERT_TRUE(
      sim_->Fail("twilio", 429, R"({"code":20429,"message":"Too Many Requests"})", 1, "3").ok());
  ProviderOutcome rate = twilio().Send(WhatsApp());
  EXPECT_EQ(rate.retry_reason, v1::RETRY_REASON_RATE_LIMITED);
  EXPECT_EQ(rate.retry_after, absl::Seconds(3));

  ASSERT_TRUE(sim_->Fail("twilio", 400,
                         R"({"code":63016,"message":"Outside messaging window","status":400})")
                  .ok());
  EXPECT_EQ(twilio().Send(WhatsApp()).failure_reason, cv1::DELIVERY_FAILURE_REASON_WINDOW_CLOSED);

  ASSERT_TRUE(
      sim_->Fail("twilio", 400, Fixture("twilio_api/errors/63007_channel_not_found.json")).ok());
  EXPECT_EQ(twilio().Send(WhatsApp()).failure_reason,
            cv1::DELIVERY_FAILURE_REASON_PERMISSION_DENIED);

  ASSERT_TRUE(sim_->Fail("twilio", 500, Fixture("twilio_api/errors/malformed_body.txt")).ok());
  EXPECT_EQ(twilio().Send(WhatsApp()).retry_reason, v1::RETRY_REASON_PROVIDER_ERROR);
}

TEST_F(OutboundSimTest, MediaDownloadWithBasicAuthAndAllowList) {
  MediaFetchOptions options{.extra_origins = {sim_->base_url()}};
  std::string url = absl::StrCat(sim_->base_url(), "/2010-04-01/Accounts/", kSid,
                                 "/Messages/MM21151abfaadc1fb79b782f8460862a52/Media/ME5f0a");
  ASSERT_TRUE(sim_->RegisterAccount(kSid, kToken).ok());
  auto media = FetchMedia(client_, cv1::CHANNEL_WHATSAPP, url, http_client::BasicAuth{kSid, kToken},
                          options);
  ASSERT_TRUE(media.ok()) << media.status();
  EXPECT_EQ(media->content_type, "image/png");
  EXPECT_EQ(media->bytes.substr(1, 3), "PNG");

  auto no_auth = FetchMedia(client_, cv1::CHANNEL_WHATSAPP, url, std::nullopt, options);
  EXPECT_EQ(no_auth.status().code(), absl::StatusCode::kFailedPrecondition);

  for (int gone : {403, 404, 410}) {
    auto r = FetchMedia(client_, cv1::CHANNEL_MESSENGER,
                        absl::StrCat(sim_->base_url(), "/_sim/media/status/", gone), std::nullopt,
                        options);
    EXPECT_EQ(r.status().code(), absl::StatusCode::kFailedPrecondition) << gone;
  }
  auto busy =
      FetchMedia(client_, cv1::CHANNEL_MESSENGER,
                 absl::StrCat(sim_->base_url(), "/_sim/media/status/503"), std::nullopt, options);
  EXPECT_EQ(busy.status().code(), absl::StatusCode::kUnavailable);

  // Not on the allow-list: refused before any request.
  ASSERT_TRUE(sim_->Reset().ok());
  auto other = FetchMedia(client_, cv1::CHANNEL_MESSENGER,
                          absl::StrCat(sim_->base_url(), "/_sim/media/x.png"), std::nullopt, {});
  EXPECT_EQ(other.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_TRUE(Requests("media").empty());
}

TEST(MediaUrlTest, ChannelHosts) {
  EXPECT_TRUE(CheckMediaUrl(cv1::CHANNEL_MESSENGER,
                            "https://scontent.xx.fbcdn.net/v/t35.0-12/1.png?oh=1", {})
                  .ok());
  EXPECT_TRUE(CheckMediaUrl(cv1::CHANNEL_WHATSAPP,
                            "https://api.twilio.com/2010-04-01/Accounts/AC1/Messages/MM1/Media/ME1",
                            {})
                  .ok());
  EXPECT_FALSE(
      CheckMediaUrl(cv1::CHANNEL_WHATSAPP, "https://scontent.xx.fbcdn.net/1.png", {}).ok());
  EXPECT_FALSE(
      CheckMediaUrl(cv1::CHANNEL_MESSENGER, "http://scontent.xx.fbcdn.net/1.png", {}).ok());
  EXPECT_FALSE(CheckMediaUrl(cv1::CHANNEL_MESSENGER, "https://fbcdn.net.evil.com/1.png", {}).ok());
  EXPECT_FALSE(CheckMediaUrl(cv1::CHANNEL_MESSENGER, "https://evilfbcdn.net/1.png", {}).ok());
}

}  // namespace
}  // namespace parley::ingress

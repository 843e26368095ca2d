// The webhook handlers through the router, with a configuration lookup held in memory (a test
// double of ChannelDirectory, not storage) and session's IngestService played by a recording
// gRPC server on a real socket. The binaries with PostgreSQL are exercised end to end by
// tests/e2e/ingress_conformance_e2etest.cc.
#include "services/ingress/webhook_handlers.h"

#include <atomic>
#include <fstream>
#include <map>
#include <mutex>
#include <set>
#include <sstream>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_replace.h"
#include "grpcpp/grpcpp.h"
#include "gtest/gtest.h"
#include "prometheus/registry.h"
#include "services/ingress/form_encoding.h"
#include "services/ingress/webhook_signatures.h"

namespace parley::ingress {
namespace {

namespace common = parley::common::v1;
namespace sv1 = parley::session::v1;

constexpr char kBase[] = "https://parley.example.com";
constexpr char kAppSecret[] = "APP_SECRET";
constexpr char kAuthToken[] = "96yc5z9g44vl4ks2p1suc42yb9p4lpmu";
constexpr char kAccountSid[] = "AC1a03647d811fab342c0ad608e382fab2";
// A second sender, of another account.
constexpr char kOtherToken[] = "0f1e2d3c4b5a69788796a5b4c3d2e1f0";
constexpr char kOtherAccount[] = "AC00112233445566778899aabbccddeeff";
constexpr char kOtherNumber[] = "+14155238886";
constexpr char kSharedPath[] = "/webhooks/twilio";

std::string ReadFixture(const std::string& relative) {
  std::ifstream in(absl::StrCat(PARLEY_PROVIDER_FIXTURES, "/", relative), std::ios::binary);
  EXPECT_TRUE(in.good()) << relative;
  std::stringstream buffer;
  buffer << in.rdbuf();
  return buffer.str();
}

class MemoryDirectory : public ChannelDirectory {
 public:
  std::shared_ptr<const MessengerCallback> FindMessengerCallback(
      absl::string_view key) const override {
    auto it = callbacks.find(std::string(key));
    return it == callbacks.end() ? nullptr : it->second;
  }
  std::shared_ptr<const MessengerPage> FindPage(absl::string_view page_id) const override {
    auto it = pages.find(std::string(page_id));
    return it == pages.end() ? nullptr : it->second;
  }
  std::shared_ptr<const MessengerApp> FindApp(absl::string_view) const override { return nullptr; }
  std::shared_ptr<const WhatsAppSender> FindWhatsAppCallback(absl::string_view key) const override {
    auto it = senders.find(std::string(key));
    return it == senders.end() ? nullptr : it->second;
  }
  std::shared_ptr<const WhatsAppSender> FindSender(absl::string_view number) const override {
    for (const auto& [key, sender] : senders) {
      if (sender->phone_number == number) return sender;
    }
    return nullptr;
  }

  std::map<std::string, std::shared_ptr<const MessengerCallback>> callbacks;
  std::map<std::string, std::shared_ptr<const MessengerPage>> pages;
  std::map<std::string, std::shared_ptr<const WhatsAppSender>> senders;
};

// Session's IngestService as a recorder: answers `next_status`, and DUPLICATE for dedup keys
// it has seen.
class RecordingIngest final : public sv1::IngestService::Service {
 public:
  grpc::Status Ingest(grpc::ServerContext*, const sv1::IngestRequest* request,
                      sv1::IngestResponse* response) override {
    std::lock_guard<std::mutex> lock(mu);
    if (!next_status.ok()) return next_status;
    requests.push_back(*request);
    for (int i = 0; i < request->events_size(); ++i) {
      sv1::IngestEventResult* r = response->add_results();
      r->set_event_index(i);
      const bool seen = !keys.insert(request->events(i).dedup_key()).second;
      r->set_outcome(seen ? sv1::INGEST_OUTCOME_DUPLICATE : sv1::INGEST_OUTCOME_STORED);
    }
    return grpc::Status::OK;
  }

  std::mutex mu;
  grpc::Status next_status = grpc::Status::OK;
  std::vector<sv1::IngestRequest> requests;
  std::set<std::string> keys;
};

common::EndpointSettings Settings() {
  common::EndpointSettings s;
  s.set_language("en-US");
  s.set_work_stream_id("8a1f0b9e-3f2a-4d1b-8c7e-0123456789ab");
  return s;
}

class WebhookHandlersTest : public ::testing::Test {
 protected:
  void SetUp() override {
    grpc::ServerBuilder builder;
    builder.AddListeningPort("127.0.0.1:0", grpc::InsecureServerCredentials(), &port_);
    builder.RegisterService(&ingest_);
    server_ = builder.BuildAndStart();
    ASSERT_NE(server_, nullptr);
    auto channel =
        grpc::CreateChannel(absl::StrCat("127.0.0.1:", port_), grpc::InsecureChannelCredentials());
    directory_ = std::make_shared<MemoryDirectory>();
    auto app = MessengerApp{
        .record_id = "app-1", .meta_app_id = "1821152484774199", .app_secret = kAppSecret};
    AddPage(app, "1895382890692545", "key-a", "verify-me");
    AddPage(app, "404217156637689", "key-b", "other");
    AddPage(MessengerApp{.record_id = "app-2", .meta_app_id = "9", .app_secret = "OTHER"},
            "189538289069256", "key-c", "third");
    directory_->senders["tw-key"] =
        std::make_shared<WhatsAppSender>(WhatsAppSender{.record_id = "s-1",
                                                        .phone_number = "+14123456789",
                                                        .account_sid = kAccountSid,
                                                        .auth_token = kAuthToken,
                                                        .callback_key = "tw-key",
                                                        .settings = Settings()});
    directory_->senders["tw-other"] =
        std::make_shared<WhatsAppSender>(WhatsAppSender{.record_id = "s-2",
                                                        .phone_number = kOtherNumber,
                                                        .account_sid = kOtherAccount,
                                                        .auth_token = kOtherToken,
                                                        .callback_key = "tw-other",
                                                        .settings = Settings()});
    metrics_ = std::make_shared<WebhookMetrics>(registry_);
    WebhookDeps deps{.directory = directory_,
                     .directory_loaded = [this] { return loaded_.load(); },
                     .ingest = sv1::IngestService::NewStub(channel),
                     .metrics = metrics_};
    handlers_ = std::make_shared<WebhookHandlers>(std::move(deps),
                                                  WebhookOptions{.public_base_url = kBase});
    AddWebhookRoutes(router_, handlers_);
  }
  void TearDown() override { server_->Shutdown(); }

  void AddPage(const MessengerApp& app, const std::string& page_id, const std::string& key,
               const std::string& token) {
    auto page = std::make_shared<MessengerPage>(MessengerPage{.record_id = "rec-" + page_id,
                                                              .page_id = page_id,
                                                              .app_record_id = app.record_id,
                                                              .verify_token = token,
                                                              .callback_key = key,
                                                              .settings = Settings()});
    directory_->pages[page_id] = page;
    directory_->callbacks[key] =
        std::make_shared<MessengerCallback>(MessengerCallback{.app = app, .page = *page});
  }

  http::Response Call(const std::string& method, const std::string& target,
                      const std::string& body = "",
                      std::vector<std::pair<std::string, std::string>> headers = {}) {
    http::Request request;
    request.method = method;
    const size_t q = target.find('?');
    request.path = target.substr(0, q);
    request.query = q == std::string::npos ? "" : target.substr(q + 1);
    request.body = body;
    for (auto& [n, v] : headers) request.headers.Add(n, v);
    const http::Router::Match match = router_.Find(method, request.path);
    if (match.handler == nullptr) return http::Text(match.route == nullptr ? 404 : 405, "");
    return (*match.handler)(request);
  }

  http::Response PostMessenger(const std::string& key, const std::string& body,
                               const std::string& secret = kAppSecret) {
    return Call("POST", "/webhooks/messenger/" + key, body,
                {{"X-Hub-Signature-256", HubSignature256(secret, body)}});
  }

  http::Response PostTwilio(const std::string& path, const std::string& body,
                            const std::string& signed_url = "",
                            const std::string& token = kAuthToken) {
    auto params = DecodeForm(body);
    EXPECT_TRUE(params.ok());
    const std::string url = signed_url.empty() ? absl::StrCat(kBase, path) : signed_url;
    return Call("POST", path, body, {{"X-Twilio-Signature", TwilioSignature(token, url, *params)}});
  }

  size_t Requests() {
    std::lock_guard<std::mutex> lock(ingest_.mu);
    return ingest_.requests.size();
  }
  sv1::IngestRequest LastRequest() {
    std::lock_guard<std::mutex> lock(ingest_.mu);
    return ingest_.requests.back();
  }

  double Metric(const std::string& name, const std::map<std::string, std::string>& labels) {
    double total = 0;
    for (const prometheus::MetricFamily& family : registry_.Collect()) {
      if (family.name != name) continue;
      for (const prometheus::ClientMetric& m : family.metric) {
        std::map<std::string, std::string> got;
        for (const auto& l : m.label) got[l.name] = l.value;
        bool match = true;
        for (const auto& [k, v] : labels) match &= got[k] == v;
        if (match) total += m.counter.value + m.gauge.value + m.histogram.sample_count;
      }
    }
    return total;
  }

  RecordingIngest ingest_;
  int port_ = 0;
  std::unique_ptr<grpc::Server> server_;
  std::shared_ptr<MemoryDirectory> directory_;
  std::atomic<bool> loaded_{true};
  prometheus::Registry registry_;
  std::shared_ptr<WebhookMetrics> metrics_;
  std::shared_ptr<WebhookHandlers> handlers_;
  http::Router router_;
};

TEST_F(WebhookHandlersTest, VerificationHandshake) {
  const auto ok = Call("GET",
                       "/webhooks/messenger/key-a?hub.mode=subscribe&hub.verify_token=verify-me"
                       "&hub.challenge=1158201444");
  EXPECT_EQ(ok.status, 200);
  EXPECT_EQ(ok.body, "1158201444");
  EXPECT_EQ(Call("GET",
                 "/webhooks/messenger/key-a?hub.mode=subscribe&hub.verify_token=nope"
                 "&hub.challenge=1")
                .status,
            403);
  EXPECT_EQ(Call("GET",
                 "/webhooks/messenger/key-a?hub.mode=unsubscribe&hub.verify_token="
                 "verify-me&hub.challenge=1")
                .status,
            403);
  EXPECT_EQ(Call("GET", "/webhooks/messenger/key-a").status, 403);
  EXPECT_EQ(Call("GET", "/webhooks/messenger/unknown?hub.mode=subscribe").status, 404);
  EXPECT_EQ(Call("GET", "/webhooks/messenger/key-a/extra").status, 404);
  EXPECT_EQ(Metric("parley_webhooks_total", {{"outcome", "verified"}}), 1);
  EXPECT_EQ(Metric("parley_webhooks_total", {{"outcome", "bad_verify_token"}}), 3);
}

TEST_F(WebhookHandlersTest, SignedMessageIsHandedToSessionAsOneBatch) {
  const std::string body = ReadFixture("messenger/text.json");
  // The stored signature of the fixture, exactly as published.
  const auto r =
      Call("POST", "/webhooks/messenger/key-a", body,
           {{"X-Hub-Signature-256",
             "sha256=3967ee7a1a638dce7f3c96b9ca01ae42abfc01317ee3bc48e037f094a1f89617"}});
  EXPECT_EQ(r.status, 200);
  ASSERT_EQ(Requests(), 1u);
  const sv1::IngestRequest req = LastRequest();
  EXPECT_EQ(req.channel(), common::CHANNEL_MESSENGER);
  EXPECT_EQ(req.batch_id().size(), 36u);
  ASSERT_EQ(req.endpoints_size(), 1);
  EXPECT_EQ(req.endpoints(0).endpoint().id(), "1895382890692545");
  EXPECT_EQ(req.endpoints(0).settings().language(), "en-US");
  ASSERT_EQ(req.events_size(), 1);
  EXPECT_EQ(req.events(0).dedup_key(), "msg:mid.1486464322190:cb04e5a654");
  EXPECT_EQ(Metric("parley_webhook_events_total", {{"kind", "message"}}), 1);
  EXPECT_EQ(Metric("parley_webhook_last_received_timestamp_seconds",
                   {{"endpoint", "1895382890692545"}}) > 0,
            true);
  // The provider retries: answered 200 again, counted as a duplicate.
  EXPECT_EQ(PostMessenger("key-a", body).status, 200);
  EXPECT_EQ(Metric("parley_webhooks_total", {{"outcome", "duplicate"}}), 1);
  EXPECT_EQ(Metric("parley_webhook_ack_seconds", {{"channel", "messenger"}}), 2);
}

TEST_F(WebhookHandlersTest, AnyPageCallbackOfTheApplicationReceivesAllItsPages) {
  EXPECT_EQ(PostMessenger("key-a", ReadFixture("messenger/image.json")).status, 200);
  ASSERT_EQ(Requests(), 1u);
  EXPECT_EQ(LastRequest().events(0).endpoint().id(), "404217156637689");
}

TEST_F(WebhookHandlersTest, MissingOrForgedSignatureIs401AndNothingIsStored) {
  const std::string body = ReadFixture("messenger/text.json");
  EXPECT_EQ(Call("POST", "/webhooks/messenger/key-a", body).status, 401);
  EXPECT_EQ(PostMessenger("key-a", body, "FAKE_SECRET").status, 401);
  EXPECT_EQ(Call("POST", "/webhooks/messenger/key-a", body,
                 {{"X-Hub-Signature", "sha1=0c9b77eea92817a0fa756ee52388061d18112a48"}})
                .status,
            401);
  EXPECT_EQ(PostMessenger("key-a", body + " ", kAppSecret).status, 200);  // its own signature
  EXPECT_EQ(Requests(), 1u);
  EXPECT_EQ(Metric("parley_webhooks_total", {{"outcome", "bad_signature"}}), 3);
}

TEST_F(WebhookHandlersTest, UnknownCallbackIs404) {
  EXPECT_EQ(PostMessenger("nope", "{}").status, 404);
  EXPECT_EQ(PostMessenger("", "{}").status, 404);
  EXPECT_EQ(PostTwilio("/webhooks/twilio/nope", "a=b").status, 404);
  EXPECT_EQ(PostTwilio("/webhooks/twilio/tw-key/other", "a=b").status, 404);
  EXPECT_EQ(Requests(), 0u);
  EXPECT_EQ(Metric("parley_webhooks_total", {{"outcome", "unknown_callback"}}), 3);
}

TEST_F(WebhookHandlersTest, BeforeTheConfigurationLoadedItIs503) {
  loaded_ = false;
  EXPECT_EQ(PostMessenger("key-a", ReadFixture("messenger/text.json")).status, 503);
  EXPECT_EQ(PostTwilio("/webhooks/twilio/tw-key", "a=b").status, 503);
}

TEST_F(WebhookHandlersTest, MalformedJsonIs400AndNothingIsStored) {
  EXPECT_EQ(PostMessenger("key-a", "{\"object\":\"page\",\"entry\":[").status, 400);
  EXPECT_EQ(PostMessenger("key-a", "").status, 400);
  EXPECT_EQ(Requests(), 0u);
  EXPECT_EQ(Metric("parley_webhooks_total", {{"outcome", "malformed"}}), 2);
}

TEST_F(WebhookHandlersTest, EntriesOfUnconfiguredOrForeignPagesAreSkippedRestIsStored) {
  // batch_two_pages: page 1895382890692545 is app-1's; 189538289069256 belongs to app-2.
  EXPECT_EQ(PostMessenger("key-a", ReadFixture("messenger/batch_two_pages.json")).status, 200);
  ASSERT_EQ(Requests(), 1u);
  ASSERT_EQ(LastRequest().events_size(), 1);
  EXPECT_EQ(LastRequest().events(0).endpoint().id(), "1895382890692545");
  EXPECT_EQ(Metric("parley_webhook_events_skipped_total", {{"reason", "unknown_page"}}), 1);
  // Nothing for a configured page at all: 200, nothing handed over.
  EXPECT_EQ(PostMessenger("key-a", ReadFixture("messenger/delivery.json")).status, 200);
  EXPECT_EQ(Requests(), 1u);
  EXPECT_EQ(Metric("parley_webhooks_total", {{"outcome", "unknown_page"}}), 1);
}

TEST_F(WebhookHandlersTest, DashboardTestPayloadIs200WithoutEvents) {
  EXPECT_EQ(PostMessenger("key-a", ReadFixture("messenger/webhook_test_changes.json")).status, 200);
  EXPECT_EQ(Requests(), 0u);
}

TEST_F(WebhookHandlersTest, SessionDownIs503ThenTheRetryIsStored) {
  const std::string body = ReadFixture("messenger/text.json");
  {
    std::lock_guard<std::mutex> lock(ingest_.mu);
    ingest_.next_status = grpc::Status(grpc::StatusCode::UNAVAILABLE, "pg down");
  }
  EXPECT_EQ(PostMessenger("key-a", body).status, 503);
  EXPECT_EQ(Metric("parley_webhooks_total", {{"outcome", "unavailable"}}), 1);
  {
    std::lock_guard<std::mutex> lock(ingest_.mu);
    ingest_.next_status = grpc::Status::OK;
  }
  EXPECT_EQ(PostMessenger("key-a", body).status, 200);
  EXPECT_EQ(Metric("parley_webhooks_total", {{"outcome", "accepted"}}), 1);
  server_->Shutdown();  // session gone entirely: the call fails, 503
  EXPECT_EQ(PostMessenger("key-a", body).status, 503);
}

TEST_F(WebhookHandlersTest, TwilioInboundAndStatus) {
  const std::string inbound = ReadFixture("twilio_whatsapp/inbound_text.form");
  const auto r = PostTwilio("/webhooks/twilio/tw-key", inbound);
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(r.content_type, "text/xml");
  ASSERT_EQ(Requests(), 1u);
  EXPECT_EQ(LastRequest().channel(), common::CHANNEL_WHATSAPP);
  EXPECT_EQ(LastRequest().events(0).endpoint().id(), "+14123456789");
  EXPECT_EQ(LastRequest().endpoints(0).endpoint().id(), "+14123456789");
  const auto s = PostTwilio("/webhooks/twilio/tw-key/status",
                            ReadFixture("twilio_whatsapp/status_delivered.form"));
  EXPECT_EQ(s.status, 200);
  ASSERT_EQ(Requests(), 2u);
  EXPECT_EQ(LastRequest().events(0).status().status(), common::DELIVERY_STATUS_DELIVERED);
  EXPECT_EQ(Metric("parley_webhook_events_total", {{"kind", "status"}}), 1);
}

TEST_F(WebhookHandlersTest, TwilioUrlWithDefaultPortAndQuery) {
  const std::string inbound = ReadFixture("twilio_whatsapp/inbound_media.form");
  EXPECT_EQ(PostTwilio("/webhooks/twilio/tw-key", inbound,
                       "https://parley.example.com:443/webhooks/twilio/tw-key")
                .status,
            200);
  EXPECT_EQ(PostTwilio("/webhooks/twilio/tw-key?x=1", inbound,
                       "https://parley.example.com/webhooks/twilio/tw-key?x=1")
                .status,
            200);
  EXPECT_EQ(PostTwilio("/webhooks/twilio/tw-key", inbound,
                       "https://elsewhere.example.com/webhooks/twilio/tw-key")
                .status,
            401);
}

TEST_F(WebhookHandlersTest, TwilioStoredFixtureSignatureChecksTheConfiguredUrl) {
  // The fixture's stored signature covers https://example.com/api/whatsapp/messages, not this
  // deployment's URL: refused.
  const std::string body = ReadFixture("twilio_whatsapp/inbound_text.form");
  EXPECT_EQ(Call("POST", "/webhooks/twilio/tw-key", body,
                 {{"X-Twilio-Signature", "ZOa7yMdySjKzwTRlBwpr0Ao/Nq4="}})
                .status,
            401);
  EXPECT_EQ(Call("POST", "/webhooks/twilio/tw-key", body).status, 401);
  EXPECT_EQ(
      Call("POST", "/webhooks/twilio/tw-key", ReadFixture("twilio_whatsapp/not_from_twilio.form"),
           {{"X-Twilio-Signature", "test"}})
          .status,
      401);
  EXPECT_EQ(Requests(), 0u);
}

TEST_F(WebhookHandlersTest, TwilioOtherAccountOrNumberIs403BadFormIs400) {
  EXPECT_EQ(PostTwilio("/webhooks/twilio/tw-key",
                       ReadFixture("twilio_whatsapp/inbound_text_profile.form"))
                .status,
            403);  // AccountSid someAccount
  EXPECT_EQ(PostTwilio("/webhooks/twilio/tw-key",
                       "MessageSid=SM1&AccountSid=" + std::string(kAccountSid) +
                           "&From=whatsapp%3A%2B1&To=whatsapp%3A%2B999")
                .status,
            403);
  EXPECT_EQ(PostTwilio("/webhooks/twilio/tw-key", "To=whatsapp%3A%2B14123456789&Body=x").status,
            400);  // no MessageSid
  EXPECT_EQ(Call("POST", "/webhooks/twilio/tw-key", "Body=%zz").status, 400);
  EXPECT_EQ(Requests(), 0u);
}

// The shared Twilio route: one URL for every sender, inbound messages and status callbacks.

// A body of `kind` ("inbound" or "status") between the customer +31600000001 and `number`.
std::string SharedBody(const std::string& kind, const std::string& account,
                       const std::string& number, const std::string& sid) {
  const std::string sender = "whatsapp%3A" + absl::StrReplaceAll(number, {{"+", "%2B"}});
  const std::string customer = "whatsapp%3A%2B31600000001";
  if (kind == "status") {
    return absl::StrCat("MessageSid=", sid, "&MessageStatus=delivered&AccountSid=", account,
                        "&From=", sender, "&To=", customer);
  }
  return absl::StrCat("MessageSid=", sid,
                      "&SmsStatus=received&Body=hi&NumMedia=0&AccountSid=", account,
                      "&From=", customer, "&To=", sender);
}

TEST_F(WebhookHandlersTest, TwilioSharedInboundIsRoutedByTo) {
  const auto r = PostTwilio(kSharedPath, ReadFixture("twilio_whatsapp/inbound_text.form"));
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(r.content_type, "text/xml");
  ASSERT_EQ(Requests(), 1u);
  EXPECT_TRUE(LastRequest().events(0).has_message());
  EXPECT_EQ(LastRequest().events(0).endpoint().id(), "+14123456789");
  EXPECT_EQ(LastRequest().events(0).customer().user_id(), "+31612345678");
  // The other sender, by its own To and account, signed with its own token.
  EXPECT_EQ(PostTwilio(kSharedPath, SharedBody("inbound", kOtherAccount, kOtherNumber, "SMo1"), "",
                       kOtherToken)
                .status,
            200);
  ASSERT_EQ(Requests(), 2u);
  EXPECT_EQ(LastRequest().events(0).endpoint().id(), kOtherNumber);
  EXPECT_EQ(LastRequest().endpoints(0).endpoint().id(), kOtherNumber);
  EXPECT_EQ(LastRequest().events(0).dedup_key(), "msg:SMo1");
  EXPECT_EQ(Metric("parley_webhooks_total", {{"outcome", "accepted"}}), 2);
}

TEST_F(WebhookHandlersTest, TwilioSharedStatusIsRoutedByFrom) {
  const auto r = PostTwilio(kSharedPath, ReadFixture("twilio_whatsapp/status_delivered.form"));
  EXPECT_EQ(r.status, 200);
  EXPECT_NE(r.content_type, "text/xml");
  ASSERT_EQ(Requests(), 1u);
  const sv1::IngestRequest req = LastRequest();
  const sv1::InboundEvent& e = req.events(0);
  ASSERT_TRUE(e.has_status());
  EXPECT_EQ(e.status().status(), common::DELIVERY_STATUS_DELIVERED);
  EXPECT_EQ(e.endpoint().id(), "+14123456789");
  EXPECT_EQ(e.customer().user_id(), "+31612345678");
  EXPECT_EQ(PostTwilio(kSharedPath, SharedBody("status", kOtherAccount, kOtherNumber, "SMo2"), "",
                       kOtherToken)
                .status,
            200);
  ASSERT_EQ(Requests(), 2u);
  EXPECT_EQ(LastRequest().events(0).endpoint().id(), kOtherNumber);
  EXPECT_EQ(LastRequest().events(0).dedup_key(), "status:SMo2:delivered");
  EXPECT_EQ(Metric("parley_webhook_events_total", {{"kind", "status"}}), 2);
}

TEST_F(WebhookHandlersTest, TwilioSharedUnknownSenderIs404) {
  // A configured number under another account, in both directions.
  EXPECT_EQ(
      PostTwilio(kSharedPath, SharedBody("inbound", kOtherAccount, "+14123456789", "SMu1")).status,
      404);
  EXPECT_EQ(
      PostTwilio(kSharedPath, SharedBody("status", kOtherAccount, "+14123456789", "SMu2")).status,
      404);
  // The sender's account and number, but on the customer's side of the message.
  EXPECT_EQ(
      PostTwilio(kSharedPath, SharedBody("status", kAccountSid, "+31600000002", "SMu3")).status,
      404);
  // Accounts nobody configured (someAccount, someAccountSID).
  for (const char* file : {"inbound_text_profile.form", "status_failed_63016.form"}) {
    EXPECT_EQ(PostTwilio(kSharedPath, ReadFixture(absl::StrCat("twilio_whatsapp/", file))).status,
              404)
        << file;
  }
  EXPECT_EQ(Requests(), 0u);
  EXPECT_EQ(Metric("parley_webhooks_total", {{"outcome", "unknown_callback"}}), 5);
  loaded_ = false;
  EXPECT_EQ(PostTwilio(kSharedPath, ReadFixture("twilio_whatsapp/inbound_text.form")).status, 503);
}

TEST_F(WebhookHandlersTest, TwilioSharedWrongOrMissingSignatureIs401) {
  const std::string body = ReadFixture("twilio_whatsapp/inbound_text.form");
  EXPECT_EQ(Call("POST", kSharedPath, body).status, 401);
  EXPECT_EQ(Call("POST", kSharedPath, body, {{"X-Twilio-Signature", "test"}}).status, 401);
  // The stored signature covers https://example.com/api/whatsapp/messages, not this URL.
  EXPECT_EQ(
      Call("POST", kSharedPath, body, {{"X-Twilio-Signature", "ZOa7yMdySjKzwTRlBwpr0Ao/Nq4="}})
          .status,
      401);
  // Signed over a per-sender Callback URI instead of the shared one.
  EXPECT_EQ(PostTwilio(kSharedPath, body, absl::StrCat(kBase, "/webhooks/twilio/tw-key")).status,
            401);
  // Bodies naming no sender (no AccountSid, no To): no token can verify them.
  EXPECT_EQ(Call("POST", kSharedPath, ReadFixture("twilio_whatsapp/not_from_twilio.form"),
                 {{"X-Twilio-Signature", "test"}})
                .status,
            401);
  EXPECT_EQ(PostTwilio(kSharedPath, ReadFixture("twilio_whatsapp/inbound_bsuid.form")).status, 401);
  EXPECT_EQ(PostTwilio(kSharedPath, "MessageSid=SM1&To=whatsapp%3A%2B14123456789&Body=x").status,
            401);
  EXPECT_EQ(Requests(), 0u);
  EXPECT_EQ(Metric("parley_webhooks_total", {{"outcome", "bad_signature"}}), 7);
}

TEST_F(WebhookHandlersTest, TwilioSharedBodySignedWithAnotherSendersTokenIs401) {
  // Naming the first sender, signed by the second one's token (and the other way round): each
  // body is checked with the token of the account it names.
  EXPECT_EQ(
      PostTwilio(kSharedPath, ReadFixture("twilio_whatsapp/inbound_text.form"), "", kOtherToken)
          .status,
      401);
  EXPECT_EQ(
      PostTwilio(kSharedPath, ReadFixture("twilio_whatsapp/status_sent.form"), "", kOtherToken)
          .status,
      401);
  EXPECT_EQ(
      PostTwilio(kSharedPath, SharedBody("inbound", kOtherAccount, kOtherNumber, "SMx1")).status,
      401);
  EXPECT_EQ(Requests(), 0u);
  EXPECT_EQ(Metric("parley_webhooks_total", {{"outcome", "bad_signature"}}), 3);
}

TEST_F(WebhookHandlersTest, TwilioSharedBadFormIs400) {
  EXPECT_EQ(Call("POST", kSharedPath, "Body=%zz").status, 400);
  const std::string json = R"({"property": "value", "boolean": true})";
  EXPECT_EQ(Call("POST", absl::StrCat(kSharedPath, "?bodySHA256=", Sha256Hex(json)), json).status,
            400);
  // Signed, of a configured sender, but without a MessageSid.
  EXPECT_EQ(PostTwilio(kSharedPath, absl::StrCat("AccountSid=", kAccountSid,
                                                 "&To=whatsapp%3A%2B14123456789&Body=x"))
                .status,
            400);
  EXPECT_EQ(Requests(), 0u);
}

// With the public URL and path of the fixtures' stored signatures, each fixture of the
// configured sender is accepted with its signature exactly as stored.
TEST_F(WebhookHandlersTest, TwilioSharedAcceptsTheStoredFixtureSignature) {
  auto handlers = std::make_shared<WebhookHandlers>(
      WebhookDeps{.directory = directory_,
                  .directory_loaded = [] { return true; },
                  .ingest = sv1::IngestService::NewStub(grpc::CreateChannel(
                      absl::StrCat("127.0.0.1:", port_), grpc::InsecureChannelCredentials())),
                  .metrics = metrics_},
      WebhookOptions{.public_base_url = "https://example.com",
                     .twilio_shared_path = "/api/whatsapp/messages"});
  http::Router router;
  AddWebhookRoutes(router, handlers);
  auto post = [&](const std::string& file, const std::string& signature) {
    http::Request request{.method = "POST",
                          .path = "/api/whatsapp/messages",
                          .body = ReadFixture("twilio_whatsapp/" + file)};
    request.headers.Add("X-Twilio-Signature", signature);
    const http::Router::Match match = router.Find("POST", request.path);
    return match.handler == nullptr ? 0 : (*match.handler)(request).status;
  };
  EXPECT_EQ(post("inbound_text.form", "ZOa7yMdySjKzwTRlBwpr0Ao/Nq4="), 200);
  EXPECT_EQ(post("inbound_text.form", "ZOa7yMdySjKzwTRlBwpr0Ao/Nq5="), 401);
  ASSERT_EQ(Requests(), 1u);
  EXPECT_EQ(LastRequest().events(0).dedup_key(), "msg:SM892512e202b34d4109b10a3893fa9640");
  EXPECT_EQ(post("status_delivered.form", "4qmqCaFidxvSmB0jMTx6HgRDAA0="), 200);
  ASSERT_EQ(Requests(), 2u);
  EXPECT_EQ(LastRequest().events(0).dedup_key(),
            "status:SMdf55df64a2ff4920bb0748193cfbb640:delivered");
}

TEST_F(WebhookHandlersTest, OverAThousandEventsGoAsConsecutiveBatches) {
  std::string events;
  for (int i = 0; i < 1001; ++i) {
    absl::StrAppend(&events, i == 0 ? "" : ",",
                    R"({"sender":{"id":"7"},"recipient":{"id":"1895382890692545"},)",
                    R"("timestamp":1,"message":{"mid":"m)", i, R"(","text":"t"}})");
  }
  const std::string body =
      absl::StrCat(R"({"object":"page","entry":[{"id":"1895382890692545","time":1,"messaging":[)",
                   events, "]}]}");
  EXPECT_EQ(PostMessenger("key-a", body).status, 200);
  ASSERT_EQ(Requests(), 2u);
  EXPECT_EQ(LastRequest().events_size(), 1);
  EXPECT_EQ(LastRequest().events(0).dedup_key(), "msg:m1000");
  EXPECT_EQ(LastRequest().endpoints_size(), 1);
}

TEST_F(WebhookHandlersTest, TwilioJsonBodyIsVerifiedThenRefused) {
  const std::string body = R"({"property": "value", "boolean": true})";
  const std::string path = "/webhooks/twilio/tw-key?bodySHA256=" + Sha256Hex(body);
  const std::string sig = TwilioSignature(kAuthToken, std::string(kBase) + path, {});
  EXPECT_EQ(Call("POST", path, body, {{"X-Twilio-Signature", sig}}).status, 400);
  EXPECT_EQ(Call("POST", path, body + " ", {{"X-Twilio-Signature", sig}}).status, 401);
  EXPECT_EQ(Requests(), 0u);
}

TEST_F(WebhookHandlersTest, CheckboxOptInWithoutPsidKeepsAnEmptyCustomer) {
  const std::string body =
      R"({"object":"page","entry":[{"id":"404217156637689","time":5,"messaging":[)"
      R"({"recipient":{"id":"404217156637689"},"timestamp":6,)"
      R"("optin":{"ref":"r1","user_ref":"UREF"}}]}]})";
  EXPECT_EQ(PostMessenger("key-b", body).status, 200);
  ASSERT_EQ(Requests(), 1u);
  const sv1::IngestRequest req = LastRequest();
  const sv1::InboundEvent& e = req.events(0);
  EXPECT_EQ(e.dedup_key(), "optin:UREF:6");
  EXPECT_TRUE(e.customer().user_id().empty());
  EXPECT_EQ(e.opt_in().user_ref(), "UREF");
}

}  // namespace
}  // namespace parley::ingress

namespace parley::ingress {
namespace {

// The prefix routes the webhooks rely on (libs/http/router.h).
TEST(RouterPrefixTest, ExactBeatsPrefixLongestPrefixWinsLabelIsThePattern) {
  http::Router router;
  router.Get("/webhooks/*", [](const http::Request&) { return http::Text(200, "short"); });
  router.Get("/webhooks/twilio/*", [](const http::Request&) { return http::Text(200, "long"); });
  router.Get("/webhooks/twilio/exact", [](const http::Request&) { return http::Text(200, "x"); });
  auto body = [&](const std::string& method, const std::string& path) -> std::string {
    const http::Router::Match m = router.Find(method, path);
    if (m.handler == nullptr) return m.route == nullptr ? "404" : "405 " + m.allow;
    return (*m.handler)(http::Request{}).body + " " + *m.route;
  };
  EXPECT_EQ(body("GET", "/webhooks/twilio/abc/status"), "long /webhooks/twilio/*");
  EXPECT_EQ(body("GET", "/webhooks/twilio/exact"), "x /webhooks/twilio/exact");
  EXPECT_EQ(body("GET", "/webhooks/messenger/k"), "short /webhooks/*");
  EXPECT_EQ(body("GET", "/webhooks/"), "404");  // the prefix alone is not matched
  EXPECT_EQ(body("GET", "/webhook"), "404");
  EXPECT_EQ(body("POST", "/webhooks/twilio/abc"), "405 GET");
}

}  // namespace
}  // namespace parley::ingress

namespace parley::ingress {
namespace {

absl::Status SharedPathSetting(const std::string& value) {
  Config config(WebhookSettings());
  const std::string flag = "--twilio_shared_webhook_path=" + value;
  const char* argv[] = {"ingress", flag.c_str()};
  absl::Status loaded = config.Load(2, argv, [](const char*) { return nullptr; });
  if (!loaded.ok()) return loaded;
  prometheus::Registry registry;
  return NewWebhookHandlers(
             config, registry, nullptr, [] { return true; }, "https://x.example")
      .status();
}

TEST(WebhookSettingsTest, SharedTwilioPathIsAPlainPathClearOfTheOtherRoutes) {
  Config defaults(WebhookSettings());
  ASSERT_TRUE(defaults.Load(0, nullptr, [](const char*) { return nullptr; }).ok());
  EXPECT_EQ(defaults.Get("twilio_shared_webhook_path"), "/webhooks/twilio");
  EXPECT_TRUE(SharedPathSetting("/webhooks/twilio").ok());
  EXPECT_TRUE(SharedPathSetting("/api/whatsapp/messages").ok());
  for (const char* bad : {"", "/", "api", "/api/", "/a b", "/a?x=1", "/a//b", "/healthz", "/readyz",
                          "/webhooks/twilio/shared", "/webhooks/messenger/x"}) {
    const absl::Status s = SharedPathSetting(bad);
    EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument) << bad;
    EXPECT_TRUE(absl::StartsWith(s.message(), "setting twilio_shared_webhook_path: ")) << bad;
  }
}

}  // namespace
}  // namespace parley::ingress

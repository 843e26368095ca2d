// Webhook conformance end to end: the real parley-ingress and parley-session binaries on a real
// PostgreSQL, channels configured through ingress's ChannelConfigService, and every provider
// fixture of tests/fixtures/providers posted over HTTP. What session stored is compared with
// expected_extractions.json; the whole set is replayed; forged and missing signatures, an
// oversized body, malformed JSON, an unknown callback, a page that is not configured and a
// stopped session are each checked for their answer and for what was (not) stored.
//
// The fixture bodies are sent byte for byte. Messenger bodies go with their signatures exactly
// as stored in signatures/facebook_vectors.json (X-Hub-Signature-256 and X-Hub-Signature), and
// its negative X-Hub-Signature-256 vectors must get 401. Those signatures are keyed with
// "APP_SECRET", which ChannelConfigService rightly refuses (Meta issues 32 hex characters; the
// API asks for 32..128 so that a pasted App ID or token is caught): the application is created
// through the API, then this test seals "APP_SECRET" into its row itself, under the key ingress
// runs with, as only a test can.
// Twilio bodies go likewise with their signatures exactly as stored in
// signatures/twilio_vectors.json ("computed"): those cover one URL shared by inbound messages and
// status callbacks, https://example.com/api/whatsapp/messages, so ingress runs with that
// public_base_url and that twilio_shared_webhook_path (requests still go to 127.0.0.1; the
// signed URL is the public one a proxy would forward). On that route the body's AccountSid and
// sender number (To inbound, From in a status callback) pick the sender whose Auth Token must
// verify the signature. Senders are configured for the fixtures' pairs that a sender can have
// (an "AC" + 32 hex account, an E.164 number), with the fixtures' token, which the API rightly
// refuses (Twilio issues 32 hex characters) and which this test seals into the rows itself as
// for the App Secret. Fixtures naming no sender get 401, those naming an unconfigured sender 404.
// The per-sender /webhooks/twilio/<key>[/status] routes are exercised with bodies signed here.
#include <dirent.h>
#include <signal.h>

#include <algorithm>
#include <cstring>
#include <fstream>
#include <functional>
#include <map>
#include <optional>
#include <pqxx/pqxx>
#include <set>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/escaping.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/strip.h"
#include "google/protobuf/util/json_util.h"
#include "grpcpp/grpcpp.h"
#include "gtest/gtest.h"
#include "libs/http_client/http_client.h"
#include "libs/testing/probes.h"
#include "libs/testing/servers.h"
#include "libs/testing/subprocess.h"
#include "parley/ingress/v1/ingress.grpc.pb.h"
#include "services/ingress/form_encoding.h"
#include "services/ingress/pg_channel_store.h"
#include "services/ingress/secret_box.h"
#include "services/ingress/twilio_parser.h"
#include "services/ingress/webhook_signatures.h"
#include "simdjson.h"

namespace parley::e2e {
namespace {

namespace common = parley::common::v1;
using ingress::v1::ChannelConfigService;
using simdjson::dom::element;

// What the application and the senders are created with through the API; replaced by
// kFixtureAppSecret and kFixtureAuthToken.
constexpr char kApiAppSecret[] = "6b1e0f3c9a2d47e58c1b3a5d7f9e2c4b6a8d0f1e3c5b7a9d";
// The App Secret of the stored Messenger signatures.
constexpr char kFixtureAppSecret[] = "APP_SECRET";
// ingress's key ring in this test (settings secrets_key_id, secrets_key).
constexpr char kSecretsKeyId[] = "e2e";
constexpr char kSecretsKey[] = "cEkYQh4KkczkoWCj23072raXEJw9LNNQzS+Wv1KWNVI=";
constexpr char kMetaAppId[] = "1821152484774199";
constexpr char kApiAuthToken[] = "0f1e2d3c4b5a69788796a5b4c3d2e1f0";
// The Auth Token and the URL of the stored Twilio signatures (twilio_vectors.json "computed").
constexpr char kFixtureAuthToken[] = "96yc5z9g44vl4ks2p1suc42yb9p4lpmu";
constexpr char kPublicBaseUrl[] = "https://example.com";
constexpr char kSharedPath[] = "/api/whatsapp/messages";
// The sender of inbound_text/media/location and status_sent/delivered.
constexpr char kAccountSid[] = "AC1a03647d811fab342c0ad608e382fab2";
constexpr char kSenderNumber[] = "+14123456789";
// The number of inbound_text_profile, inbound_button_reply and status_*_63016, configured under
// a real account: those fixtures name "someAccount" and "someAccountSID", which no sender can
// have, so they reach no sender although the number and the token are configured.
constexpr char kOtherAccountSid[] = "AC00112233445566778899aabbccddeeff";
constexpr char kOtherNumber[] = "+4915123456";
constexpr char kWorkStream[] = "8a1f0b9e-3f2a-4d1b-8c7e-0123456789ab";
// The fixtures' pages that can be configured (Page IDs are digits); "<PAGE_ID>", "PAGE-1" and
// 189538289069256 (second entry of batch_two_pages.json) stay unconfigured.
const std::set<std::string>& ConfiguredPages() {
  static const auto* pages = new std::set<std::string>{
      "1895382890692545", "404217156637689", "117172741761305", "1134713619900975", "111111"};
  return *pages;
}

std::string Fixtures() { return PARLEY_PROVIDER_FIXTURES; }

std::string ReadFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream buffer;
  buffer << in.rdbuf();
  return buffer.str();
}

std::vector<std::string> ListDir(const std::string& dir, const std::string& suffix) {
  std::vector<std::string> names;
  DIR* d = opendir(dir.c_str());
  if (d == nullptr) return names;
  while (dirent* e = readdir(d)) {
    const std::string name = e->d_name;
    if (absl::EndsWith(name, suffix)) names.push_back(name);
  }
  closedir(d);
  std::sort(names.begin(), names.end());
  return names;
}

std::string NewUuid() {
  static int n = 0;
  return absl::StrCat("00000000-0000-4000-8000-", absl::Dec(++n, absl::kZeroPad12));
}

// A Parley binary on fixed ports, so it can be stopped and started again at the same address.
class Binary {
 public:
  Binary(std::string path, std::vector<std::string> flags, std::string log,
         std::vector<std::string> env = {})
      : path_(std::move(path)),
        flags_(std::move(flags)),
        log_(std::move(log)),
        env_(std::move(env)) {
    grpc_port_ = testing::PickFreePort();
    metrics_port_ = testing::PickFreePort();
  }
  absl::Status Start() {
    std::vector<std::string> argv = {path_, absl::StrCat("--grpc_address=127.0.0.1:", grpc_port_),
                                     absl::StrCat("--metrics_address=127.0.0.1:", metrics_port_),
                                     "--health_poll_interval=100ms"};
    argv.insert(argv.end(), flags_.begin(), flags_.end());
    auto process = testing::Subprocess::Spawn(argv, env_, log_);
    if (!process.ok()) return process.status();
    process_ = *std::move(process);
    return testing::WaitForHealth(address(), grpc::health::v1::HealthCheckResponse::SERVING);
  }
  absl::Status Stop() {
    process_->Signal(SIGTERM);
    absl::StatusOr<int> code = process_->WaitFor(absl::Seconds(60));
    process_.reset();
    return code.status();
  }
  bool running() { return process_ != nullptr && process_->running(); }
  std::string address() const { return absl::StrCat("127.0.0.1:", grpc_port_); }
  int metrics_port() const { return metrics_port_; }
  std::string Log() const { return ReadFile(log_); }

 private:
  std::string path_;
  std::vector<std::string> flags_;
  std::string log_;
  std::vector<std::string> env_;
  int grpc_port_ = 0;
  int metrics_port_ = 0;
  std::unique_ptr<testing::Subprocess> process_;
};

class IngressConformanceE2eTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    auto db = testing::TestDatabase::Create();
    ASSERT_TRUE(db.ok()) << db.status();
    db_ = std::move(*db).release();
    const std::string dir = testing::MakeTempDir("parley-ingress-conformance");
    session_ =
        new Binary(PARLEY_SESSION_BIN, {"--pg_uri=" + db_->uri(), "--router_address=127.0.0.1:1"},
                   dir + "/session.log");
    ASSERT_TRUE(session_->Start().ok()) << session_->Log();
    http_port_ = testing::PickFreePort();
    base_url_ = absl::StrCat("http://127.0.0.1:", http_port_);
    ingress_ = new Binary(PARLEY_INGRESS_BIN,
                          {"--pg_uri=" + db_->uri(), "--session_address=" + session_->address(),
                           absl::StrCat("--http_address=127.0.0.1:", http_port_),
                           absl::StrCat("--public_base_url=", kPublicBaseUrl),
                           absl::StrCat("--twilio_shared_webhook_path=", kSharedPath),
                           "--channel_refresh_interval=100ms", "--http_max_body_bytes=65536"},
                          dir + "/ingress.log",
                          {absl::StrCat("PARLEY_SECRETS_KEY_ID=", kSecretsKeyId),
                           absl::StrCat("PARLEY_SECRETS_KEY=", kSecretsKey)});
    ASSERT_TRUE(ingress_->Start().ok()) << ingress_->Log();
    Configure();
  }
  static void TearDownTestSuite() {
    delete ingress_;
    delete session_;
    delete db_;
  }
  void SetUp() override { ASSERT_FALSE(twilio_path_.empty()) << "suite set-up failed"; }
  void TearDown() override {
    if (ingress_ != nullptr) {
      EXPECT_TRUE(ingress_->running()) << "ingress crashed:\n" << ingress_->Log();
    }
  }

  static void Configure() {
    auto stub = ChannelConfigService::NewStub(
        grpc::CreateChannel(ingress_->address(), grpc::InsecureChannelCredentials()));
    ingress::v1::CreateFacebookAppRequest app_req;
    app_req.mutable_app()->set_name("Conformance");
    app_req.mutable_app()->set_meta_app_id(kMetaAppId);
    app_req.mutable_app()->set_app_secret(kApiAppSecret);
    app_req.set_request_id(NewUuid());
    ingress::v1::CreateFacebookAppResponse app;
    {
      grpc::ClientContext ctx;
      const grpc::Status s = stub->CreateFacebookApp(&ctx, app_req, &app);
      ASSERT_TRUE(s.ok()) << s.error_message();
    }
    for (const std::string& page_id : ConfiguredPages()) {
      ingress::v1::CreateFacebookPageRequest req;
      auto* page = req.mutable_page();
      page->set_page_id(page_id);
      page->set_name("Page " + page_id);
      page->set_parent_app_id(app.app().id());
      page->set_page_access_token("EAAconformance" + page_id);
      page->mutable_settings()->set_work_stream_id(kWorkStream);
      page->mutable_settings()->set_language("en-US");
      req.set_request_id(NewUuid());
      ingress::v1::CreateFacebookPageResponse resp;
      grpc::ClientContext ctx;
      const grpc::Status s = stub->CreateFacebookPage(&ctx, req, &resp);
      ASSERT_TRUE(s.ok()) << page_id << ": " << s.error_message();
      if (messenger_url_.empty()) {
        messenger_url_ = Local(resp.page().callback_uri());
        verify_token_ = resp.page().verify_token();
      }
    }
    SealFixtureSecret("facebook_apps", "app_secret", app.app().id(), kFixtureAppSecret,
                      ingress::AppSecretContext(app.app().id()));
    const ingress::v1::WhatsAppSender other = CreateSender(*stub, kOtherAccountSid, kOtherNumber);
    const ingress::v1::WhatsAppSender sender = CreateSender(*stub, kAccountSid, kSenderNumber);
    ASSERT_FALSE(sender.id().empty());
    const std::string prefix = absl::StrCat(kPublicBaseUrl, "/webhooks/twilio/");
    ASSERT_TRUE(absl::StartsWith(sender.callback_uri(), prefix));
    twilio_path_ = sender.callback_uri().substr(std::strlen(kPublicBaseUrl));
    twilio_status_path_ = sender.status_callback_uri().substr(std::strlen(kPublicBaseUrl));
    ASSERT_EQ(twilio_status_path_, twilio_path_ + "/status");
    ASSERT_TRUE(absl::StartsWith(messenger_url_, base_url_ + "/webhooks/messenger/"));
    for (const ingress::v1::WhatsAppSender* s : {&other, &sender}) {
      SealFixtureSecret("whatsapp_senders", "auth_token", s->id(), kFixtureAuthToken,
                        ingress::AuthTokenContext(s->id()));
    }
    // Every replica sees a change within seconds. The last change was this sender's token: once
    // this replica verifies a body signed with it (400 for the missing MessageSid, after the
    // signature check, instead of 401 or 404), it has every page and sender too.
    const std::string probe =
        absl::StrCat("AccountSid=", kAccountSid, "&To=whatsapp%3A%2B14123456789&Body=probe");
    for (int i = 0; i < 200; ++i) {
      auto r = SendTwilio(kSharedPath, probe, std::nullopt);
      auto v =
          Get(absl::StrCat(messenger_url_, "?hub.mode=subscribe&hub.verify_token=", verify_token_,
                           "&hub.challenge=ready"));
      if (r.ok() && r->status == 400 && v.ok() && v->status == 200 && v->body == "ready") return;
      absl::SleepFor(absl::Milliseconds(100));
    }
    FAIL() << "ingress never saw the configured channels";
  }

  // A sender created through the API (with kApiAuthToken, replaced later).
  static ingress::v1::WhatsAppSender CreateSender(ChannelConfigService::Stub& stub,
                                                  const std::string& account,
                                                  const std::string& number) {
    ingress::v1::CreateWhatsAppSenderRequest req;
    auto* sender = req.mutable_sender();
    sender->set_name("Conformance sender " + number);
    sender->set_account_sid(account);
    sender->set_auth_token(kApiAuthToken);
    sender->set_phone_number(number);
    sender->mutable_settings()->set_work_stream_id(kWorkStream);
    req.set_request_id(NewUuid());
    ingress::v1::CreateWhatsAppSenderResponse resp;
    grpc::ClientContext ctx;
    const grpc::Status s = stub.CreateWhatsAppSender(&ctx, req, &resp);
    EXPECT_TRUE(s.ok()) << number << ": " << s.error_message();
    return resp.sender();
  }

  // The URL this test reaches ingress at for a public URL ingress gave out (a Callback URI).
  static std::string Local(const std::string& public_url) {
    EXPECT_TRUE(absl::StartsWith(public_url, kPublicBaseUrl)) << public_url;
    return base_url_ + public_url.substr(std::strlen(kPublicBaseUrl));
  }

  // Replaces the secret in columns <column>_key_id and <column>_sealed of row `id` of
  // ingress.<table> by `plain`, sealed as PgChannelStore seals it (same key ring, same
  // `context`); the row's trigger bumps the channel revision, so a change made after this one
  // is seen by ingress only after this.
  static void SealFixtureSecret(const std::string& table, const std::string& column,
                                const std::string& id, const std::string& plain,
                                const std::string& context) {
    absl::StatusOr<ingress::SecretBox> box =
        ingress::SecretBox::FromSettings(kSecretsKeyId, kSecretsKey, "");
    ASSERT_TRUE(box.ok()) << box.status();
    absl::StatusOr<ingress::SealedSecret> sealed = box->Seal(plain, context);
    ASSERT_TRUE(sealed.ok()) << sealed.status();
    pqxx::connection conn(db_->uri());
    pqxx::work tx(conn);
    const pqxx::result r =
        tx.exec_params(absl::StrCat("UPDATE ingress.", table, " SET ", column, "_key_id = $1, ",
                                    column, "_sealed = decode($2, 'hex') WHERE id = $3::uuid"),
                       sealed->key_id, absl::BytesToHexString(sealed->blob), id);
    ASSERT_EQ(r.affected_rows(), 1) << table << " " << id;
    tx.commit();
  }

  // Calls `each` with every "computed" vector of signatures/<file> whose body_file is in
  // `folder`, and that body file's name.
  static void ForEachComputedVector(
      const std::string& file, absl::string_view folder,
      const std::function<void(const std::string&, simdjson::dom::element)>& each) {
    const std::string text = ReadFile(Fixtures() + "/signatures/" + file);
    simdjson::dom::parser parser;
    simdjson::dom::element root;
    ASSERT_EQ(parser.parse(text).get(root), simdjson::SUCCESS) << file;
    for (simdjson::dom::element v : root["computed"].get_array()) {
      std::string_view body_file;
      ASSERT_EQ(v["body_file"].get(body_file), simdjson::SUCCESS) << file;
      absl::string_view name(body_file.data(), body_file.size());
      if (absl::ConsumePrefix(&name, absl::StrCat(folder, "/"))) each(std::string(name), v);
    }
  }

  // The stored signatures of each Twilio body (signatures/twilio_vectors.json "computed"): file
  // name -> X-Twilio-Signature, each for kFixtureAuthToken over kPublicBaseUrl + kSharedPath.
  static std::map<std::string, std::string> StoredTwilioSignatures() {
    std::map<std::string, std::string> out;
    ForEachComputedVector("twilio_vectors.json", "twilio_whatsapp",
                          [&](const std::string& name, simdjson::dom::element v) {
                            std::string_view signature, token, url;
                            if (v["x_twilio_signature"].get(signature) ||
                                v["auth_token"].get(token) || v["request_url"].get(url)) {
                              ADD_FAILURE() << "unexpected vector in twilio_vectors.json: " << name;
                              return;
                            }
                            EXPECT_EQ(token, kFixtureAuthToken);
                            EXPECT_EQ(url, absl::StrCat(kPublicBaseUrl, kSharedPath));
                            out[name] = std::string(signature);
                          });
    return out;
  }

  // The stored signatures of each Messenger body (signatures/facebook_vectors.json "computed"):
  // file name -> {X-Hub-Signature-256, X-Hub-Signature}.
  static std::map<std::string, std::pair<std::string, std::string>> StoredMessengerSignatures() {
    std::map<std::string, std::pair<std::string, std::string>> out;
    ForEachComputedVector("facebook_vectors.json", "messenger",
                          [&](const std::string& name, simdjson::dom::element v) {
                            std::string_view sha256, sha1, secret;
                            if (v["x_hub_signature_256"].get(sha256) ||
                                v["x_hub_signature"].get(sha1) || v["app_secret"].get(secret)) {
                              ADD_FAILURE()
                                  << "unexpected vector in facebook_vectors.json: " << name;
                              return;
                            }
                            EXPECT_EQ(secret, kFixtureAppSecret);
                            out[name] = {std::string(sha256), std::string(sha1)};
                          });
    return out;
  }

  static absl::StatusOr<http_client::Response> Get(const std::string& url) {
    return client().Send({.method = "GET", .url = url});
  }
  static http_client::Client& client() {
    static auto* c = new http_client::Client();
    return *c;
  }

  // POSTs a Messenger body signed with the configured App Secret (or with `signature`, and
  // `sha1_signature` as X-Hub-Signature when given); the HTTP status.
  int PostMessenger(const std::string& body, std::optional<std::string> signature = {},
                    const std::string& sha1_signature = "") {
    http_client::Request req{.method = "POST",
                             .url = messenger_url_,
                             .headers = {{"Content-Type", "application/json"}},
                             .body = body};
    const std::string sig = signature.value_or(ingress::HubSignature256(kFixtureAppSecret, body));
    if (!sig.empty()) req.headers.emplace_back("X-Hub-Signature-256", sig);
    if (!sha1_signature.empty()) req.headers.emplace_back("X-Hub-Signature", sha1_signature);
    auto r = client().Send(req);
    EXPECT_TRUE(r.ok()) << r.status();
    return r.ok() ? r->status : 0;
  }

  // POSTs a Twilio body to ingress's `path`, with `signature` as X-Twilio-Signature (none when
  // empty), or by default signed with kFixtureAuthToken over kPublicBaseUrl + `path`.
  static absl::StatusOr<http_client::Response> SendTwilio(const std::string& path,
                                                          const std::string& body,
                                                          std::optional<std::string> signature) {
    // A body that is not a form is signed over the URL alone (and refused before the check).
    auto params = ingress::DecodeForm(body);
    const std::vector<ingress::FormParam> signed_params =
        params.ok() ? *params : std::vector<ingress::FormParam>{};
    http_client::Request req{.method = "POST",
                             .url = base_url_ + path,
                             .headers = {{"Content-Type", "application/x-www-form-urlencoded"}},
                             .body = body};
    const std::string sig = signature.value_or(ingress::TwilioSignature(
        kFixtureAuthToken, absl::StrCat(kPublicBaseUrl, path), signed_params));
    if (!sig.empty()) req.headers.emplace_back("X-Twilio-Signature", sig);
    return client().Send(req);
  }
  int PostTwilio(const std::string& path, const std::string& body,
                 std::optional<std::string> signature = {}) {
    auto r = SendTwilio(path, body, std::move(signature));
    EXPECT_TRUE(r.ok()) << r.status();
    return r.ok() ? r->status : 0;
  }

  // What a Twilio fixture must get on the shared route with its stored signature: 401 when it
  // names no sender (no AccountSid or no sender number), 404 when no configured sender has that
  // account and number, 400 without a MessageSid, else 200.
  static int TwilioExpectedStatus(const std::string& body) {
    auto params = ingress::DecodeForm(body);
    EXPECT_TRUE(params.ok());
    const bool status = ingress::TwilioHookOf(*params) == ingress::TwilioHook::kStatus;
    const std::string account = ingress::FormValue(*params, "AccountSid");
    const std::string own =
        ingress::StripWhatsAppPrefix(ingress::FormValue(*params, status ? "From" : "To"));
    if (account.empty() || own.empty()) return 401;
    if (!(account == kAccountSid && own == kSenderNumber) &&
        !(account == kOtherAccountSid && own == kOtherNumber)) {
      return 404;
    }
    if (ingress::FormValue(*params, "MessageSid").empty() &&
        ingress::FormValue(*params, "SmsSid").empty()) {
      return 400;
    }
    return 200;
  }

  // Posts every fixture once (Messenger bodies with their stored signatures); returns the
  // answers by file.
  std::map<std::string, int> PostAllFixtures() {
    std::map<std::string, int> answers;
    const auto signatures = StoredMessengerSignatures();
    for (const std::string& f : ListDir(Fixtures() + "/messenger", ".json")) {
      const auto stored = signatures.find(f);
      if (stored == signatures.end()) {
        ADD_FAILURE() << f << ": no stored signature";
        continue;
      }
      answers[f] = PostMessenger(ReadFile(Fixtures() + "/messenger/" + f), stored->second.first,
                                 stored->second.second);
      EXPECT_EQ(answers[f], 200) << f;
    }
    // Twilio bodies to the shared route, with their stored signatures.
    const auto twilio_signatures = StoredTwilioSignatures();
    for (const std::string& f : ListDir(Fixtures() + "/twilio_whatsapp", ".form")) {
      const auto stored = twilio_signatures.find(f);
      if (stored == twilio_signatures.end()) {
        ADD_FAILURE() << f << ": no stored signature";
        continue;
      }
      const std::string body = ReadFile(Fixtures() + "/twilio_whatsapp/" + f);
      answers[f] = PostTwilio(kSharedPath, body, stored->second);
      EXPECT_EQ(answers[f], TwilioExpectedStatus(body)) << f;
    }
    return answers;
  }

  static pqxx::result Query(const std::string& sql) {
    pqxx::connection conn(db_->uri());
    return pqxx::nontransaction(conn).exec(sql);
  }
  static std::string Quote(const std::string& s) {
    pqxx::connection conn(db_->uri());
    return conn.quote(s);
  }
  static int Count(const std::string& sql) { return Query(sql)[0][0].as<int>(); }

  // The stored message of `endpoint` with `dedup_key`, as (direction, sender_kind, content).
  struct Stored {
    int direction = 0;
    int sender_kind = 0;
    common::MessageContent content;
    int copies = 0;
  };
  static Stored Message(const std::string& endpoint, const std::string& dedup_key) {
    const pqxx::result rows = Query(absl::StrCat(
        "SELECT direction, sender_kind, content::text FROM session.messages WHERE endpoint_id = ",
        Quote(endpoint), " AND dedup_key = ", Quote(dedup_key)));
    Stored s;
    s.copies = static_cast<int>(rows.size());
    if (rows.empty()) return s;
    s.direction = rows[0][0].as<int>();
    s.sender_kind = rows[0][1].as<int>();
    google::protobuf::util::JsonParseOptions options;
    options.ignore_unknown_fields = true;
    const auto status = google::protobuf::util::JsonStringToMessage(rows[0][2].as<std::string>(),
                                                                    &s.content, options);
    EXPECT_TRUE(status.ok()) << status.ToString();
    return s;
  }
  static int Rows(const char* table, const std::string& endpoint, const std::string& dedup_key) {
    return Count(absl::StrCat("SELECT count(*) FROM session.", table, " WHERE endpoint_id = ",
                              Quote(endpoint), " AND dedup_key = ", Quote(dedup_key)));
  }
  static int RowsOfEndpoint(const std::string& endpoint) {
    return Count(absl::StrCat(
        "SELECT (SELECT count(*) FROM session.messages WHERE endpoint_id = ", Quote(endpoint),
        ") + (SELECT count(*) FROM session.signals WHERE endpoint_id = ", Quote(endpoint),
        ") + (SELECT count(*) FROM session.dead_letters WHERE endpoint_id = ", Quote(endpoint),
        ")"));
  }
  // The dead letters of an endpoint, for failure messages.
  static std::string DeadLetters(const std::string& endpoint) {
    std::string out;
    for (const auto& row : Query(
             absl::StrCat("SELECT dedup_key, reason FROM session.dead_letters WHERE endpoint_id = ",
                          Quote(endpoint)))) {
      absl::StrAppend(&out, "\n  dead letter ", row[0].as<std::string>(), ": ",
                      row[1].as<std::string>());
    }
    return out;
  }
  static int AllRows() {
    return Count(
        "SELECT (SELECT count(*) FROM session.messages) + (SELECT count(*) FROM session.signals)"
        " + (SELECT count(*) FROM session.dead_letters)");
  }

  static std::string TextBody(const std::string& page, const std::string& mid,
                              const std::string& text) {
    return absl::StrCat(R"({"object":"page","entry":[{"id":")", page,
                        R"(","time":1700000000000,"messaging":[{"sender":{"id":"4242"},)",
                        R"("recipient":{"id":")", page, R"("},"timestamp":1700000000001,)",
                        R"("message":{"mid":")", mid, R"(","text":")", text, R"("}}]}]})");
  }

  static testing::TestDatabase* db_;
  static Binary* session_;
  static Binary* ingress_;
  static int http_port_;
  static std::string base_url_;
  static std::string messenger_url_;
  static std::string verify_token_;
  static std::string twilio_path_;
  static std::string twilio_status_path_;
};

testing::TestDatabase* IngressConformanceE2eTest::db_ = nullptr;
Binary* IngressConformanceE2eTest::session_ = nullptr;
Binary* IngressConformanceE2eTest::ingress_ = nullptr;
int IngressConformanceE2eTest::http_port_ = 0;
std::string IngressConformanceE2eTest::base_url_;
std::string IngressConformanceE2eTest::messenger_url_;
std::string IngressConformanceE2eTest::verify_token_;
std::string IngressConformanceE2eTest::twilio_path_;
std::string IngressConformanceE2eTest::twilio_status_path_;

std::string Str(element e, const char* key) {
  std::string_view s;
  if (e[key].get(s) != simdjson::SUCCESS) return "";
  return std::string(s);
}

std::string NumberText(element e) {
  std::string_view s;
  if (e.get(s) == simdjson::SUCCESS) return std::string(s);
  uint64_t u = 0;
  if (e.get(u) == simdjson::SUCCESS) return absl::StrCat(u);
  return "?";
}

// The stored content against an expected Messenger message record.
void ExpectContent(element want, const common::MessageContent& got, const std::string& where) {
  std::string text;
  std::string quick_reply;
  std::set<std::string> stickers;
  std::vector<std::string> urls;
  int locations = 0;
  for (const auto& p : got.parts()) {
    EXPECT_FALSE(p.has_unsupported()) << where;
    if (p.has_text()) text = p.text();
    if (p.has_quick_reply()) quick_reply = p.quick_reply().payload();
    if (p.has_sticker()) stickers.insert(p.sticker().sticker_id());
    if (p.has_attachment()) urls.push_back(p.attachment().provider_url());
    if (p.has_location()) ++locations;
  }
  EXPECT_EQ(text, Str(want, "text")) << where;
  EXPECT_EQ(quick_reply, Str(want, "quick_reply_payload")) << where;
  EXPECT_EQ(got.reply_to().provider_message_id(), Str(want, "reply_to_mid")) << where;
  std::set<std::string> want_stickers;
  std::vector<std::string> want_urls;
  int want_locations = 0;
  element sticker;
  if (want["sticker_id"].get(sticker) == simdjson::SUCCESS)
    want_stickers.insert(NumberText(sticker));
  simdjson::dom::array atts;
  if (want["attachments"].get(atts) == simdjson::SUCCESS) {
    for (element a : atts) {
      element id;
      const std::string type = Str(a, "type");
      if (a["sticker_id"].get(id) == simdjson::SUCCESS) {
        want_stickers.insert(NumberText(id));
      } else if (type == "location") {
        ++want_locations;
      } else if (type == "fallback") {
        want_urls.push_back("URL_OF_THE_ATTACHMENT");
      } else {
        want_urls.push_back(Str(a, "url"));
      }
    }
  }
  EXPECT_EQ(stickers, want_stickers) << where;
  EXPECT_EQ(urls, want_urls) << where;
  EXPECT_EQ(locations, want_locations) << where;
}

TEST_F(IngressConformanceE2eTest, EveryFixtureIsStoredAsExpectedExtractionsSay) {
  const std::map<std::string, int> answers = PostAllFixtures();
  const std::string expected_text = ReadFile(Fixtures() + "/expected_extractions.json");
  simdjson::dom::parser parser;
  element root;
  ASSERT_EQ(parser.parse(expected_text).get(root), simdjson::SUCCESS);

  // Messenger, in the order posted: a key already stored by an earlier fixture (several share
  // a mid) keeps the first content.
  std::set<std::string> seen;
  int checked = 0;
  for (const std::string& file : ListDir(Fixtures() + "/messenger", ".json")) {
    simdjson::dom::array events = root["messenger"][file]["events"].get_array();
    for (element want : events) {
      const std::string where = absl::StrCat(file, " ", Str(want, "kind"), " ", Str(want, "mid"));
      std::string page = Str(want, "page_id");
      if (page.empty()) page = Str(want, "recipient_id");
      const std::string kind = Str(want, "kind");
      const std::string psid = Str(want, "user_psid");
      ++checked;
      if (!ConfiguredPages().count(page)) {
        EXPECT_EQ(RowsOfEndpoint(page), 0) << where << ": page not configured, skipped";
        continue;
      }
      if (kind == "message") {
        const std::string key = "msg:" + Str(want, "mid");
        const Stored s = Message(page, key);
        ASSERT_EQ(s.copies, 1) << where;
        EXPECT_EQ(s.direction, common::DIRECTION_INBOUND) << where;
        EXPECT_EQ(s.sender_kind, common::SENDER_KIND_CUSTOMER) << where;
        if (seen.insert(page + key).second) {
          ExpectContent(want, s.content, absl::StrCat(where, DeadLetters(page)));
        }
      } else if (kind == "echo") {
        const std::string mid = Str(want, "mid");
        EXPECT_EQ(Rows("messages", page, "msg:" + mid), 0) << where << ": never a customer message";
        EXPECT_EQ(Count(absl::StrCat("SELECT count(*) FROM session.messages WHERE direction = 1 "
                                     "AND provider_message_id = ",
                                     Quote(mid))),
                  0)
            << where;
        // No conversation with that customer yet: kept as a dead letter, never lost.
        EXPECT_EQ(Rows("messages", page, "echo:" + mid) + Rows("dead_letters", page, "echo:" + mid),
                  1)
            << where;
      } else if (kind == "delivery" || kind == "read") {
        element wm = want["watermark"];
        const std::string key = absl::StrCat(kind, ":", psid, ":", NumberText(wm));
        // Nothing was sent to these customers: a receipt for no message is a dead letter.
        EXPECT_EQ(Rows("dead_letters", page, key), 1) << where << " " << key;
      } else if (kind == "postback") {
        element ts = want["timestamp"];
        const Stored s = Message(page, absl::StrCat("postback:", psid, ":", NumberText(ts)));
        ASSERT_EQ(s.copies, 1) << where;
        ASSERT_EQ(s.content.parts_size(), 1) << where;
        EXPECT_EQ(s.content.parts(0).postback().payload(), Str(want, "payload")) << where;
      } else if (kind == "optin") {
        element ts = want["timestamp"];
        EXPECT_EQ(Rows("signals", page, absl::StrCat("optin:", psid, ":", NumberText(ts))), 1)
            << where;
      } else {
        ADD_FAILURE() << where << ": unexpected kind";
      }
    }
  }
  EXPECT_EQ(checked, 20);  // one per messaging event of the 20 files

  // Twilio: this sender's messages stored; status callbacks of messages Parley never sent are
  // dead letters; other accounts' and numbers' requests stored nothing.
  simdjson::dom::object forms = root["twilio_whatsapp"].get_object();
  for (auto field : forms) {
    const std::string file(field.key);
    const std::string sid = Str(field.value, "MessageSid").empty() ? Str(field.value, "SmsSid")
                                                                   : Str(field.value, "MessageSid");
    const bool status = absl::StartsWith(file, "status_");
    const std::string key =
        status ? absl::StrCat("status:", sid, ":", Str(field.value, "MessageStatus"))
               : "msg:" + sid;
    if (answers.at(file) != 200) {
      EXPECT_EQ(Rows("messages", kSenderNumber, key) + Rows("dead_letters", kSenderNumber, key), 0)
          << file;
      EXPECT_EQ(RowsOfEndpoint(kOtherNumber), 0) << file;
      continue;
    }
    if (status) {
      EXPECT_EQ(Rows("dead_letters", kSenderNumber, key), 1) << file;
      continue;
    }
    const Stored s = Message(kSenderNumber, key);
    ASSERT_EQ(s.copies, 1) << file;
    EXPECT_EQ(s.direction, common::DIRECTION_INBOUND);
    const std::string body = Str(field.value, "Body");
    int media = 0;
    std::string text;
    for (const auto& p : s.content.parts()) {
      if (p.has_text()) text = p.text();
      if (p.has_attachment()) {
        EXPECT_EQ(p.attachment().provider_url(),
                  Str(field.value, absl::StrCat("MediaUrl", media).c_str()));
        ++media;
      }
      if (p.has_location()) {
        EXPECT_DOUBLE_EQ(p.location().latitude(), std::stod(Str(field.value, "Latitude")));
        EXPECT_DOUBLE_EQ(p.location().longitude(), std::stod(Str(field.value, "Longitude")));
      }
    }
    EXPECT_EQ(text, body) << file;
    EXPECT_EQ(absl::StrCat(media),
              Str(field.value, "NumMedia").empty() ? "0" : Str(field.value, "NumMedia"))
        << file;
  }
  // The five fixtures of this sender's account and number; the answers of all 16.
  for (const char* file : {"inbound_text.form", "inbound_media.form", "inbound_location.form",
                           "status_sent.form", "status_delivered.form"}) {
    EXPECT_EQ(answers.at(file), 200) << file;
  }
  std::map<int, int> by_status;
  for (const auto& [file, status] : answers) {
    if (absl::EndsWith(file, ".form")) ++by_status[status];
  }
  // 401: no sender named (the five chatwoot bodies have no To; not_from_twilio.form nothing).
  // 404: someAccount, someAccountSID and ACf19dfb…XXXXX are no sender's account.
  EXPECT_EQ(by_status, (std::map<int, int>{{200, 5}, {401, 6}, {404, 5}}));
}

TEST_F(IngressConformanceE2eTest, ReplayingTheWholeSetThreeTimesStoresEachOnce) {
  PostAllFixtures();
  const int after_first = AllRows();
  const int messages = Count("SELECT count(*) FROM session.messages");
  PostAllFixtures();
  PostAllFixtures();
  PostAllFixtures();
  EXPECT_EQ(AllRows(), after_first);
  EXPECT_EQ(Count("SELECT count(*) FROM session.messages"), messages);
  // 7 Messenger keys (several fixtures share a mid) and 3 WhatsApp messages, at least.
  EXPECT_GE(messages, 10);
  EXPECT_EQ(Count("SELECT count(*) FROM (SELECT provider_message_id FROM session.messages "
                  "WHERE provider_message_id <> '' GROUP BY channel, endpoint_id, "
                  "provider_message_id HAVING count(*) > 1) d"),
            0);
}

// Webhooks arriving together share calls to session (IngestBatcher): 16 senders post 20
// webhooks each, every message twice (a provider retrying while the first is in flight); each
// answer is 200, each message is stored once, and none of another webhook's events is lost.
TEST_F(IngressConformanceE2eTest, ConcurrentWebhooksAreEachStoredOnce) {
  constexpr int kSenders = 16;
  constexpr int kPerSender = 20;
  const auto body = [](int sender, int n) {
    return absl::StrCat(
        R"({"object":"page","entry":[{"id":"404217156637689","time":1,"messaging":[)",
        R"({"sender":{"id":"98)", sender, R"("},"recipient":{"id":"404217156637689"},)",
        R"("timestamp":)", 1700000000000 + n, R"(,"message":{"mid":"m_conc_)", sender, "_", n,
        R"(","text":"concurrent )", n, R"("}}]}]})");
  };
  std::vector<std::vector<int>> answers(kSenders);
  std::vector<std::thread> senders;
  for (int t = 0; t < kSenders; ++t) {
    senders.emplace_back([&, t] {
      for (int n = 0; n < kPerSender; ++n) {
        answers[t].push_back(PostMessenger(body(t, n)));
        answers[t].push_back(PostMessenger(body(t, n)));
      }
    });
  }
  for (std::thread& t : senders) t.join();
  std::map<std::string, int> want;
  for (int t = 0; t < kSenders; ++t) {
    EXPECT_EQ(answers[t], std::vector<int>(2 * kPerSender, 200)) << "sender " << t;
    for (int n = 0; n < kPerSender; ++n) want[absl::StrCat("msg:m_conc_", t, "_", n)] = 1;
  }
  std::map<std::string, int> stored;
  for (const auto& row : Query("SELECT dedup_key, count(*) FROM session.messages WHERE "
                               "endpoint_id = '404217156637689' AND dedup_key LIKE 'msg:m_conc_%' "
                               "GROUP BY dedup_key")) {
    stored[row[0].as<std::string>()] = row[1].as<int>();
  }
  EXPECT_EQ(stored, want);
}

TEST_F(IngressConformanceE2eTest, ForgedOrMissingSignatureIs401AndStoresNothing) {
  const std::string body = TextBody("1895382890692545", "m_forged_1", "forged");
  EXPECT_EQ(PostMessenger(body, ingress::HubSignature256("0123456789abcdef0123456789abcdef", body)),
            401);
  EXPECT_EQ(PostMessenger(body, std::string()), 401);
  EXPECT_EQ(Rows("messages", "1895382890692545", "msg:m_forged_1"), 0);
  // The stored negative vectors of X-Hub-Signature-256 (over the body plus a newline, another
  // secret, no "sha256=" prefix, a SHA-1 digest, the unescaped re-serialisation), against the
  // very bodies whose stored positive signatures are accepted.
  const int before = AllRows();
  const std::string text = ReadFile(Fixtures() + "/signatures/facebook_vectors.json");
  simdjson::dom::parser parser;
  simdjson::dom::element root;
  ASSERT_EQ(parser.parse(text).get(root), simdjson::SUCCESS);
  int negatives = 0;
  for (simdjson::dom::element v : root["negative"].get_array()) {
    if (Str(v, "header") != "X-Hub-Signature-256") continue;
    ASSERT_EQ(Str(v, "app_secret"), kFixtureAppSecret);
    const std::string fixture = ReadFile(Fixtures() + "/" + Str(v, "body_file"));
    EXPECT_EQ(PostMessenger(fixture, Str(v, "presented")), 401) << Str(v, "id");
    ++negatives;
  }
  EXPECT_EQ(negatives, 5);
  EXPECT_EQ(AllRows(), before);
  const std::string form = ReadFile(Fixtures() + "/twilio_whatsapp/inbound_text.form");
  // Its stored signature covers another URL (https://example.com/api/whatsapp/messages).
  // Twilio on the shared route: another fixture's stored signature, none, and "test" on the
  // body that is not from Twilio; then the stored signature on a URL it does not cover.
  const auto twilio = StoredTwilioSignatures();
  EXPECT_EQ(PostTwilio(kSharedPath, form, twilio.at("inbound_media.form")), 401);
  EXPECT_EQ(PostTwilio(kSharedPath, form, std::string()), 401);
  EXPECT_EQ(PostTwilio(kSharedPath, ReadFile(Fixtures() + "/twilio_whatsapp/not_from_twilio.form"),
                       "test"),
            401);
  EXPECT_EQ(PostTwilio(twilio_path_, form, twilio.at("inbound_text.form")), 401);
  EXPECT_EQ(PostTwilio(absl::StrCat(kSharedPath, "?x=1"), form, twilio.at("inbound_text.form")),
            401);
  // Signed with another Auth Token (the one the API was given) over the right URL.
  auto params = ingress::DecodeForm(form);
  ASSERT_TRUE(params.ok());
  EXPECT_EQ(PostTwilio(kSharedPath, form,
                       ingress::TwilioSignature(
                           kApiAuthToken, absl::StrCat(kPublicBaseUrl, kSharedPath), *params)),
            401);
  EXPECT_EQ(AllRows(), before);
}

TEST_F(IngressConformanceE2eTest, OversizedBodyIs413) {
  const std::string body = TextBody("1895382890692545", "m_big", std::string(70000, 'a'));
  EXPECT_EQ(PostMessenger(body), 413);
  EXPECT_EQ(Rows("messages", "1895382890692545", "msg:m_big"), 0);
}

TEST_F(IngressConformanceE2eTest, MalformedJsonIs400AndStoresNothing) {
  const int before = AllRows();
  EXPECT_EQ(PostMessenger(R"({"object":"page","entry":[{"id":"1895382890692545",)"), 400);
  EXPECT_EQ(PostMessenger("\xff\xfe{}"), 400);
  EXPECT_EQ(PostTwilio(twilio_path_, "MessageSid=SMbad&Body=%zz", "x"), 400);
  EXPECT_EQ(PostTwilio(kSharedPath, "MessageSid=SMbad&Body=%zz", "x"), 400);
  EXPECT_EQ(AllRows(), before);
}

TEST_F(IngressConformanceE2eTest, UnknownCallbackIs404) {
  auto r = client().Send({.method = "POST",
                          .url = base_url_ + "/webhooks/messenger/no-such-key",
                          .headers = {{"X-Hub-Signature-256", "sha256=00"}},
                          .body = "{}"});
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->status, 404);
  EXPECT_EQ(PostTwilio("/webhooks/twilio/no-such-key", "a=b"), 404);
  auto v = Get(base_url_ + "/webhooks/messenger/no-such-key?hub.mode=subscribe");
  ASSERT_TRUE(v.ok());
  EXPECT_EQ(v->status, 404);
  auto bad = Get(
      absl::StrCat(messenger_url_, "?hub.mode=subscribe&hub.verify_token=wrong&hub.challenge=1"));
  ASSERT_TRUE(bad.ok());
  EXPECT_EQ(bad->status, 403);
}

TEST_F(IngressConformanceE2eTest, UnconfiguredPageIsCountedAndSkippedRestIsStored) {
  const std::string body = absl::StrCat(
      R"({"object":"page","entry":[)",
      R"({"id":"999999","time":1,"messaging":[{"sender":{"id":"7"},"recipient":{"id":"999999"},)",
      R"("timestamp":2,"message":{"mid":"m_skip","text":"nobody"}}]},)",
      R"({"id":"404217156637689","time":1,"messaging":[{"sender":{"id":"7"},)",
      R"("recipient":{"id":"404217156637689"},"timestamp":2,"message":{"mid":"m_keep","text":"kept"}},)",
      R"({"sender":{"id":"7"},"recipient":{"id":"404217156637689"},"timestamp":3,"game_play":{}}]}]})");
  EXPECT_EQ(PostMessenger(body), 200);
  EXPECT_EQ(RowsOfEndpoint("999999"), 0);
  EXPECT_EQ(Message("404217156637689", "msg:m_keep").copies, 1);
  auto metrics = testing::HttpGet(ingress_->metrics_port(), "/metrics");
  ASSERT_TRUE(metrics.ok());
  EXPECT_TRUE(absl::StrContains(metrics->body, "parley_webhook_events_skipped_total{"));
  EXPECT_TRUE(absl::StrContains(metrics->body, "reason=\"unknown_page\""));
  EXPECT_TRUE(absl::StrContains(metrics->body, "reason=\"unknown_kind\""));
  EXPECT_TRUE(absl::StrContains(metrics->body, "parley_webhook_last_received_timestamp_seconds{"));
  EXPECT_TRUE(absl::StrContains(metrics->body, "parley_webhook_ack_seconds_bucket{"));
}

TEST_F(IngressConformanceE2eTest, StatusCallbacksNeverMoveAStatusBackwards) {
  // A customer writes (opening a conversation); an outbound message to them with a Twilio SID
  // stands for what session's outbox and ingress's gateway would have sent.
  const std::string inbound =
      "MessageSid=SMcust1&AccountSid=" + std::string(kAccountSid) +
      "&From=whatsapp%3A%2B31600000077&To=whatsapp%3A%2B14123456789&Body=hi";
  ASSERT_EQ(PostTwilio(twilio_path_, inbound), 200);
  Query(absl::StrCat(
      "INSERT INTO session.messages (conversation_id, channel, endpoint_id, direction, "
      "sender_kind, content, provider_message_id, provider_time, delivery_status) "
      "SELECT conversation_id, 2, endpoint_id, 2, 2, '{}'::jsonb, 'SMout1', now(), 4 "
      "FROM session.messages WHERE endpoint_id = ",
      Quote(kSenderNumber), " AND dedup_key = 'msg:SMcust1'"));
  auto status_of = [] {
    return Query(
               "SELECT delivery_status FROM session.messages WHERE provider_message_id = "
               "'SMout1'")[0][0]
        .as<int>();
  };
  // Through the sender's status callback URI, and (read) through the shared route.
  auto callback = [&](const std::string& status, const std::string& extra = "",
                      const std::string& path = twilio_status_path_) {
    return PostTwilio(
        path, absl::StrCat("MessageSid=SMout1&MessageStatus=", status, "&AccountSid=", kAccountSid,
                           "&From=whatsapp%3A%2B14123456789&To=whatsapp%3A%2B31600000077", extra));
  };
  EXPECT_EQ(callback("delivered"), 200);
  EXPECT_EQ(status_of(), common::DELIVERY_STATUS_DELIVERED);
  EXPECT_EQ(callback("sent"), 200);  // late and out of order: answered, not applied
  EXPECT_EQ(callback("queued"), 200);
  EXPECT_EQ(callback("failed", "&ErrorCode=63016"), 200);  // a failure never beats a delivery
  EXPECT_EQ(status_of(), common::DELIVERY_STATUS_DELIVERED);
  EXPECT_EQ(callback("read", "", kSharedPath), 200);
  EXPECT_EQ(callback("delivered", "", kSharedPath), 200);
  EXPECT_EQ(status_of(), common::DELIVERY_STATUS_READ);
}

TEST_F(IngressConformanceE2eTest, SessionStoppedIs503AndTheRetryIsStoredOnce) {
  const std::string body = TextBody("1895382890692545", "m_retry_1", "while session was down");
  ASSERT_TRUE(session_->Stop().ok());
  EXPECT_EQ(PostMessenger(body), 503);
  const std::string form = "MessageSid=SMretry1&AccountSid=" + std::string(kAccountSid) +
                           "&From=whatsapp%3A%2B31600000001&To=whatsapp%3A%2B14123456789&Body=hi";
  EXPECT_EQ(PostTwilio(twilio_path_, form), 503);
  EXPECT_EQ(PostTwilio(kSharedPath, form), 503);
  ASSERT_TRUE(session_->Start().ok()) << session_->Log();
  // The providers retry until they get a 2xx (ingress reconnects to session with backoff);
  // then the same deliveries, however often they come, are stored once.
  int status = 0;
  for (int attempt = 0; attempt < 100 && status != 200; ++attempt) {
    status = PostMessenger(body);
    if (status != 200) absl::SleepFor(absl::Milliseconds(200));
  }
  ASSERT_EQ(status, 200);
  for (int attempt = 0; attempt < 3; ++attempt) {
    EXPECT_EQ(PostMessenger(body), 200);
    EXPECT_EQ(PostTwilio(twilio_path_, form), 200);
    EXPECT_EQ(PostTwilio(kSharedPath, form), 200);
  }
  EXPECT_EQ(Rows("messages", "1895382890692545", "msg:m_retry_1"), 1);
  EXPECT_EQ(Rows("messages", kSenderNumber, "msg:SMretry1"), 1);
}

}  // namespace
}  // namespace parley::e2e

// The in-process webhook path of ingress, per fixture kind (Google Benchmark): the real
// WebhookHandlers entry points (MessengerEvents, TwilioWebhook) on a request as the HTTP server
// hands it over: callback lookup, signature check over the raw bytes, simdjson / form parsing,
// normalisation into session InboundEvents, the IngestRequest batch with its endpoint
// snapshots, and its protobuf serialisation (what gRPC would send). Session is replaced by an
// in-process stub that serialises the request and answers STORED, so no network, PostgreSQL or
// HTTP parsing is measured here (bench/run_ingress.sh measures those end to end). Runs on one
// thread: events/s is per core.
//
//   build/bench/bench/ingress_path_bench [--benchmark_filter=messenger]
// Run from the repository root, or set PARLEY_PROVIDER_FIXTURES to the fixtures folder.
#include <benchmark/benchmark.h>

#include <cstdlib>
#include <fstream>
#include <memory>
#include <sstream>
#include <string>

#include "absl/strings/str_cat.h"
#include "prometheus/registry.h"
#include "services/ingress/form_encoding.h"
#include "services/ingress/webhook_handlers.h"
#include "services/ingress/webhook_signatures.h"

namespace parley::ingress {
namespace {

namespace sv1 = parley::session::v1;

constexpr char kBase[] = "https://parley.example.com";
constexpr char kAppSecret[] = "3f9c1b7e5a2d4c6e8f0a1b3c5d7e9f21";
constexpr char kAuthToken[] = "0f1e2d3c4b5a69788796a5b4c3d2e1f0";
constexpr char kAccountSid[] = "AC1a03647d811fab342c0ad608e382fab2";
constexpr char kSenderNumber[] = "+14123456789";

std::string FixtureDir() {
  const char* dir = std::getenv("PARLEY_PROVIDER_FIXTURES");
  return dir != nullptr ? dir : "tests/fixtures/providers";
}

std::string ReadFixture(const std::string& relative) {
  std::ifstream in(absl::StrCat(FixtureDir(), "/", relative), std::ios::binary);
  if (!in.good()) {
    std::fprintf(stderr, "cannot read fixture %s/%s\n", FixtureDir().c_str(), relative.c_str());
    std::exit(2);
  }
  std::stringstream buffer;
  buffer << in.rdbuf();
  return buffer.str();
}

// Every Page ID belongs to the bench application, so each fixture's events reach the batch.
class BenchDirectory : public ChannelDirectory {
 public:
  BenchDirectory() {
    common::v1::EndpointSettings settings;
    settings.set_language("en-US");
    settings.set_work_stream_id("8a1f0b9e-3f2a-4d1b-8c7e-0123456789ab");
    callback_ = std::make_shared<MessengerCallback>(MessengerCallback{
        .app = {.record_id = "app-1", .meta_app_id = "1821152484774199", .app_secret = kAppSecret},
        .page = {.record_id = "page-1",
                 .page_id = "1895382890692545",
                 .app_record_id = "app-1",
                 .callback_key = "key",
                 .settings = settings}});
    sender_ = std::make_shared<WhatsAppSender>(WhatsAppSender{.record_id = "sender-1",
                                                              .phone_number = kSenderNumber,
                                                              .account_sid = kAccountSid,
                                                              .auth_token = kAuthToken,
                                                              .callback_key = "tw",
                                                              .settings = settings});
  }
  std::shared_ptr<const MessengerCallback> FindMessengerCallback(
      absl::string_view key) const override {
    return key == "key" ? callback_ : nullptr;
  }
  std::shared_ptr<const MessengerPage> FindPage(absl::string_view page_id) const override {
    auto page = std::make_shared<MessengerPage>(callback_->page);
    page->page_id = std::string(page_id);
    return page;
  }
  std::shared_ptr<const MessengerApp> FindApp(absl::string_view) const override { return nullptr; }
  std::shared_ptr<const WhatsAppSender> FindWhatsAppCallback(absl::string_view key) const override {
    return key == "tw" ? sender_ : nullptr;
  }
  std::shared_ptr<const WhatsAppSender> FindSender(absl::string_view) const override {
    return sender_;
  }

 private:
  std::shared_ptr<MessengerCallback> callback_;
  std::shared_ptr<WhatsAppSender> sender_;
};

// Session's Ingest without the network: serialises the request as gRPC would, answers STORED.
class InProcessIngest : public sv1::IngestService::StubInterface {
 public:
  int64_t events = 0;  // handed over so far

  grpc::Status Ingest(grpc::ClientContext*, const sv1::IngestRequest& request,
                      sv1::IngestResponse* response) override {
    wire_.clear();
    request.SerializeToString(&wire_);
    events += request.events_size();
    benchmark::DoNotOptimize(wire_.data());
    for (int i = 0; i < request.events_size(); ++i) {
      sv1::IngestEventResult* r = response->add_results();
      r->set_event_index(i);
      r->set_outcome(sv1::INGEST_OUTCOME_STORED);
    }
    return grpc::Status::OK;
  }

 private:
  grpc::ClientAsyncResponseReaderInterface<sv1::IngestResponse>* AsyncIngestRaw(
      grpc::ClientContext*, const sv1::IngestRequest&, grpc::CompletionQueue*) override {
    std::abort();
  }
  grpc::ClientAsyncResponseReaderInterface<sv1::IngestResponse>* PrepareAsyncIngestRaw(
      grpc::ClientContext*, const sv1::IngestRequest&, grpc::CompletionQueue*) override {
    std::abort();
  }
  std::string wire_;
};

struct Bench {
  prometheus::Registry registry;
  std::shared_ptr<BenchDirectory> directory = std::make_shared<BenchDirectory>();
  std::shared_ptr<InProcessIngest> ingest = std::make_shared<InProcessIngest>();
  WebhookHandlers handlers{WebhookDeps{.directory = directory,
                                       .directory_loaded = [] { return true; },
                                       .ingest = ingest,
                                       .metrics = std::make_shared<WebhookMetrics>(registry)},
                           WebhookOptions{.public_base_url = kBase}};
};

Bench& Shared() {
  static auto* bench = new Bench();
  return *bench;
}

void Run(benchmark::State& state, const http::Request& request, bool twilio) {
  Bench& bench = Shared();
  {  // one call outside the timing: the answer must be a 2xx
    const http::Response r =
        twilio ? bench.handlers.TwilioWebhook(request) : bench.handlers.MessengerEvents(request);
    if (r.status != 200) {
      state.SkipWithError(absl::StrCat("status ", r.status, ": ", r.body).c_str());
      return;
    }
  }
  const int64_t events_before = bench.ingest->events;
  for (auto _ : state) {
    http::Response r =
        twilio ? bench.handlers.TwilioWebhook(request) : bench.handlers.MessengerEvents(request);
    benchmark::DoNotOptimize(r.body.data());
  }
  // Events the handler handed to session: what its batches held, not a count assumed here.
  const double events = static_cast<double>(bench.ingest->events - events_before);
  state.counters["events"] = benchmark::Counter(events / static_cast<double>(state.iterations()));
  state.counters["events/s"] = benchmark::Counter(events, benchmark::Counter::kIsRate);
  state.SetBytesProcessed(state.iterations() * static_cast<int64_t>(request.body.size()));
}

void Messenger(benchmark::State& state, const std::string& fixture) {
  http::Request request;
  request.method = "POST";
  request.path = "/webhooks/messenger/key";
  request.body = ReadFixture(absl::StrCat("messenger/", fixture, ".json"));
  request.headers.Add("Content-Type", "application/json");
  request.headers.Add("X-Hub-Signature-256", HubSignature256(kAppSecret, request.body));
  Run(state, request, false);
}

void Twilio(benchmark::State& state, const std::string& fixture, const std::string& path) {
  http::Request request;
  request.method = "POST";
  request.path = path;
  request.body = ReadFixture(absl::StrCat("twilio_whatsapp/", fixture, ".form"));
  request.headers.Add("Content-Type", "application/x-www-form-urlencoded");
  absl::StatusOr<std::vector<FormParam>> params = DecodeForm(request.body);
  if (!params.ok()) {
    state.SkipWithError("fixture is not a form");
    return;
  }
  request.headers.Add("X-Twilio-Signature",
                      TwilioSignature(kAuthToken, absl::StrCat(kBase, path), *params));
  Run(state, request, true);
}

BENCHMARK_CAPTURE(Messenger, text, "text");
BENCHMARK_CAPTURE(Messenger, image, "image");
BENCHMARK_CAPTURE(Messenger, attachments_multiple, "attachments_multiple");
BENCHMARK_CAPTURE(Messenger, delivery, "delivery");
BENCHMARK_CAPTURE(Messenger, read, "read");
BENCHMARK_CAPTURE(Messenger, echo, "echo");
BENCHMARK_CAPTURE(Messenger, postback, "postback");
BENCHMARK_CAPTURE(Messenger, batch_two_pages, "batch_two_pages");
BENCHMARK_CAPTURE(Twilio, inbound, "inbound_text", "/webhooks/twilio/tw");
BENCHMARK_CAPTURE(Twilio, status, "status_delivered", "/webhooks/twilio/tw/status");

}  // namespace
}  // namespace parley::ingress

BENCHMARK_MAIN();

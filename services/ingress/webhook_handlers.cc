#include "services/ingress/webhook_handlers.h"

#include <map>
#include <set>
#include <utility>
#include <vector>

#include "absl/random/random.h"
#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/strip.h"
#include "absl/time/clock.h"
#include "google/protobuf/util/time_util.h"
#include "grpcpp/grpcpp.h"
#include "libs/common/log.h"
#include "services/ingress/form_encoding.h"
#include "services/ingress/messenger_parser.h"
#include "services/ingress/twilio_parser.h"
#include "services/ingress/webhook_signatures.h"

namespace parley::ingress {

namespace common = parley::common::v1;
namespace sv1 = parley::session::v1;

namespace {

constexpr absl::string_view kMessengerPrefix = "/webhooks/messenger/";
constexpr absl::string_view kTwilioPrefix = "/webhooks/twilio/";
constexpr int kMaxEventsPerIngest = 1000;
constexpr absl::string_view kEmptyTwiml =
    "<?xml version=\"1.0\" encoding=\"UTF-8\"?><Response></Response>";

std::string NewBatchId() {
  thread_local absl::BitGen gen;
  const uint64_t hi = (absl::Uniform<uint64_t>(gen) & ~0xF000ULL) | 0x4000ULL;
  const uint64_t lo = (absl::Uniform<uint64_t>(gen) & ~(0xC000ULL << 48)) | (0x8000ULL << 48);
  return absl::StrFormat("%08x-%04x-%04x-%04x-%012x", hi >> 32, (hi >> 16) & 0xFFFF, hi & 0xFFFF,
                         lo >> 48, lo & 0xFFFFFFFFFFFFULL);
}

google::protobuf::Timestamp NowProto() {
  return google::protobuf::util::TimeUtil::MillisecondsToTimestamp(absl::ToUnixMillis(absl::Now()));
}

// The callback key: the path segment after `prefix`; "" when there is none.
absl::string_view KeyOf(absl::string_view path, absl::string_view prefix,
                        absl::string_view* rest = nullptr) {
  if (!absl::ConsumePrefix(&path, prefix)) return "";
  const size_t slash = path.find('/');
  if (rest != nullptr) *rest = slash == absl::string_view::npos ? "" : path.substr(slash);
  return path.substr(0, slash);
}

}  // namespace

struct WebhookHandlers::Result {
  int status = 200;
  WebhookOutcome outcome = WebhookOutcome::kAccepted;
  std::string body;
  std::string content_type = "text/plain; charset=utf-8";
};

namespace {

using Result = WebhookHandlers::Result;

Result Answer(int status, WebhookOutcome outcome, std::string body) {
  return Result{.status = status, .outcome = outcome, .body = std::move(body)};
}

}  // namespace

std::string EventKindLabel(const sv1::InboundEvent& event) {
  std::string kind;
  switch (event.kind_case()) {
    case sv1::InboundEvent::kMessage:
      kind = "message";
      break;
    case sv1::InboundEvent::kEcho:
      kind = "echo";
      break;
    case sv1::InboundEvent::kDelivery:
      kind = "delivery";
      break;
    case sv1::InboundEvent::kRead:
      kind = "read";
      break;
    case sv1::InboundEvent::kStatus:
      kind = "status";
      break;
    case sv1::InboundEvent::kReaction:
      kind = "reaction";
      break;
    case sv1::InboundEvent::kEdit:
      kind = "edit";
      break;
    case sv1::InboundEvent::kPostback:
      kind = "postback";
      break;
    case sv1::InboundEvent::kReferral:
      kind = "referral";
      break;
    case sv1::InboundEvent::kOptIn:
      kind = "optin";
      break;
    case sv1::InboundEvent::KIND_NOT_SET:
      kind = "none";
      break;
  }
  return event.standby() ? absl::StrCat("standby_", kind) : kind;
}

WebhookHandlers::WebhookHandlers(WebhookDeps deps, WebhookOptions options)
    : deps_(std::move(deps)),
      options_(std::move(options)),
      batcher_(std::make_unique<IngestBatcher>(
          deps_.ingest,
          IngestBatcherOptions{.max_calls_in_flight = options_.ingest_calls_in_flight,
                               .max_events_per_call = kMaxEventsPerIngest,
                               .deadline = options_.ingest_deadline},
          &deps_.metrics->BatchesPerIngestCall())) {}

http::Response WebhookHandlers::Finish(common::Channel channel, absl::Time start,
                                       Result result) const {
  deps_.metrics->Answered(channel, result.outcome, absl::ToDoubleSeconds(absl::Now() - start));
  http::Response response;
  response.status = result.status;
  response.content_type = std::move(result.content_type);
  response.body = std::move(result.body);
  return response;
}

http::Response WebhookHandlers::MessengerVerify(const http::Request& request) const {
  const absl::Time start = absl::Now();
  return Finish(common::CHANNEL_MESSENGER, start, DoMessengerVerify(request));
}

http::Response WebhookHandlers::MessengerEvents(const http::Request& request) const {
  const absl::Time start = absl::Now();
  return Finish(common::CHANNEL_MESSENGER, start, DoMessengerEvents(request));
}

http::Response WebhookHandlers::TwilioWebhook(const http::Request& request) const {
  const absl::Time start = absl::Now();
  return Finish(common::CHANNEL_WHATSAPP, start, DoTwilio(request));
}

http::Response WebhookHandlers::TwilioSharedWebhook(const http::Request& request) const {
  const absl::Time start = absl::Now();
  return Finish(common::CHANNEL_WHATSAPP, start, DoTwilioShared(request));
}

Result WebhookHandlers::DoMessengerVerify(const http::Request& request) const {
  absl::string_view rest;
  const absl::string_view key = KeyOf(request.path, kMessengerPrefix, &rest);
  if (key.empty() || !rest.empty()) {
    return Answer(404, WebhookOutcome::kUnknownCallback, "unknown callback\n");
  }
  if (!deps_.directory_loaded()) {
    return Answer(503, WebhookOutcome::kUnavailable, "configuration not loaded yet\n");
  }
  const auto callback = deps_.directory->FindMessengerCallback(key);
  if (callback == nullptr)
    return Answer(404, WebhookOutcome::kUnknownCallback, "unknown callback\n");
  absl::StatusOr<std::vector<FormParam>> query = DecodeForm(request.query);
  if (!query.ok())
    return Answer(400, WebhookOutcome::kMalformed, absl::StrCat(query.status().message(), "\n"));
  const std::string mode = FormValue(*query, "hub.mode");
  const std::string token = FormValue(*query, "hub.verify_token");
  if (mode != "subscribe" || callback->page.verify_token.empty() ||
      !ConstantTimeEquals(token, callback->page.verify_token)) {
    log::Warn("messenger verification refused", {{"page_id", callback->page.page_id}});
    return Answer(403, WebhookOutcome::kBadVerifyToken, "verification failed\n");
  }
  return Answer(200, WebhookOutcome::kVerified, FormValue(*query, "hub.challenge"));
}

Result WebhookHandlers::DoMessengerEvents(const http::Request& request) const {
  absl::string_view rest;
  const absl::string_view key = KeyOf(request.path, kMessengerPrefix, &rest);
  if (key.empty() || !rest.empty()) {
    return Answer(404, WebhookOutcome::kUnknownCallback, "unknown callback\n");
  }
  if (!deps_.directory_loaded()) {
    return Answer(503, WebhookOutcome::kUnavailable, "configuration not loaded yet\n");
  }
  const auto callback = deps_.directory->FindMessengerCallback(key);
  if (callback == nullptr)
    return Answer(404, WebhookOutcome::kUnknownCallback, "unknown callback\n");
  const absl::string_view signature = request.headers.Get("X-Hub-Signature-256");
  if (!VerifyHubSignature(HubAlgorithm::kSha256, callback->app.app_secret, request.body,
                          signature)) {
    log::Warn("messenger webhook with a missing or wrong signature",
              {{"meta_app_id", callback->app.meta_app_id}, {"peer", request.peer}});
    return Answer(401, WebhookOutcome::kBadSignature, "bad signature\n");
  }
  absl::StatusOr<MessengerBatch> parsed = ParseMessengerWebhook(request.body);
  if (!parsed.ok()) {
    log::Warn("messenger webhook not parseable",
              {{"meta_app_id", callback->app.meta_app_id}, {"error", parsed.status().message()}});
    return Answer(400, WebhookOutcome::kMalformed, absl::StrCat(parsed.status().message(), "\n"));
  }
  for (const SkippedEvent& s : parsed->skipped) {
    deps_.metrics->EventSkipped(common::CHANNEL_MESSENGER, SkipReasonName(s.reason));
    log::Info("messenger event skipped", {{"page_id", s.page_id}, {"detail", s.detail}});
  }
  sv1::IngestRequest batch;
  batch.set_channel(common::CHANNEL_MESSENGER);
  std::set<std::string> snapshots;
  bool unknown_page = false;
  for (sv1::InboundEvent& event : parsed->events) {
    const std::string& page_id = event.endpoint().id();
    const auto page = deps_.directory->FindPage(page_id);
    if (page == nullptr || page->app_record_id != callback->app.record_id) {
      unknown_page = true;
      deps_.metrics->EventSkipped(common::CHANNEL_MESSENGER, "unknown_page");
      log::Warn("messenger event for a page not configured under this application",
                {{"page_id", page_id}, {"meta_app_id", callback->app.meta_app_id}});
      continue;
    }
    if (snapshots.insert(page_id).second) {
      deps_.metrics->Received(common::CHANNEL_MESSENGER, page_id);
      sv1::EndpointSnapshot* snap = batch.add_endpoints();
      *snap->mutable_endpoint() = event.endpoint();
      *snap->mutable_settings() = page->settings;
    }
    *batch.add_events() = std::move(event);
  }
  if (batch.events_size() == 0) {
    return Answer(200, unknown_page ? WebhookOutcome::kUnknownPage : WebhookOutcome::kAccepted,
                  "EVENT_RECEIVED");
  }
  Result result = Ingest(batch);
  if (result.status == 200) result.body = "EVENT_RECEIVED";
  return result;
}

namespace {

// The form parameters of a Twilio request; a JSON body (its URL carries bodySHA256) has none.
struct TwilioForm {
  bool json = false;
  std::vector<FormParam> params;
};

absl::StatusOr<TwilioForm> ReadTwilioForm(const http::Request& request) {
  TwilioForm form;
  form.json = absl::StrContains(request.query, "bodySHA256=");
  if (form.json) return form;
  absl::StatusOr<std::vector<FormParam>> decoded = DecodeForm(request.body);
  if (!decoded.ok()) return decoded.status();
  form.params = *std::move(decoded);
  return form;
}

Result NotMessagingJson() {
  return Answer(400, WebhookOutcome::kMalformed, "JSON bodies are not Messaging webhooks\n");
}

}  // namespace

bool WebhookHandlers::TwilioSigned(const http::Request& request, const WhatsAppSender& sender,
                                   const std::vector<FormParam>& params) const {
  const std::string url = absl::StrCat(options_.public_base_url, request.path,
                                       request.query.empty() ? "" : "?", request.query);
  if (VerifyTwilioSignature(sender.auth_token, url, params, request.body,
                            request.headers.Get("X-Twilio-Signature"))) {
    return true;
  }
  log::Warn("twilio webhook with a missing or wrong signature",
            {{"sender", sender.phone_number}, {"url", url}, {"peer", request.peer}});
  return false;
}

Result WebhookHandlers::DoTwilio(const http::Request& request) const {
  absl::string_view rest;
  const absl::string_view key = KeyOf(request.path, kTwilioPrefix, &rest);
  if (key.empty() || (!rest.empty() && rest != "/status")) {
    return Answer(404, WebhookOutcome::kUnknownCallback, "unknown callback\n");
  }
  const TwilioHook hook = rest.empty() ? TwilioHook::kInbound : TwilioHook::kStatus;
  if (!deps_.directory_loaded()) {
    return Answer(503, WebhookOutcome::kUnavailable, "configuration not loaded yet\n");
  }
  const auto sender = deps_.directory->FindWhatsAppCallback(key);
  if (sender == nullptr) return Answer(404, WebhookOutcome::kUnknownCallback, "unknown callback\n");
  absl::StatusOr<TwilioForm> form = ReadTwilioForm(request);
  if (!form.ok()) {
    return Answer(400, WebhookOutcome::kMalformed, absl::StrCat(form.status().message(), "\n"));
  }
  if (!TwilioSigned(request, *sender, form->params)) {
    return Answer(401, WebhookOutcome::kBadSignature, "bad signature\n");
  }
  if (form->json) return NotMessagingJson();
  const std::string account = FormValue(form->params, "AccountSid");
  if (!account.empty() && account != sender->account_sid) {
    return Answer(403, WebhookOutcome::kForbidden, "AccountSid is not this sender's account\n");
  }
  const std::string own =
      StripWhatsAppPrefix(FormValue(form->params, hook == TwilioHook::kInbound ? "To" : "From"));
  if (!own.empty() && own != sender->phone_number) {
    return Answer(403, WebhookOutcome::kForbidden, "the sender number is not this callback's\n");
  }
  return IngestTwilio(request, *sender, hook, form->params);
}

// The body names the sender; only its own Auth Token can make the signature verify, so a body
// naming a sender but signed with another's token is refused like any forgery (401), and so is
// a body naming no sender at all (no AccountSid or no sender number: nothing could verify it).
// A sender that is named but not configured is an unknown callback (404).
Result WebhookHandlers::DoTwilioShared(const http::Request& request) const {
  if (!deps_.directory_loaded()) {
    return Answer(503, WebhookOutcome::kUnavailable, "configuration not loaded yet\n");
  }
  absl::StatusOr<TwilioForm> form = ReadTwilioForm(request);
  if (!form.ok()) {
    return Answer(400, WebhookOutcome::kMalformed, absl::StrCat(form.status().message(), "\n"));
  }
  if (form->json) return NotMessagingJson();  // no AccountSid to find the sender by
  const TwilioHook hook = TwilioHookOf(form->params);
  const std::string number =
      StripWhatsAppPrefix(FormValue(form->params, hook == TwilioHook::kInbound ? "To" : "From"));
  const std::string account = FormValue(form->params, "AccountSid");
  if (account.empty() || number.empty()) {
    log::Warn("twilio webhook naming no sender (AccountSid and number)", {{"peer", request.peer}});
    return Answer(401, WebhookOutcome::kBadSignature, "bad signature\n");
  }
  const auto sender = deps_.directory->FindSenderOfAccount(account, number);
  if (sender == nullptr) return Answer(404, WebhookOutcome::kUnknownCallback, "unknown sender\n");
  if (!TwilioSigned(request, *sender, form->params)) {
    return Answer(401, WebhookOutcome::kBadSignature, "bad signature\n");
  }
  return IngestTwilio(request, *sender, hook, form->params);
}

Result WebhookHandlers::IngestTwilio(const http::Request& request, const WhatsAppSender& sender,
                                     TwilioHook hook, const std::vector<FormParam>& params) const {
  absl::StatusOr<TwilioParse> parsed =
      ParseTwilioWebhook(hook, params, request.body, sender.phone_number);
  if (!parsed.ok()) {
    return Answer(400, WebhookOutcome::kMalformed, absl::StrCat(parsed.status().message(), "\n"));
  }
  deps_.metrics->Received(common::CHANNEL_WHATSAPP, sender.phone_number);
  Result result;
  if (parsed->skipped) {
    deps_.metrics->EventSkipped(common::CHANNEL_WHATSAPP, SkipReasonName(parsed->skipped->reason));
    log::Info("twilio webhook skipped",
              {{"sender", sender.phone_number}, {"detail", parsed->skipped->detail}});
  } else {
    sv1::IngestRequest batch;
    batch.set_channel(common::CHANNEL_WHATSAPP);
    sv1::EndpointSnapshot* snap = batch.add_endpoints();
    *snap->mutable_endpoint() = parsed->event->endpoint();
    *snap->mutable_settings() = sender.settings;
    *batch.add_events() = *std::move(parsed->event);
    result = Ingest(batch);
  }
  if (result.status == 200 && hook == TwilioHook::kInbound) {
    result.body = std::string(kEmptyTwiml);
    result.content_type = "text/xml";
  }
  return result;
}

Result WebhookHandlers::Ingest(sv1::IngestRequest& batch) const {
  batch.set_batch_id(NewBatchId());
  *batch.mutable_receive_time() = NowProto();
  // Session takes at most 1000 events per call; a larger body goes as consecutive calls, each
  // idempotent, and is acknowledged only when all committed.
  std::vector<sv1::IngestRequest> calls;
  if (batch.events_size() <= kMaxEventsPerIngest) {
    calls.push_back(std::move(batch));
  } else {
    for (int i = 0; i < batch.events_size(); i += kMaxEventsPerIngest) {
      sv1::IngestRequest& part = calls.emplace_back();
      part.set_batch_id(NewBatchId());
      part.set_channel(batch.channel());
      *part.mutable_receive_time() = batch.receive_time();
      *part.mutable_endpoints() = batch.endpoints();
      for (int j = i; j < std::min(batch.events_size(), i + kMaxEventsPerIngest); ++j) {
        *part.add_events() = batch.events(j);
      }
    }
  }
  int stored = 0;
  for (const sv1::IngestRequest& call : calls) {
    sv1::IngestResponse response;
    const grpc::Status status = batcher_->Ingest(call, &response);
    if (!status.ok()) {
      log::Warn("session did not confirm a webhook batch; answering 503",
                {{"batch_id", call.batch_id()},
                 {"code", absl::StrCat(status.error_code())},
                 {"error", status.error_message()}});
      return Answer(503, WebhookOutcome::kUnavailable, "not stored, retry later\n");
    }
    for (const sv1::InboundEvent& event : call.events()) {
      deps_.metrics->EventIngested(call.channel(), EventKindLabel(event));
    }
    for (const sv1::IngestEventResult& r : response.results()) {
      if (r.outcome() != sv1::INGEST_OUTCOME_DUPLICATE) ++stored;
      if (r.outcome() == sv1::INGEST_OUTCOME_DEAD_LETTERED) {
        log::Warn("session dead-lettered a webhook event",
                  {{"batch_id", call.batch_id()}, {"detail", r.detail()}});
      }
    }
  }
  return Answer(200, stored == 0 ? WebhookOutcome::kDuplicate : WebhookOutcome::kAccepted, "");
}

namespace {

// After session restarts, ingress must reconnect within a provider retry or two, not after
// gRPC's default backoff of up to two minutes (webhooks fail fast meanwhile with 503).
grpc::ChannelArguments SessionChannelArguments() {
  grpc::ChannelArguments args;
  args.SetInt(GRPC_ARG_INITIAL_RECONNECT_BACKOFF_MS, 100);
  args.SetInt(GRPC_ARG_MIN_RECONNECT_BACKOFF_MS, 100);
  args.SetInt(GRPC_ARG_MAX_RECONNECT_BACKOFF_MS, 2000);
  return args;
}

}  // namespace

std::vector<Setting> WebhookSettings() {
  return {
      {"session_address", "127.0.0.1:50053",
       "session's gRPC host:port, to which every webhook's events are handed"},
      {"session_ingest_timeout", "4s",
       "how long a webhook's batch may take to be committed, waiting for a shared call "
       "included (Meta wants an answer within 5s)"},
      {"session_ingest_calls", "2",
       "calls to session's Ingest out at once; webhooks arriving meanwhile share the next call"},
      {"twilio_shared_webhook_path", "/webhooks/twilio",
       "path of the one Twilio URL every sender may use for inbound messages and status "
       "callbacks alike (the body's AccountSid and number pick the sender whose Auth Token "
       "must sign it); the per-sender Callback URIs keep working"},
  };
}

namespace {

// A webhook path setting: "/" and URL-safe segments, clear of the other routes.
absl::StatusOr<std::string> ReadWebhookPath(const Config& config, absl::string_view name) {
  const std::string path = config.Get(name);
  const auto invalid = [&](absl::string_view why) {
    return absl::InvalidArgumentError(absl::StrCat("setting ", name, ": ", why));
  };
  if (path.size() < 2 || path[0] != '/' || path.back() == '/') {
    return invalid("must start with / and not end with /");
  }
  for (char c : path) {
    if (!absl::ascii_isalnum(c) && !absl::StrContains("/-._~", c)) {
      return invalid("only letters, digits, / - . _ ~ allowed");
    }
  }
  if (absl::StrContains(path, "//") || path == "/healthz" || path == "/readyz" ||
      absl::StartsWith(path, kMessengerPrefix) || absl::StartsWith(path, kTwilioPrefix)) {
    return invalid("no //, and not /healthz, /readyz nor under another webhook route");
  }
  return path;
}

}  // namespace

absl::StatusOr<std::shared_ptr<WebhookHandlers>> NewWebhookHandlers(
    const Config& config, prometheus::Registry& registry,
    std::shared_ptr<const ChannelDirectory> directory, std::function<bool()> directory_loaded,
    std::string public_base_url) {
  const std::string address = config.Get("session_address");
  if (address.empty()) return absl::InvalidArgumentError("setting session_address: is required");
  absl::StatusOr<absl::Duration> timeout = config.GetDuration("session_ingest_timeout");
  if (!timeout.ok()) return timeout.status();
  if (*timeout <= absl::ZeroDuration()) {
    return absl::InvalidArgumentError("setting session_ingest_timeout: must be positive");
  }
  absl::StatusOr<int> calls = config.GetInt("session_ingest_calls");
  if (!calls.ok()) return calls.status();
  if (*calls < 1)
    return absl::InvalidArgumentError("setting session_ingest_calls: must be at least 1");
  absl::StatusOr<std::string> shared_path = ReadWebhookPath(config, "twilio_shared_webhook_path");
  if (!shared_path.ok()) return shared_path.status();
  WebhookDeps deps{
      .directory = std::move(directory),
      .directory_loaded = std::move(directory_loaded),
      .ingest = sv1::IngestService::NewStub(grpc::CreateCustomChannel(
          address, grpc::InsecureChannelCredentials(), SessionChannelArguments())),
      .metrics = std::make_shared<WebhookMetrics>(registry),
  };
  return std::make_shared<WebhookHandlers>(
      std::move(deps), WebhookOptions{.public_base_url = std::move(public_base_url),
                                      .twilio_shared_path = *std::move(shared_path),
                                      .ingest_deadline = *timeout,
                                      .ingest_calls_in_flight = *calls});
}

// Verification answers from memory; the event webhooks wait for session's commit, on the HTTP
// server's handler threads (never holding the threads that answer /healthz and /readyz).
void AddWebhookRoutes(http::Router& router, std::shared_ptr<const WebhookHandlers> handlers) {
  router.Get("/webhooks/messenger/*",
             [handlers](const http::Request& r) { return handlers->MessengerVerify(r); });
  router.Post(
      "/webhooks/messenger/*",
      [handlers](const http::Request& r) { return handlers->MessengerEvents(r); },
      http::Runs::kBlocking);
  router.Post(
      "/webhooks/twilio/*",
      [handlers](const http::Request& r) { return handlers->TwilioWebhook(r); },
      http::Runs::kBlocking);
  router.Post(
      handlers->twilio_shared_path(),
      [handlers](const http::Request& r) { return handlers->TwilioSharedWebhook(r); },
      http::Runs::kBlocking);
}

}  // namespace parley::ingress

#include "services/ingress/provider_gateway.h"

#include <algorithm>
#include <chrono>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "google/protobuf/util/time_util.h"
#include "libs/common/log.h"
#include "prometheus/counter.h"
#include "prometheus/histogram.h"
#include "prometheus/registry.h"
#include "services/ingress/send_checks.h"

namespace parley::ingress {
namespace {

namespace cv1 = common::v1;
using google::protobuf::util::TimeUtil;

const char* ChannelLabel(cv1::Channel channel) {
  return channel == cv1::CHANNEL_WHATSAPP ? "whatsapp" : "messenger";
}

std::string GraphAttachmentType(cv1::AttachmentKind kind) {
  switch (kind) {
    case cv1::ATTACHMENT_KIND_IMAGE:
      return "image";
    case cv1::ATTACHMENT_KIND_AUDIO:
      return "audio";
    case cv1::ATTACHMENT_KIND_VIDEO:
      return "video";
    default:
      return "file";
  }
}

google::protobuf::Timestamp ToProto(absl::Time t) {
  return TimeUtil::MicrosecondsToTimestamp(absl::ToUnixMicros(t));
}

void FillRetryable(const ProviderOutcome& o, v1::RetryableSendFailure* out) {
  out->set_reason(o.retry_reason);
  *out->mutable_retry_after() =
      TimeUtil::MillisecondsToDuration(absl::ToInt64Milliseconds(o.retry_after));
  out->set_http_status(o.http_status);
  out->set_provider_code(o.provider_code);
  out->set_provider_subcode(o.provider_subcode);
  out->set_detail(o.detail);
}

void FillFinal(const ProviderOutcome& o, v1::FinalSendFailure* out) {
  out->mutable_error()->set_reason(o.failure_reason);
  out->mutable_error()->set_provider_code(o.provider_code);
  out->mutable_error()->set_provider_subcode(o.provider_subcode);
  out->mutable_error()->set_detail(o.detail);
  out->set_http_status(o.http_status);
}

const char* FetchResult(const absl::Status& s) {
  switch (s.code()) {
    case absl::StatusCode::kOk:
      return "ok";
    case absl::StatusCode::kFailedPrecondition:
      return "gone";
    case absl::StatusCode::kUnavailable:
      return "unavailable";
    default:
      return "invalid";
  }
}

}  // namespace

std::vector<Setting> OutboundSettings() {
  return {
      {"graph_api_base_url", "https://graph.facebook.com",
       "Graph API base URL for Messenger sends (the provider simulator in development)"},
      {"graph_api_version", "v21.0", "Graph API version in Send API paths"},
      {"twilio_api_base_url", "https://api.twilio.com", "Twilio REST API base URL"},
      {"provider_timeout", "20s", "longest one call to a provider's send API may take"},
      {"outbound_threads", "8", "threads that make provider calls (SendMessage, media)"},
      {"media_extra_origins", "",
       "comma-separated origins allowed for inbound media besides the providers' hosts"},
  };
}

absl::StatusOr<OutboundOptions> ReadOutboundOptions(const Config& config) {
  OutboundOptions o;
  for (const char* name : {"graph_api_base_url", "twilio_api_base_url"}) {
    absl::StatusOr<http_client::UrlParts> p = http_client::ParseUrl(config.Get(name));
    if (!p.ok() || (p->scheme != "https" && p->scheme != "http")) {
      return absl::InvalidArgumentError(absl::StrCat("setting ", name, ": not an http(s) URL"));
    }
  }
  o.graph.base_url = config.Get("graph_api_base_url");
  o.graph.version = config.Get("graph_api_version");
  if (o.graph.version.empty() || o.graph.version[0] != 'v') {
    return absl::InvalidArgumentError("setting graph_api_version: must look like v21.0");
  }
  o.twilio.base_url = config.Get("twilio_api_base_url");
  absl::StatusOr<absl::Duration> timeout = config.GetDuration("provider_timeout");
  if (!timeout.ok()) return timeout.status();
  if (*timeout <= absl::ZeroDuration()) {
    return absl::InvalidArgumentError("setting provider_timeout: must be positive");
  }
  o.graph.timeout = o.twilio.timeout = *timeout;
  absl::StatusOr<int> threads = config.GetInt("outbound_threads");
  if (!threads.ok()) return threads.status();
  if (*threads < 1 || *threads > 256) {
    return absl::InvalidArgumentError("setting outbound_threads: must be 1..256");
  }
  o.threads = *threads;
  for (absl::string_view origin :
       absl::StrSplit(config.Get("media_extra_origins"), ',', absl::SkipWhitespace())) {
    if (!http_client::ParseUrl(origin).ok()) {
      return absl::InvalidArgumentError(
          absl::StrCat("setting media_extra_origins: \"", origin, "\" is not an origin"));
    }
    o.media.extra_origins.emplace_back(origin);
  }
  return o;
}

OutboundMetrics::OutboundMetrics(prometheus::Registry& registry)
    : sends_(&prometheus::BuildCounter()
                  .Name("parley_ingress_outbound_sends_total")
                  .Help("Provider send calls by channel and result")
                  .Register(registry)),
      send_seconds_(&prometheus::BuildHistogram()
                         .Name("parley_ingress_outbound_send_seconds")
                         .Help("Duration of provider send calls")
                         .Register(registry)),
      fetches_(&prometheus::BuildCounter()
                    .Name("parley_ingress_media_fetches_total")
                    .Help("Inbound media downloads by channel and result")
                    .Register(registry)) {}

void OutboundMetrics::RecordSend(cv1::Channel channel, const ProviderOutcome& outcome,
                                 double seconds) {
  sends_->Add({{"channel", ChannelLabel(channel)}, {"result", OutcomeLabel(outcome)}}).Increment();
  send_seconds_
      ->Add({{"channel", ChannelLabel(channel)}},
            prometheus::Histogram::BucketBoundaries{0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 20})
      .Observe(seconds);
}

void OutboundMetrics::RecordFetch(cv1::Channel channel, const absl::Status& status) {
  fetches_->Add({{"channel", ChannelLabel(channel)}, {"result", FetchResult(status)}}).Increment();
}

ProviderGateway::ProviderGateway(GatewayDeps deps, OutboundOptions options)
    : deps_(std::move(deps)),
      options_(std::move(options)),
      graph_(*deps_.http, options_.graph),
      twilio_(*deps_.http, options_.twilio) {}

absl::StatusOr<std::vector<ProviderGateway::Part>> ProviderGateway::ResolveParts(
    const v1::SendMessageRequest& req, const std::map<int, AcceptedPart>& done,
    bool attachments_enabled) {
  std::vector<Part> parts;
  const auto& content = req.content().parts();
  for (int i = 0; i < content.size(); ++i) {
    if (done.count(i) > 0) continue;
    if (content[i].has_text()) {
      parts.push_back({.index = i, .text = content[i].text()});
      continue;
    }
    if (!attachments_enabled) {
      return absl::FailedPreconditionError(
          absl::StrCat("ATTACHMENT_VIOLATION_DISABLED_FOR_AGENTS: endpoint ", req.endpoint().id(),
                       ": attachments from agents are disabled (content.parts[", i, "])"));
    }
    if (deps_.files == nullptr) {
      return absl::UnavailableError(absl::StrCat(
          "content.parts[", i, "]: the attachments service is not available; nothing was sent"));
    }
    absl::StatusOr<OutboundFiles::File> file =
        deps_.files->Resolve(req.endpoint(), content[i].attachment().attachment_id());
    if (!file.ok()) return file.status();
    parts.push_back({.index = i, .file = *std::move(file)});
  }
  return parts;
}

ProviderOutcome ProviderGateway::SendPart(const v1::SendMessageRequest& req, const Part& part,
                                          bool first_message, const MessengerPage* page,
                                          const MessengerApp* app, const WhatsAppSender* sender) {
  const auto& content = req.content();
  if (page != nullptr) {
    GraphMessage m{.page_id = page->page_id,
                   .page_access_token = page->page_access_token,
                   .app_secret = app->app_secret,
                   .recipient_psid = req.recipient_user_id(),
                   .human_agent_tag = req.messaging_type() == v1::MESSAGING_TYPE_HUMAN_AGENT,
                   .metadata = req.outbound_message_id()};
    if (part.file.url.empty()) {
      m.text = part.text;
      // Quick replies travel with the last text part.
      int last_text = -1;
      for (int i = 0; i < content.parts_size(); ++i) {
        if (content.parts(i).has_text()) last_text = i;
      }
      if (part.index == last_text) {
        for (const auto& q : content.quick_replies()) {
          m.quick_replies.push_back({q.title(), q.payload()});
        }
      }
    } else {
      m.attachment_type = GraphAttachmentType(part.file.kind);
      m.attachment_url = part.file.url;
    }
    if (first_message) m.reply_to_mid = content.reply_to().provider_message_id();
    return graph_.Send(m);
  }
  TwilioMessage m{.account_sid = sender->account_sid,
                  .auth_token = sender->auth_token,
                  .from_number = sender->phone_number,
                  .to_user = req.recipient_user_id(),
                  .body = part.text,
                  .status_callback = absl::StrCat(deps_.public_base_url, "/webhooks/twilio/",
                                                  sender->callback_key, "/status")};
  if (!part.file.url.empty()) m.media_urls.push_back(part.file.url);
  return twilio_.Send(m);
}

absl::StatusOr<v1::SendMessageResponse> ProviderGateway::SendMessage(
    const v1::SendMessageRequest& req) {
  if (absl::Status s = CheckSendRequest(req); !s.ok()) return s;
  const std::string& id = req.endpoint().id();
  cv1::Channel channel = req.endpoint().channel();
  std::shared_ptr<const MessengerPage> page;
  std::shared_ptr<const MessengerApp> app;
  std::shared_ptr<const WhatsAppSender> sender;
  bool attachments_enabled = false;
  if (channel == cv1::CHANNEL_MESSENGER) {
    page = deps_.directory->FindPage(id);
    if (page == nullptr)
      return absl::NotFoundError(absl::StrCat("page ", id, " is not configured"));
    if (page->page_access_token.empty()) {
      return absl::FailedPreconditionError(absl::StrCat("page ", id, ": no Page Access Token set"));
    }
    app = deps_.directory->FindApp(page->app_record_id);
    if (app == nullptr || app->app_secret.empty()) {
      return absl::FailedPreconditionError(
          absl::StrCat("page ", id, ": its Facebook application has no App Secret set"));
    }
    attachments_enabled = page->settings.agent_attachments_enabled();
  } else {
    sender = deps_.directory->FindSender(id);
    if (sender == nullptr) {
      return absl::NotFoundError(absl::StrCat("WhatsApp sender ", id, " is not configured"));
    }
    if (sender->auth_token.empty() || sender->account_sid.empty()) {
      return absl::FailedPreconditionError(
          absl::StrCat("WhatsApp sender ", id, ": no Account SID / Auth Token set"));
    }
    attachments_enabled = sender->settings.agent_attachments_enabled();
  }
  absl::StatusOr<std::map<int, AcceptedPart>> done =
      deps_.sent_parts->Load(req.outbound_message_id());
  if (!done.ok()) return done.status();
  absl::StatusOr<std::vector<Part>> parts = ResolveParts(req, *done, attachments_enabled);
  if (!parts.ok()) return parts.status();

  v1::SendMessageResponse resp;
  std::map<int, AcceptedPart> accepted = *done;
  auto fill_parts = [&resp, &accepted] {
    for (const auto& [index, part] : accepted) {
      v1::SentPart* p = resp.add_sent_parts();
      p->set_part_index(index);
      p->set_provider_message_id(part.provider_message_id);
      *p->mutable_accept_time() = ToProto(part.accept_time);
    }
  };
  for (const Part& part : *parts) {
    auto start = std::chrono::steady_clock::now();
    ProviderOutcome o = SendPart(req, part, part.index == 0, page.get(), app.get(), sender.get());
    if (deps_.metrics != nullptr) {
      deps_.metrics->RecordSend(
          channel, o,
          std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count());
    }
    if (o.kind == OutcomeKind::kRetryable) {
      fill_parts();
      FillRetryable(o, resp.mutable_retryable_failure());
      return resp;
    }
    if (o.kind == OutcomeKind::kFinal) {
      fill_parts();
      FillFinal(o, resp.mutable_final_failure());
      return resp;
    }
    AcceptedPart a{o.provider_message_id, absl::Now()};
    if (absl::Status s = deps_.sent_parts->Record(req.outbound_message_id(), part.index, a);
        !s.ok()) {
      // The provider has it; only a retry of this very message could now repeat this part.
      log::Warn("accepted part not recorded",
                {{"outbound_message_id", req.outbound_message_id()}, {"error", s.ToString()}});
    }
    accepted[part.index] = std::move(a);
  }
  fill_parts();
  resp.mutable_accepted()->set_reply_to_dropped(
      channel == cv1::CHANNEL_WHATSAPP && !req.content().reply_to().provider_message_id().empty());
  return resp;
}

absl::StatusOr<v1::FetchInboundMediaResponse> ProviderGateway::FetchInboundMedia(
    const v1::FetchInboundMediaRequest& req) {
  cv1::Channel channel = req.endpoint().channel();
  if (channel != cv1::CHANNEL_MESSENGER && channel != cv1::CHANNEL_WHATSAPP) {
    return absl::InvalidArgumentError("endpoint.channel: required");
  }
  if (req.endpoint().id().empty()) return absl::InvalidArgumentError("endpoint.id: required");
  if (req.source_key().empty() || req.source_key().size() > 512) {
    return absl::InvalidArgumentError("source_key: must be 1..512 characters");
  }
  absl::Status checked = CheckMediaUrl(channel, req.provider_url(), options_.media.extra_origins);
  if (!checked.ok()) {
    if (deps_.metrics != nullptr) deps_.metrics->RecordFetch(channel, checked);
    return checked;
  }
  std::optional<http_client::BasicAuth> auth;
  const std::string& id = req.endpoint().id();
  if (channel == cv1::CHANNEL_MESSENGER) {
    if (deps_.directory->FindPage(id) == nullptr) {
      return absl::NotFoundError(absl::StrCat("page ", id, " is not configured"));
    }
  } else {
    std::shared_ptr<const WhatsAppSender> sender = deps_.directory->FindSender(id);
    if (sender == nullptr) {
      return absl::NotFoundError(absl::StrCat("WhatsApp sender ", id, " is not configured"));
    }
    auth = http_client::BasicAuth{sender->account_sid, sender->auth_token};
  }
  if (deps_.media_store == nullptr) {
    return absl::UnavailableError(
        "the attachments service is not available; the file was not fetched");
  }
  absl::StatusOr<FetchedMedia> media =
      FetchMedia(*deps_.http, channel, req.provider_url(), auth, options_.media);
  if (deps_.metrics != nullptr) deps_.metrics->RecordFetch(channel, media.status());
  if (!media.ok()) return media.status();
  absl::StatusOr<cv1::Attachment> stored = deps_.media_store->Store(req, *std::move(media));
  if (!stored.ok()) return stored.status();
  v1::FetchInboundMediaResponse resp;
  *resp.mutable_attachment() = *std::move(stored);
  return resp;
}

}  // namespace parley::ingress

#include "services/ingress/twilio_parser.h"

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/strip.h"
#include "services/ingress/form_encoding.h"
#include "services/ingress/twilio_error_codes.h"

namespace parley::ingress {
namespace {

namespace common = parley::common::v1;
namespace sv1 = parley::session::v1;

constexpr size_t kMaxRawEvent = 65536;
constexpr int kMaxMedia = 10;

std::string MessageSid(const std::vector<FormParam>& params) {
  for (const char* name : {"MessageSid", "SmsMessageSid", "SmsSid"}) {
    std::string sid = FormValue(params, name);
    if (!sid.empty()) return sid;
  }
  return "";
}

common::AttachmentKind KindOfMime(absl::string_view mime) {
  const std::string lower = absl::AsciiStrToLower(mime);
  if (absl::StartsWith(lower, "image/")) return common::ATTACHMENT_KIND_IMAGE;
  if (absl::StartsWith(lower, "audio/")) return common::ATTACHMENT_KIND_AUDIO;
  if (absl::StartsWith(lower, "video/")) return common::ATTACHMENT_KIND_VIDEO;
  return common::ATTACHMENT_KIND_FILE;
}

common::ContentPart Unsupported(absl::string_view provider_type) {
  common::ContentPart part;
  part.mutable_unsupported()->set_provider_type(std::string(provider_type.substr(0, 200)));
  part.mutable_unsupported()->set_display_text(std::string(kUnsupportedDisplayText));
  return part;
}

absl::Status AddMedia(const std::vector<FormParam>& params, common::MessageContent* content) {
  const std::string num = FormValue(params, "NumMedia");
  if (num.empty()) return absl::OkStatus();
  int count = 0;
  if (!absl::SimpleAtoi(num, &count) || count < 0 || count > kMaxMedia) {
    return absl::InvalidArgumentError(
        absl::StrCat("NumMedia: '", num, "' is not a number from 0 to ", kMaxMedia));
  }
  for (int i = 0; i < count; ++i) {
    const std::string url = FormValue(params, absl::StrCat("MediaUrl", i));
    if (url.empty()) {
      return absl::InvalidArgumentError(
          absl::StrCat("MediaUrl", i, ": missing (NumMedia ", count, ")"));
    }
    const std::string mime = FormValue(params, absl::StrCat("MediaContentType", i));
    common::Attachment* a = content->add_parts()->mutable_attachment();
    a->set_kind(KindOfMime(mime));
    a->set_provider_url(url);
    a->set_mime_type(mime);
    a->set_state(common::ATTACHMENT_STATE_PENDING);
  }
  return absl::OkStatus();
}

absl::Status AddLocation(const std::vector<FormParam>& params, common::MessageContent* content) {
  if (!FormHas(params, "Latitude") && !FormHas(params, "Longitude")) return absl::OkStatus();
  double lat = 0;
  double lng = 0;
  if (!absl::SimpleAtod(FormValue(params, "Latitude"), &lat) || lat < -90 || lat > 90) {
    return absl::InvalidArgumentError("Latitude: not a number from -90 to 90");
  }
  if (!absl::SimpleAtod(FormValue(params, "Longitude"), &lng) || lng < -180 || lng > 180) {
    return absl::InvalidArgumentError("Longitude: not a number from -180 to 180");
  }
  common::Location* loc = content->add_parts()->mutable_location();
  loc->set_latitude(lat);
  loc->set_longitude(lng);
  loc->set_address(FormValue(params, "Address"));
  loc->set_label(FormValue(params, "Label"));
  return absl::OkStatus();
}

bool HasReferral(const std::vector<FormParam>& params) {
  for (const char* name : {"ReferralSourceId", "ReferralCtwaClid", "ReferralSourceUrl"}) {
    if (!FormValue(params, name).empty()) return true;
  }
  return false;
}

sv1::Referral ReferralOf(const std::vector<FormParam>& params) {
  sv1::Referral r;
  r.set_source(FormValue(params, "ReferralSourceType"));
  r.set_ad_id(FormValue(params, "ReferralSourceId"));
  r.set_source_url(FormValue(params, "ReferralSourceUrl"));
  r.set_headline(FormValue(params, "ReferralHeadline"));
  r.set_body(FormValue(params, "ReferralBody"));
  r.set_ctwa_clid(FormValue(params, "ReferralCtwaClid"));
  return r;
}

absl::Status FillInbound(const std::vector<FormParam>& params, const std::string& sid,
                         sv1::InboundEvent* e) {
  sv1::InboundMessage* m = e->mutable_message();
  m->set_provider_message_id(sid);
  common::MessageContent* content = m->mutable_content();
  const std::string body = FormValue(params, "Body");
  if (!body.empty()) content->add_parts()->set_text(body);
  const std::string button = FormValue(params, "ButtonPayload");
  if (!button.empty()) content->add_parts()->mutable_quick_reply()->set_payload(button);
  if (absl::Status s = AddLocation(params, content); !s.ok()) return s;
  if (absl::Status s = AddMedia(params, content); !s.ok()) return s;
  if (content->parts_size() == 0) {
    const std::string type = FormValue(params, "MessageType");
    *content->add_parts() =
        Unsupported(type.empty() ? "empty" : absl::StrCat("MessageType=", type));
  }
  const std::string replied = FormValue(params, "OriginalRepliedMessageSid");
  if (!replied.empty()) content->mutable_reply_to()->set_provider_message_id(replied);
  if (HasReferral(params)) *m->mutable_referral() = ReferralOf(params);
  e->mutable_profile()->set_display_name(FormValue(params, "ProfileName"));
  e->mutable_profile()->set_wa_id(FormValue(params, "WaId"));
  e->set_dedup_key(absl::StrCat("msg:", sid));
  return absl::OkStatus();
}

absl::Status FillStatus(const std::vector<FormParam>& params, const std::string& sid,
                        common::DeliveryStatus status, sv1::InboundEvent* e) {
  sv1::StatusCallback* s = e->mutable_status();
  s->set_provider_message_id(sid);
  s->set_status(status);
  const std::string provider_status = FormValue(params, "MessageStatus");
  s->set_provider_status(provider_status);
  const std::string code = FormValue(params, "ErrorCode");
  if (!code.empty()) {
    int value = 0;
    if (!absl::SimpleAtoi(code, &value) || value < 0) {
      return absl::InvalidArgumentError(absl::StrCat("ErrorCode: '", code, "' is not a number"));
    }
    s->set_error_code(value);
    s->set_error_message(FormValue(params, "ErrorMessage"));
    if (value != 0) *s->mutable_error() = MapTwilioError(value, s->error_message());
  }
  e->set_dedup_key(absl::StrCat("status:", sid, ":", provider_status));
  return absl::OkStatus();
}

}  // namespace

TwilioHook TwilioHookOf(const std::vector<FormParam>& params) {
  return FormHas(params, "MessageStatus") ? TwilioHook::kStatus : TwilioHook::kInbound;
}

std::string StripWhatsAppPrefix(absl::string_view address) {
  absl::ConsumePrefix(&address, "whatsapp:");
  return std::string(address);
}

std::optional<common::DeliveryStatus> MapTwilioStatus(absl::string_view message_status) {
  const std::string s = absl::AsciiStrToLower(message_status);
  if (s == "accepted" || s == "scheduled" || s == "queued" || s == "sending") {
    return common::DELIVERY_STATUS_QUEUED;
  }
  if (s == "sent") return common::DELIVERY_STATUS_SENT;
  if (s == "delivered") return common::DELIVERY_STATUS_DELIVERED;
  if (s == "read") return common::DELIVERY_STATUS_READ;
  if (s == "failed" || s == "canceled") return common::DELIVERY_STATUS_FAILED;
  if (s == "undelivered") return common::DELIVERY_STATUS_UNDELIVERED;
  return std::nullopt;
}

common::DeliveryError MapTwilioError(int code, absl::string_view message) {
  common::DeliveryError error;
  error.set_provider_code(code);
  const common::DeliveryFailureReason reason = TwilioFailureReason(code);
  std::string detail =
      reason == common::DELIVERY_FAILURE_REASON_WINDOW_CLOSED
          ? "The customer's 24 hour WhatsApp window is closed (Twilio 63016): use a template."
          : absl::StrCat("Twilio error ", code);
  if (reason != common::DELIVERY_FAILURE_REASON_WINDOW_CLOSED && !message.empty()) {
    absl::StrAppend(&detail, ": ", message.substr(0, 900));
  }
  error.set_reason(reason);
  error.set_detail(detail);
  return error;
}

absl::StatusOr<TwilioParse> ParseTwilioWebhook(TwilioHook hook,
                                               const std::vector<FormParam>& params,
                                               absl::string_view raw_body,
                                               absl::string_view sender_number) {
  const std::string sid = MessageSid(params);
  if (sid.empty()) return absl::InvalidArgumentError("MessageSid: missing");
  const char* customer_field = hook == TwilioHook::kInbound ? "From" : "To";
  const std::string customer = StripWhatsAppPrefix(FormValue(params, customer_field));
  if (customer.empty())
    return absl::InvalidArgumentError(absl::StrCat(customer_field, ": missing"));
  TwilioParse out;
  std::optional<common::DeliveryStatus> status;
  if (hook == TwilioHook::kStatus) {
    const std::string provider_status = FormValue(params, "MessageStatus");
    if (provider_status.empty()) return absl::InvalidArgumentError("MessageStatus: missing");
    status = MapTwilioStatus(provider_status);
    if (!status) {
      out.skipped = SkippedEvent{std::string(sender_number), SkipReason::kUnknownKind,
                                 absl::StrCat("MessageStatus '", provider_status, "'")};
      return out;
    }
  }
  sv1::InboundEvent e;
  e.mutable_endpoint()->set_channel(common::CHANNEL_WHATSAPP);
  e.mutable_endpoint()->set_id(std::string(sender_number));
  *e.mutable_customer()->mutable_endpoint() = e.endpoint();
  e.mutable_customer()->set_user_id(customer);
  e.set_raw_event(std::string(raw_body.substr(0, kMaxRawEvent)));
  absl::Status filled = hook == TwilioHook::kInbound ? FillInbound(params, sid, &e)
                                                     : FillStatus(params, sid, *status, &e);
  if (!filled.ok()) return filled;
  out.event = std::move(e);
  return out;
}

}  // namespace parley::ingress

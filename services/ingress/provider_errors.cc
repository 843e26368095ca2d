#include "services/ingress/provider_errors.h"

#include <algorithm>

#include "absl/strings/ascii.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "services/ingress/twilio_error_codes.h"
#include "simdjson.h"

namespace parley::ingress {
namespace {

using common::v1::DeliveryFailureReason;
namespace cv1 = common::v1;

constexpr size_t kMaxDetail = 1000;
constexpr absl::Duration kMaxRetryAfter = absl::Hours(1);

// Cuts `text` to at most kMaxDetail bytes without splitting a UTF-8 sequence.
std::string Bounded(std::string text) {
  if (text.size() <= kMaxDetail) return text;
  size_t end = kMaxDetail;
  while (end > 0 && (static_cast<unsigned char>(text[end]) & 0xC0) == 0x80) --end;
  text.resize(end);
  return text;
}

ProviderOutcome Retryable(v1::RetryReason reason, const ProviderReply& reply, absl::Time now,
                          int code, int subcode, std::string detail) {
  ProviderOutcome o;
  o.kind = OutcomeKind::kRetryable;
  o.retry_reason = reason;
  o.retry_after = ParseRetryAfter(reply.retry_after, now).value_or(DefaultRetryAfter(reason));
  o.http_status = reply.http_status;
  o.provider_code = code;
  o.provider_subcode = subcode;
  o.detail = Bounded(std::move(detail));
  return o;
}

ProviderOutcome Final(DeliveryFailureReason reason, const ProviderReply& reply, int code,
                      int subcode, std::string detail) {
  ProviderOutcome o;
  o.kind = OutcomeKind::kFinal;
  o.failure_reason = reason;
  o.http_status = reply.http_status;
  o.provider_code = code;
  o.provider_subcode = subcode;
  o.detail = Bounded(std::move(detail));
  return o;
}

ProviderOutcome Accepted(const ProviderReply& reply, std::string id) {
  ProviderOutcome o;
  o.kind = OutcomeKind::kAccepted;
  o.http_status = reply.http_status;
  o.provider_message_id = std::move(id);
  return o;
}

// What the agent reads for each final reason.
std::string Explain(DeliveryFailureReason reason) {
  switch (reason) {
    case cv1::DELIVERY_FAILURE_REASON_WINDOW_CLOSED:
      return "the reply window is closed: the customer must write again first";
    case cv1::DELIVERY_FAILURE_REASON_RECIPIENT_UNAVAILABLE:
      return "the customer cannot receive messages from this page or sender";
    case cv1::DELIVERY_FAILURE_REASON_INVALID_CREDENTIALS:
      return "the stored credentials were refused; an administrator must update them";
    case cv1::DELIVERY_FAILURE_REASON_PERMISSION_DENIED:
      return "the application or sender lacks a permission or is not live";
    case cv1::DELIVERY_FAILURE_REASON_MEDIA_REJECTED:
      return "the provider refused the attachment";
    case cv1::DELIVERY_FAILURE_REASON_INVALID_REQUEST:
      return "the provider refused the request";
    default:
      return "the provider refused the message";
  }
}

// The fields of a provider's error body that matter; `parsed` false when the body is not one.
struct ErrorBody {
  bool parsed = false;
  int code = 0;
  int subcode = 0;
  bool is_transient = false;
  std::string message;
  std::string id;  // success bodies: message_id / sid
};

int64_t IntField(simdjson::dom::element object, const char* key) {
  int64_t v = 0;
  if (object[key].get_int64().get(v) == simdjson::SUCCESS) return v;
  return 0;
}

std::string StringField(simdjson::dom::element object, const char* key) {
  std::string_view v;
  if (object[key].get_string().get(v) == simdjson::SUCCESS) return std::string(v);
  return "";
}

int Clamp(int64_t v) {
  return static_cast<int>(std::clamp<int64_t>(v, 0, std::numeric_limits<int32_t>::max()));
}

// Graph: {"message_id": ...} or {"error": {...}}; Twilio: {"sid": ...} or {"code": ...}.
ErrorBody ReadBody(absl::string_view body, bool graph) {
  ErrorBody out;
  simdjson::dom::parser parser;
  simdjson::dom::element root;
  if (parser.parse(body.data(), body.size()).get(root) != simdjson::SUCCESS) return out;
  if (!root.is_object()) return out;
  out.parsed = true;
  if (graph) {
    out.id = StringField(root, "message_id");
    simdjson::dom::element error;
    if (root["error"].get(error) != simdjson::SUCCESS || !error.is_object()) return out;
    out.code = Clamp(IntField(error, "code"));
    out.subcode = Clamp(IntField(error, "error_subcode"));
    bool transient = false;
    if (error["is_transient"].get_bool().get(transient) == simdjson::SUCCESS) {
      out.is_transient = transient;
    }
    out.message = StringField(error, "message");
    return out;
  }
  out.id = StringField(root, "sid");
  out.code = Clamp(IntField(root, "code"));
  out.message = StringField(root, "message");
  return out;
}

DeliveryFailureReason GraphFinalReason(int code, int subcode) {
  switch (code) {
    case 10:
      if (subcode == 2018278 || subcode == 2018065 || subcode == 2534022) {
        return cv1::DELIVERY_FAILURE_REASON_WINDOW_CLOSED;
      }
      if (subcode == 2018108) return cv1::DELIVERY_FAILURE_REASON_RECIPIENT_UNAVAILABLE;
      return cv1::DELIVERY_FAILURE_REASON_PERMISSION_DENIED;
    case 551:
      if (subcode == 1545041) return cv1::DELIVERY_FAILURE_REASON_WINDOW_CLOSED;
      return cv1::DELIVERY_FAILURE_REASON_RECIPIENT_UNAVAILABLE;
    case 200:
      if (subcode == 1545041) return cv1::DELIVERY_FAILURE_REASON_WINDOW_CLOSED;
      return cv1::DELIVERY_FAILURE_REASON_PERMISSION_DENIED;
    case 230:
      return cv1::DELIVERY_FAILURE_REASON_PERMISSION_DENIED;
    case 190:
      return cv1::DELIVERY_FAILURE_REASON_INVALID_CREDENTIALS;
    case 100:
      if (subcode == 2018001) return cv1::DELIVERY_FAILURE_REASON_RECIPIENT_UNAVAILABLE;
      if (subcode == 2018008 || subcode == 2018047 || subcode == 2018109 || subcode == 2018294) {
        return cv1::DELIVERY_FAILURE_REASON_MEDIA_REJECTED;
      }
      return cv1::DELIVERY_FAILURE_REASON_INVALID_REQUEST;
    default:
      return cv1::DELIVERY_FAILURE_REASON_PROVIDER_ERROR;
  }
}

std::string GraphCodeText(int code, int subcode) {
  if (subcode == 0) return absl::StrCat("Graph error ", code);
  return absl::StrCat("Graph error ", code, "/", subcode);
}

// A 401 without a Twilio body (a proxy's page) means the credentials too.
DeliveryFailureReason TwilioFinalReason(int code, int http_status) {
  if (code == 0 && http_status == 401) return cv1::DELIVERY_FAILURE_REASON_INVALID_CREDENTIALS;
  return TwilioFailureReason(code);
}

}  // namespace

std::optional<absl::Duration> ParseRetryAfter(absl::string_view value, absl::Time now) {
  value = absl::StripAsciiWhitespace(value);
  if (value.empty()) return std::nullopt;
  int64_t seconds = 0;
  if (absl::SimpleAtoi(value, &seconds)) {
    if (seconds < 0) return std::nullopt;
    return std::min(absl::Seconds(seconds), kMaxRetryAfter);
  }
  absl::Time when;
  std::string err;
  if (!absl::ParseTime("%a, %d %b %Y %H:%M:%S GMT", std::string(value), &when, &err)) {
    return std::nullopt;
  }
  return std::clamp(when - now, absl::ZeroDuration(), kMaxRetryAfter);
}

absl::Duration DefaultRetryAfter(v1::RetryReason reason) {
  switch (reason) {
    case v1::RETRY_REASON_RATE_LIMITED:
      return absl::Seconds(60);
    case v1::RETRY_REASON_UNREACHABLE:
      return absl::Seconds(5);
    case v1::RETRY_REASON_TIMEOUT:
      return absl::Seconds(30);
    default:
      return absl::Seconds(10);
  }
}

ProviderOutcome ClassifyGraphReply(const ProviderReply& reply, absl::Time now) {
  ErrorBody body = ReadBody(reply.body, /*graph=*/true);
  int code = body.code;
  int sub = body.subcode;
  std::string what = GraphCodeText(code, sub);
  if (reply.http_status >= 200 && reply.http_status < 300) {
    if (!body.id.empty()) return Accepted(reply, body.id);
    return Final(cv1::DELIVERY_FAILURE_REASON_PROVIDER_ERROR, reply, code, sub,
                 absl::StrCat("Graph answered HTTP ", reply.http_status, " without a message_id"));
  }
  if (code == 4 || code == 613) {
    return Retryable(v1::RETRY_REASON_RATE_LIMITED, reply, now, code, sub,
                     absl::StrCat(what, ": rate limited"));
  }
  if (code == 1 || code == 2 || code == 1200 || body.is_transient) {
    return Retryable(v1::RETRY_REASON_PROVIDER_ERROR, reply, now, code, sub,
                     absl::StrCat(what, ": temporary provider error"));
  }
  if (reply.http_status == 429) {
    return Retryable(v1::RETRY_REASON_RATE_LIMITED, reply, now, code, sub,
                     absl::StrCat("Graph answered HTTP 429 (", what, ")"));
  }
  if (reply.http_status >= 500) {
    return Retryable(v1::RETRY_REASON_PROVIDER_ERROR, reply, now, code, sub,
                     absl::StrCat("Graph answered HTTP ", reply.http_status));
  }
  if (code == 0) {
    if (reply.http_status == 401) {
      return Final(cv1::DELIVERY_FAILURE_REASON_INVALID_CREDENTIALS, reply, 0, 0,
                   "Messenger refused the message: HTTP 401; " +
                       Explain(cv1::DELIVERY_FAILURE_REASON_INVALID_CREDENTIALS));
    }
    return Final(cv1::DELIVERY_FAILURE_REASON_PROVIDER_ERROR, reply, 0, 0,
                 absl::StrCat("Graph answered HTTP ", reply.http_status,
                              body.parsed ? " without an error code" : " with an unreadable body"));
  }
  DeliveryFailureReason reason = GraphFinalReason(code, sub);
  std::string detail =
      absl::StrCat("Messenger refused the message (", what, "): ", Explain(reason));
  if (reason == cv1::DELIVERY_FAILURE_REASON_PROVIDER_ERROR ||
      reason == cv1::DELIVERY_FAILURE_REASON_INVALID_REQUEST) {
    absl::StrAppend(&detail, ": ", body.message);
  }
  return Final(reason, reply, code, sub, std::move(detail));
}

ProviderOutcome ClassifyTwilioReply(const ProviderReply& reply, absl::Time now) {
  ErrorBody body = ReadBody(reply.body, /*graph=*/false);
  int code = body.code;
  std::string what = code != 0 ? absl::StrCat("Twilio error ", code)
                               : absl::StrCat("Twilio HTTP ", reply.http_status);
  if (reply.http_status >= 200 && reply.http_status < 300) {
    if (!body.id.empty()) return Accepted(reply, body.id);
    return Final(cv1::DELIVERY_FAILURE_REASON_PROVIDER_ERROR, reply, code, 0,
                 absl::StrCat("Twilio answered HTTP ", reply.http_status, " without a sid"));
  }
  if (reply.http_status == 429 || code == 20429 || code == 63017 || code == 63119) {
    return Retryable(v1::RETRY_REASON_RATE_LIMITED, reply, now, code, 0,
                     absl::StrCat(what, ": rate limited"));
  }
  if (reply.http_status >= 500) {
    return Retryable(v1::RETRY_REASON_PROVIDER_ERROR, reply, now, code, 0,
                     absl::StrCat("Twilio answered HTTP ", reply.http_status));
  }
  DeliveryFailureReason reason = TwilioFinalReason(code, reply.http_status);
  std::string detail = absl::StrCat("WhatsApp refused the message (", what, "): ", Explain(reason));
  if (!body.parsed) absl::StrAppend(&detail, " (unreadable error body)");
  if (body.parsed && (reason == cv1::DELIVERY_FAILURE_REASON_PROVIDER_ERROR ||
                      reason == cv1::DELIVERY_FAILURE_REASON_INVALID_REQUEST)) {
    absl::StrAppend(&detail, ": ", body.message);
  }
  return Final(reason, reply, code, 0, std::move(detail));
}

ProviderOutcome ClassifyTransportFailure(const absl::Status& status) {
  ProviderOutcome o;
  o.kind = OutcomeKind::kRetryable;
  switch (status.code()) {
    case absl::StatusCode::kUnavailable:
      o.retry_reason = v1::RETRY_REASON_UNREACHABLE;
      break;
    case absl::StatusCode::kDeadlineExceeded:
      o.retry_reason = v1::RETRY_REASON_TIMEOUT;
      break;
    default:
      o.retry_reason = v1::RETRY_REASON_PROVIDER_ERROR;
      break;
  }
  o.retry_after = DefaultRetryAfter(o.retry_reason);
  o.detail = Bounded(std::string(status.message()));
  return o;
}

std::string OutcomeLabel(const ProviderOutcome& outcome) {
  switch (outcome.kind) {
    case OutcomeKind::kAccepted:
      return "accepted";
    case OutcomeKind::kRetryable: {
      std::string name = v1::RetryReason_Name(outcome.retry_reason);
      return absl::AsciiStrToLower(
          absl::StrCat("retryable_", name.substr(strlen("RETRY_REASON_"))));
    }
    case OutcomeKind::kFinal: {
      std::string name = cv1::DeliveryFailureReason_Name(outcome.failure_reason);
      return absl::AsciiStrToLower(
          absl::StrCat("final_", name.substr(strlen("DELIVERY_FAILURE_REASON_"))));
    }
  }
  return "unknown";
}

}  // namespace parley::ingress

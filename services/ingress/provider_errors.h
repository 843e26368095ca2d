// What a provider's answer to a send means for Parley: accepted (with the provider's message
// id), retryable (with the reason and how long to wait), or final (with the reason the agent
// sees). One place holds every code the Graph Send API and the Twilio Messages API are known
// to answer, so that senders, metrics and tests agree. Codes are matched, never message texts
// (Graph localises them).
//
// Graph (body {"error":{"code","error_subcode","is_transient",...}}):
//   retryable  codes 4, 613 (and HTTP 429) rate limited; codes 1, 2, 1200, is_transient, HTTP 5xx
//              provider error;
//   final      window closed 10/2018278, 10/2018065, 10/2534022, 551/1545041, 200/1545041;
//              recipient unavailable 10/2018108, 100/2018001, 551 (other subcodes);
//              invalid credentials 190 (HTTP 401 without a body too); media rejected
//              100/2018008, 2018047, 2018109, 2018294; permission denied 10, 200, 230 (other
//              subcodes); invalid request 100 (other subcodes); anything else provider error.
// Twilio (body {"code","message","more_info","status"}):
//   retryable  HTTP 429, codes 20429, 63017, 63119 rate limited; HTTP 5xx provider error;
//   final      63016 window closed; 21211, 63024 recipient unavailable; 20003 (and HTTP 401)
//              invalid credentials; 63007 permission denied; 63019, 63021 media rejected;
//              20001 and other 21xxx invalid request; anything else provider error.
// A body that is not the provider's JSON (a proxy's HTML page, malformed JSON) is judged by
// the HTTP status alone.
#pragma once

#include <optional>
#include <string>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "parley/common/v1/common.pb.h"
#include "parley/ingress/v1/ingress.pb.h"

namespace parley::ingress {

enum class OutcomeKind { kAccepted, kRetryable, kFinal };

struct ProviderOutcome {
  OutcomeKind kind = OutcomeKind::kFinal;
  std::string provider_message_id;  // kAccepted: Graph message_id or Twilio sid
  v1::RetryReason retry_reason = v1::RETRY_REASON_UNSPECIFIED;  // kRetryable
  absl::Duration retry_after;                                   // kRetryable
  common::v1::DeliveryFailureReason failure_reason =
      common::v1::DELIVERY_FAILURE_REASON_UNSPECIFIED;  // kFinal
  int http_status = 0;                                  // 0 when there was no answer
  int provider_code = 0;
  int provider_subcode = 0;
  std::string detail;  // English, up to 1000 characters, never a secret
};

// One answer of a provider's API.
struct ProviderReply {
  int http_status = 0;
  absl::string_view body;
  absl::string_view retry_after;  // the Retry-After header, "" when absent
};

ProviderOutcome ClassifyGraphReply(const ProviderReply& reply, absl::Time now);
ProviderOutcome ClassifyTwilioReply(const ProviderReply& reply, absl::Time now);

// A call that got no answer (libs/http_client statuses): Unavailable is UNREACHABLE (nothing
// was sent), DeadlineExceeded is TIMEOUT (it may have been sent), anything else a provider error.
ProviderOutcome ClassifyTransportFailure(const absl::Status& status);

// A Retry-After value: delta-seconds ("120") or an HTTP-date; nullopt when absent or unreadable.
// Clamped to 0..1 hour.
std::optional<absl::Duration> ParseRetryAfter(absl::string_view value, absl::Time now);

// How long to wait when the provider gave no hint.
absl::Duration DefaultRetryAfter(v1::RetryReason reason);

// A bounded metrics label for an outcome: "accepted", "retryable_rate_limited",
// "final_window_closed", ... (the enum value name without its prefix, lower case).
std::string OutcomeLabel(const ProviderOutcome& outcome);

}  // namespace parley::ingress

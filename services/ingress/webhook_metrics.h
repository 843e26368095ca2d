// Prometheus metrics of the provider webhooks:
//   parley_webhooks_total{channel,outcome}                 webhooks answered, by outcome
//   parley_webhook_ack_seconds{channel}                    (histogram) from the request to the
//                                                          answer, session's commit included
//   parley_webhook_events_total{channel,kind}              events handed to session, by kind
//   parley_webhook_events_skipped_total{channel,reason}    events not handed over, and why
//   parley_webhook_last_received_timestamp_seconds{channel,endpoint}
//       when a signed webhook last named the page or sender: Meta disables a page whose
//       webhooks fail for an hour, so `time() - this` shows a page gone silent.
//   parley_webhook_batches_per_ingest_call                 (histogram) webhook batches carried
//                                                          by each call to session (IngestBatcher)
// Label values are bounded: outcomes, kinds and reasons are fixed lists; endpoints are only
// configured pages and senders (never ids taken from an unauthenticated body).
#pragma once

#include "absl/strings/string_view.h"
#include "parley/common/v1/common.pb.h"

namespace prometheus {
class Registry;
template <typename T>
class Family;
class Counter;
class Gauge;
class Histogram;
}  // namespace prometheus

namespace parley::ingress {

enum class WebhookOutcome {
  kAccepted,         // 2xx: every event committed by session (some may repeat earlier ones)
  kDuplicate,        // 2xx: every event had been stored before (a provider retry)
  kVerified,         // 2xx: Messenger GET handshake answered with the challenge
  kBadSignature,     // 401: signature missing or wrong (or a shared Twilio body naming no sender)
  kBadVerifyToken,   // 403: handshake with a wrong verify token or mode
  kUnknownCallback,  // 404: no page/sender has that callback key (shared Twilio route: no
                     // sender has the body's AccountSid and number)
  kUnknownPage,      // 2xx: signed, but no event for a configured page (skipped)
  kMalformed,        // 400: body not parseable
  kForbidden,        // 403: Twilio AccountSid or number not the sender's
  kUnavailable,      // 503: session or its PostgreSQL did not confirm; the provider retries
};

absl::string_view WebhookOutcomeName(WebhookOutcome outcome);

class WebhookMetrics {
 public:
  explicit WebhookMetrics(prometheus::Registry& registry);

  void Answered(common::v1::Channel channel, WebhookOutcome outcome, double seconds);
  // `kind` is one of the InboundEvent kinds ("message", "echo", ...) or "standby_<kind>".
  void EventIngested(common::v1::Channel channel, absl::string_view kind);
  // `reason`: "unknown_kind", "malformed_event", "unknown_page".
  void EventSkipped(common::v1::Channel channel, absl::string_view reason);
  // A verified webhook named this configured page or sender, now.
  void Received(common::v1::Channel channel, absl::string_view endpoint_id);
  // For IngestBatcher.
  prometheus::Histogram& BatchesPerIngestCall() { return batches_per_call_; }

 private:
  prometheus::Family<prometheus::Counter>& webhooks_;
  prometheus::Family<prometheus::Histogram>& ack_seconds_;
  prometheus::Family<prometheus::Counter>& events_;
  prometheus::Family<prometheus::Counter>& skipped_;
  prometheus::Family<prometheus::Gauge>& last_received_;
  prometheus::Histogram& batches_per_call_;
};

// "messenger" / "whatsapp".
absl::string_view ChannelLabel(common::v1::Channel channel);

}  // namespace parley::ingress

#include "services/ingress/webhook_metrics.h"

#include <string>

#include "absl/time/clock.h"
#include "prometheus/counter.h"
#include "prometheus/gauge.h"
#include "prometheus/histogram.h"
#include "prometheus/registry.h"

namespace parley::ingress {
namespace {

// Meta wants an answer within 5 s; the buckets are dense below that.
const prometheus::Histogram::BucketBoundaries& AckBuckets() {
  static const auto* buckets = new prometheus::Histogram::BucketBoundaries{
      0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2, 3, 4, 5, 10, 30};
  return *buckets;
}

}  // namespace

absl::string_view WebhookOutcomeName(WebhookOutcome outcome) {
  switch (outcome) {
    case WebhookOutcome::kAccepted:
      return "accepted";
    case WebhookOutcome::kDuplicate:
      return "duplicate";
    case WebhookOutcome::kVerified:
      return "verified";
    case WebhookOutcome::kBadSignature:
      return "bad_signature";
    case WebhookOutcome::kBadVerifyToken:
      return "bad_verify_token";
    case WebhookOutcome::kUnknownCallback:
      return "unknown_callback";
    case WebhookOutcome::kUnknownPage:
      return "unknown_page";
    case WebhookOutcome::kMalformed:
      return "malformed";
    case WebhookOutcome::kForbidden:
      return "forbidden";
    case WebhookOutcome::kUnavailable:
      return "unavailable";
  }
  return "unknown";
}

absl::string_view ChannelLabel(common::v1::Channel channel) {
  switch (channel) {
    case common::v1::CHANNEL_MESSENGER:
      return "messenger";
    case common::v1::CHANNEL_WHATSAPP:
      return "whatsapp";
    default:
      return "unspecified";
  }
}

WebhookMetrics::WebhookMetrics(prometheus::Registry& registry)
    : webhooks_(prometheus::BuildCounter()
                    .Name("parley_webhooks_total")
                    .Help("Provider webhooks answered, by channel and outcome.")
                    .Register(registry)),
      ack_seconds_(prometheus::BuildHistogram()
                       .Name("parley_webhook_ack_seconds")
                       .Help("Time from a webhook's request to its answer, including session's "
                             "commit of its events.")
                       .Register(registry)),
      events_(prometheus::BuildCounter()
                  .Name("parley_webhook_events_total")
                  .Help("Inbound events handed to session, by channel and kind.")
                  .Register(registry)),
      skipped_(prometheus::BuildCounter()
                   .Name("parley_webhook_events_skipped_total")
                   .Help("Inbound events not handed to session, by channel and reason.")
                   .Register(registry)),
      last_received_(prometheus::BuildGauge()
                         .Name("parley_webhook_last_received_timestamp_seconds")
                         .Help("Unix time a signed webhook last named the page or sender.")
                         .Register(registry)),
      batches_per_call_(
          prometheus::BuildHistogram()
              .Name("parley_webhook_batches_per_ingest_call")
              .Help("Webhook batches carried by each call to session's Ingest "
                    "(webhooks waiting at the same moment share a call).")
              .Register(registry)
              .Add({}, prometheus::Histogram::BucketBoundaries{1, 2, 4, 8, 16, 32, 64, 128})) {}

void WebhookMetrics::Answered(common::v1::Channel channel, WebhookOutcome outcome, double seconds) {
  const std::string label(ChannelLabel(channel));
  webhooks_.Add({{"channel", label}, {"outcome", std::string(WebhookOutcomeName(outcome))}})
      .Increment();
  ack_seconds_.Add({{"channel", label}}, AckBuckets()).Observe(seconds);
}

void WebhookMetrics::EventIngested(common::v1::Channel channel, absl::string_view kind) {
  events_.Add({{"channel", std::string(ChannelLabel(channel))}, {"kind", std::string(kind)}})
      .Increment();
}

void WebhookMetrics::EventSkipped(common::v1::Channel channel, absl::string_view reason) {
  skipped_.Add({{"channel", std::string(ChannelLabel(channel))}, {"reason", std::string(reason)}})
      .Increment();
}

void WebhookMetrics::Received(common::v1::Channel channel, absl::string_view endpoint_id) {
  last_received_
      .Add(
          {{"channel", std::string(ChannelLabel(channel))}, {"endpoint", std::string(endpoint_id)}})
      .Set(absl::ToDoubleSeconds(absl::Now() - absl::UnixEpoch()));
}

}  // namespace parley::ingress

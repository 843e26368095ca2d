// The logic of ProviderGatewayService (provider_gateway_service.h holds the gRPC shell):
// SendMessage checks the request and the channel's limits, finds the page or sender and its
// credentials in the ChannelDirectory, and sends each part as one provider message, in order
// (the text with its quick replies and reply_to, then one message per attachment), skipping
// parts an earlier attempt already got accepted (SentParts). It stops at the first part that
// fails and reports the whole message's outcome. FetchInboundMedia downloads a customer's file
// with the endpoint's credentials and hands the bytes to the attachments store.
//
// Settings (flags / PARLEY_* variables):
//   graph_api_base_url    https://graph.facebook.com   (the simulator in ./dev up)
//   graph_api_version     v21.0
//   twilio_api_base_url   https://api.twilio.com
//   provider_timeout      20s     one provider call, connect included
//   outbound_threads      8       threads making provider calls (each call holds one thread
//                                 for up to provider_timeout; apart from the admin API's)
//   media_extra_origins   ""      comma-separated origins allowed for media besides the
//                                 providers' hosts, e.g. http://127.0.0.1:8090
// Metrics:
//   parley_ingress_outbound_sends_total{channel,result}   one per provider call; result is
//       accepted, retryable_<reason> or final_<reason> (provider_errors.h OutcomeLabel)
//   parley_ingress_outbound_send_seconds{channel}          histogram of provider calls
//   parley_ingress_media_fetches_total{channel,result}     ok, gone, unavailable, invalid
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "libs/common/config.h"
#include "libs/http_client/http_client.h"
#include "parley/ingress/v1/ingress.pb.h"
#include "services/ingress/channel_directory.h"
#include "services/ingress/graph_sender.h"
#include "services/ingress/media_fetcher.h"
#include "services/ingress/sent_parts.h"
#include "services/ingress/twilio_sender.h"

namespace prometheus {
class Registry;
class Counter;
class Histogram;
template <typename T>
class Family;
}  // namespace prometheus

namespace parley::ingress {

struct OutboundOptions {
  int threads = 8;
  GraphOptions graph;
  TwilioOptions twilio;
  MediaFetchOptions media;
};

std::vector<Setting> OutboundSettings();
// InvalidArgument naming the setting.
absl::StatusOr<OutboundOptions> ReadOutboundOptions(const Config& config);

// An agent's stored file as the provider will fetch it. The attachments service owns the files;
// its client implements this (not written yet: see docs/adr/0010).
class OutboundFiles {
 public:
  virtual ~OutboundFiles() = default;
  struct File {
    common::v1::AttachmentKind kind = common::v1::ATTACHMENT_KIND_UNSPECIFIED;
    std::string url;  // a URL the provider can fetch (short-lived, signed)
  };
  // NOT_FOUND for an unknown id, FAILED_PRECONDITION for a policy violation (the message starts
  // with the violation name), UNAVAILABLE when the attachments service does not answer.
  virtual absl::StatusOr<File> Resolve(const common::v1::EndpointRef& endpoint,
                                       const std::string& attachment_id) = 0;
};

// Stores a fetched customer file under the endpoint's policy (attachments service).
class InboundMediaStore {
 public:
  virtual ~InboundMediaStore() = default;
  // The attachment as session records it (STORED or BLOCKED); UNAVAILABLE when the store does
  // not answer.
  virtual absl::StatusOr<common::v1::Attachment> Store(const v1::FetchInboundMediaRequest& request,
                                                       FetchedMedia media) = 0;
};

class OutboundMetrics {
 public:
  explicit OutboundMetrics(prometheus::Registry& registry);
  void RecordSend(common::v1::Channel channel, const ProviderOutcome& outcome, double seconds);
  void RecordFetch(common::v1::Channel channel, const absl::Status& status);

 private:
  prometheus::Family<prometheus::Counter>* sends_;
  prometheus::Family<prometheus::Histogram>* send_seconds_;
  prometheus::Family<prometheus::Counter>* fetches_;
};

struct GatewayDeps {
  std::shared_ptr<ChannelDirectory> directory;
  http_client::Client* http = nullptr;
  SentParts* sent_parts = nullptr;           // required
  OutboundFiles* files = nullptr;            // null: attachment parts are UNAVAILABLE
  InboundMediaStore* media_store = nullptr;  // null: FetchInboundMedia is UNAVAILABLE
  OutboundMetrics* metrics = nullptr;        // optional
  std::string public_base_url;               // for Twilio StatusCallback URIs
};

class ProviderGateway {
 public:
  ProviderGateway(GatewayDeps deps, OutboundOptions options);

  absl::StatusOr<v1::SendMessageResponse> SendMessage(const v1::SendMessageRequest& request);
  absl::StatusOr<v1::FetchInboundMediaResponse> FetchInboundMedia(
      const v1::FetchInboundMediaRequest& request);

 private:
  // One provider message per part that is still to be sent.
  struct Part {
    int index;
    std::string text;
    OutboundFiles::File file;
  };
  absl::StatusOr<std::vector<Part>> ResolveParts(const v1::SendMessageRequest& request,
                                                 const std::map<int, AcceptedPart>& done,
                                                 bool attachments_enabled);
  ProviderOutcome SendPart(const v1::SendMessageRequest& request, const Part& part,
                           bool first_message, const MessengerPage* page, const MessengerApp* app,
                           const WhatsAppSender* sender);

  GatewayDeps deps_;
  OutboundOptions options_;
  GraphSender graph_;
  TwilioSender twilio_;
};

}  // namespace parley::ingress

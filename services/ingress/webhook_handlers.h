// The providers' webhook endpoints on ingress's HTTP server:
//   GET  /webhooks/messenger/<key>          Meta's verification handshake (200 + hub.challenge
//                                           when hub.verify_token is the page's, else 403)
//   POST /webhooks/messenger/<key>          Messenger events of every page of the application
//   POST /webhooks/twilio/<key>             Twilio WhatsApp inbound message
//   POST /webhooks/twilio/<key>/status      Twilio status callback of an outbound message
//   POST <twilio_shared_webhook_path>       either of the two Twilio webhooks, of any sender
// <key> identifies the Facebook application (its App Secret checks X-Hub-Signature-256) or the
// Twilio sender (its Auth Token checks X-Twilio-Signature over public_base_url + path + query);
// the body is never trusted for that. Events are turned into session InboundEvents and handed
// to session's IngestService as one batch per request; the provider gets 2xx only once session
// confirms the batch is committed (a batch of repeats included), 503 when session or its
// PostgreSQL cannot confirm so that the provider retries, 401 for a missing or wrong
// signature, 404 for an unknown key, 400 for a body that cannot be parsed. Messenger entries of
// pages that are not configured under the application, and event kinds Parley does not know,
// are counted and skipped while the rest of the batch is stored. (413 for an oversized body
// comes from the HTTP server before any handler runs.)
//
// The shared Twilio path is one URL for every sender, as Twilio deployments often configure it
// (docs/adr/0012): a request with MessageStatus is a status callback, else an inbound message.
// The body's AccountSid and sender number (To of an inbound message, From of a status callback)
// only pick the sender, whose Auth Token must then verify X-Twilio-Signature over
// public_base_url + shared path + query. 404 when no sender has that number under that
// account, 401 when the body names no account or number.
#pragma once

#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "libs/common/config.h"
#include "libs/http/message.h"
#include "libs/http/router.h"
#include "parley/session/v1/session.grpc.pb.h"
#include "services/ingress/channel_directory.h"
#include "services/ingress/ingest_batcher.h"
#include "services/ingress/twilio_parser.h"
#include "services/ingress/webhook_metrics.h"

namespace parley::ingress {

struct WebhookOptions {
  // As Twilio calls us, without a trailing slash ("https://parley.example.com"): X-Twilio-
  // Signature covers this + the request path + "?" + query.
  std::string public_base_url;
  // The path of the Twilio webhook shared by every sender (setting twilio_shared_webhook_path).
  std::string twilio_shared_path = "/webhooks/twilio";
  // How long a batch may take to be committed, waiting for a call included; Meta wants an
  // answer within 5 s.
  absl::Duration ingest_deadline = absl::Seconds(4);
  // Calls to session's Ingest out at once; webhooks arriving meanwhile share the next call.
  int ingest_calls_in_flight = 2;
};

struct WebhookDeps {
  std::shared_ptr<const ChannelDirectory> directory;
  // Whether the directory has loaded the configuration at least once; before, every key would
  // look unknown, so webhooks get 503 (the provider retries) rather than 404.
  std::function<bool()> directory_loaded;
  std::shared_ptr<session::v1::IngestService::StubInterface> ingest;
  std::shared_ptr<WebhookMetrics> metrics;
};

class WebhookHandlers {
 public:
  // What a handler decided: HTTP status, the metrics outcome and the body.
  struct Result;

  WebhookHandlers(WebhookDeps deps, WebhookOptions options);

  http::Response MessengerVerify(const http::Request& request) const;
  http::Response MessengerEvents(const http::Request& request) const;
  http::Response TwilioWebhook(const http::Request& request) const;
  http::Response TwilioSharedWebhook(const http::Request& request) const;

  const std::string& twilio_shared_path() const { return options_.twilio_shared_path; }

 private:
  Result DoMessengerVerify(const http::Request& request) const;
  Result DoMessengerEvents(const http::Request& request) const;
  Result DoTwilio(const http::Request& request) const;
  Result DoTwilioShared(const http::Request& request) const;
  // Whether X-Twilio-Signature signs `request` (whose form is `params`) under `sender`'s token.
  bool TwilioSigned(const http::Request& request, const WhatsAppSender& sender,
                    const std::vector<FormParam>& params) const;
  // A verified Twilio request of `sender`, parsed and handed to session.
  Result IngestTwilio(const http::Request& request, const WhatsAppSender& sender, TwilioHook hook,
                      const std::vector<FormParam>& params) const;
  Result Ingest(session::v1::IngestRequest& batch) const;
  http::Response Finish(common::v1::Channel channel, absl::Time start, Result result) const;

  WebhookDeps deps_;
  WebhookOptions options_;
  std::unique_ptr<IngestBatcher> batcher_;
};

// The settings of the webhooks: session_address (session's gRPC host:port),
// session_ingest_timeout (the deadline of each Ingest call), session_ingest_calls (calls
// out at once) and twilio_shared_webhook_path.
std::vector<Setting> WebhookSettings();

// Handlers configured from those settings, talking to session over a new gRPC channel, with
// their metrics registered in `registry` (which must outlive them). InvalidArgument names a
// wrong setting.
absl::StatusOr<std::shared_ptr<WebhookHandlers>> NewWebhookHandlers(
    const Config& config, prometheus::Registry& registry,
    std::shared_ptr<const ChannelDirectory> directory, std::function<bool()> directory_loaded,
    std::string public_base_url);

// Registers the routes above (as prefix routes "/webhooks/messenger/*" and "/webhooks/twilio/*",
// and the shared Twilio path) on `router`; `handlers` must outlive the server.
void AddWebhookRoutes(http::Router& router, std::shared_ptr<const WebhookHandlers> handlers);

// The metrics label of an event's kind: "message", "echo", ..., "standby_message".
std::string EventKindLabel(const session::v1::InboundEvent& event);

}  // namespace parley::ingress

// Twilio Messaging webhooks for a WhatsApp sender (application/x-www-form-urlencoded, already
// decoded) turned into one session InboundEvent: an inbound message (text, media, location,
// button replies, quoted replies, Click-to-WhatsApp referrals, the sender's profile), or a
// status callback of an outbound message (MessageStatus and ErrorCode mapped onto Parley's
// delivery status and failure reason).
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "parley/common/v1/common.pb.h"
#include "parley/session/v1/session.pb.h"
#include "services/ingress/messenger_parser.h"
#include "services/ingress/webhook_signatures.h"

namespace parley::ingress {

enum class TwilioHook {
  kInbound,  // "A message comes in" (/webhooks/twilio/<key>, or the shared path)
  kStatus,   // StatusCallback of a send (/webhooks/twilio/<key>/status, or the shared path)
};

// Which hook a request on a URL shared by both is: a status callback carries MessageStatus
// (Twilio adds it, and ErrorCode, to the message's properties); an inbound message never does
// (its own state is SmsStatus=received).
TwilioHook TwilioHookOf(const std::vector<FormParam>& params);

struct TwilioParse {
  // Set unless the request is one Parley skips (e.g. a MessageStatus it does not know).
  std::optional<session::v1::InboundEvent> event;
  std::optional<SkippedEvent> skipped;
};

// `sender_number` is the configured sender (E.164 with "+"), the event's endpoint; `raw_body`
// is kept as the event's raw_event. InvalidArgument (naming the parameter) when the request
// lacks what its kind needs: MessageSid (or SmsSid), the customer's address, a valid
// NumMedia, a numeric ErrorCode, ...
absl::StatusOr<TwilioParse> ParseTwilioWebhook(TwilioHook hook,
                                               const std::vector<FormParam>& params,
                                               absl::string_view raw_body,
                                               absl::string_view sender_number);

// "whatsapp:+31612345678" -> "+31612345678"; anything else unchanged.
std::string StripWhatsAppPrefix(absl::string_view address);

// Twilio MessageStatus -> DeliveryStatus; nullopt for a status Parley does not track.
std::optional<common::v1::DeliveryStatus> MapTwilioStatus(absl::string_view message_status);

// Twilio ErrorCode -> the agent-facing DeliveryError (63016 is WINDOW_CLOSED).
common::v1::DeliveryError MapTwilioError(int code, absl::string_view message);

}  // namespace parley::ingress

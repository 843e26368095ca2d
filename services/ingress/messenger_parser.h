// Messenger webhook bodies (`object: "page"`) parsed with simdjson into session's
// channel-neutral InboundEvents: one per `messaging[]` or `standby[]` event of every entry, in
// body order. Ids stay strings (numbers such as `app_id` and `sticker_id` are written in
// decimal); a null or missing payload never fails the body. Events of a kind Parley does not
// know, and events too broken to use (no sender, no mid on a message, a watermark that is not
// a number), are skipped and reported, never fatal.
#pragma once

#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "parley/session/v1/session.pb.h"

namespace parley::ingress {

enum class SkipReason {
  kUnknownKind,     // an event kind (or `object`) Parley does not handle
  kMalformedEvent,  // a known kind without the fields it needs
};

// Label value for metrics: "unknown_kind", "malformed_event".
absl::string_view SkipReasonName(SkipReason reason);

struct SkippedEvent {
  std::string page_id;  // as far as known; "" when not
  SkipReason reason;
  std::string detail;  // e.g. "messaging[0]: kind 'game_play'"
};

struct MessengerBatch {
  // endpoint = {MESSENGER, page id} (`entry.id`, else the event's page side); customer =
  // {same endpoint, PSID}; dedup keys as session.proto prescribes.
  std::vector<session::v1::InboundEvent> events;
  std::vector<SkippedEvent> skipped;
};

// InvalidArgument when the body is not JSON (or not UTF-8), is not an object, or has no
// `entry` array.
absl::StatusOr<MessengerBatch> ParseMessengerWebhook(absl::string_view body);

// What the agent sees for content Parley cannot show.
inline constexpr absl::string_view kUnsupportedDisplayText =
    "Error: Customer sent an unsupported message type";

}  // namespace parley::ingress

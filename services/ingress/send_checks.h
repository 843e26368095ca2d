// The checks ProviderGatewayService.SendMessage makes before it looks anything up or calls a
// provider, with the INVALID_ARGUMENT messages the contract gives (ingress.proto): the
// channels' limits (Messenger text 2000 characters, WhatsApp body 1600; up to 13 quick replies
// with 1..20-character titles, Messenger only; up to 10 attachments), the parts that can go
// out (text and attachment), and the messaging type. "Characters" are Unicode code points.
#pragma once

#include <cstddef>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"
#include "parley/ingress/v1/ingress.pb.h"

namespace parley::ingress {

inline constexpr size_t kMessengerTextLimit = 2000;
inline constexpr size_t kWhatsAppBodyLimit = 1600;
inline constexpr int kMaxQuickReplies = 13;
inline constexpr size_t kQuickReplyTitleLimit = 20;
inline constexpr size_t kQuickReplyPayloadLimit = 1000;
inline constexpr int kMaxAttachments = 10;

// Code points in UTF-8 `text` (protobuf strings are valid UTF-8).
size_t CountCharacters(absl::string_view text);

// Whether `id` is a lower-case UUID string (36 characters).
bool IsUuid(absl::string_view id);

absl::Status CheckSendRequest(const v1::SendMessageRequest& request);

}  // namespace parley::ingress

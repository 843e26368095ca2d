#include "services/ingress/send_checks.h"

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"

namespace parley::ingress {
namespace {

namespace cv1 = common::v1;

const char* ChannelName(cv1::Channel channel) {
  return channel == cv1::CHANNEL_WHATSAPP ? "WhatsApp" : "Messenger";
}

absl::Status CheckPart(const cv1::ContentPart& part, int index, cv1::Channel channel) {
  std::string field = absl::StrCat("content.parts[", index, "]");
  switch (part.part_case()) {
    case cv1::ContentPart::kText: {
      size_t chars = CountCharacters(part.text());
      size_t limit = channel == cv1::CHANNEL_WHATSAPP ? kWhatsAppBodyLimit : kMessengerTextLimit;
      if (chars == 0) return absl::InvalidArgumentError(absl::StrCat(field, ".text: empty"));
      if (chars > limit) {
        return absl::InvalidArgumentError(absl::StrCat(field, ".text: ", chars, " characters, ",
                                                       ChannelName(channel), " allows ", limit));
      }
      return absl::OkStatus();
    }
    case cv1::ContentPart::kAttachment:
      if (part.attachment().attachment_id().empty()) {
        return absl::InvalidArgumentError(
            absl::StrCat(field, ".attachment.attachment_id: required for an outbound attachment"));
      }
      if (!IsUuid(part.attachment().attachment_id())) {
        return absl::InvalidArgumentError(
            absl::StrCat(field, ".attachment.attachment_id: not a UUID"));
      }
      return absl::OkStatus();
    case cv1::ContentPart::PART_NOT_SET:
      return absl::InvalidArgumentError(absl::StrCat(field, ": empty part"));
    default:
      return absl::InvalidArgumentError(
          absl::StrCat(field, ": inbound-only part; only text and attachment can be sent"));
  }
}

absl::Status CheckQuickReplies(const v1::SendMessageRequest& req, bool has_text) {
  const auto& replies = req.content().quick_replies();
  if (replies.empty()) return absl::OkStatus();
  if (req.endpoint().channel() == cv1::CHANNEL_WHATSAPP) {
    return absl::InvalidArgumentError(
        "content.quick_replies: not supported on WhatsApp (Twilio needs approved templates)");
  }
  if (replies.size() > kMaxQuickReplies) {
    return absl::InvalidArgumentError(absl::StrCat("content.quick_replies: ", replies.size(),
                                                   " given, Messenger allows ", kMaxQuickReplies));
  }
  if (!has_text) {
    return absl::InvalidArgumentError("content.quick_replies: need a text part to travel with");
  }
  for (int i = 0; i < replies.size(); ++i) {
    std::string field = absl::StrCat("content.quick_replies[", i, "]");
    size_t title = CountCharacters(replies[i].title());
    if (title == 0 || title > kQuickReplyTitleLimit) {
      return absl::InvalidArgumentError(absl::StrCat(
          field, ".title: ", title, " characters, must be 1..", kQuickReplyTitleLimit));
    }
    size_t payload = CountCharacters(replies[i].payload());
    if (payload == 0 || payload > kQuickReplyPayloadLimit) {
      return absl::InvalidArgumentError(absl::StrCat(
          field, ".payload: ", payload, " characters, must be 1..", kQuickReplyPayloadLimit));
    }
  }
  return absl::OkStatus();
}

}  // namespace

size_t CountCharacters(absl::string_view text) {
  size_t n = 0;
  for (unsigned char c : text) {
    if ((c & 0xC0) != 0x80) ++n;
  }
  return n;
}

bool IsUuid(absl::string_view id) {
  if (id.size() != 36) return false;
  for (size_t i = 0; i < id.size(); ++i) {
    if (i == 8 || i == 13 || i == 18 || i == 23) {
      if (id[i] != '-') return false;
    } else if (!absl::ascii_isxdigit(id[i]) || absl::ascii_isupper(id[i])) {
      return false;
    }
  }
  return true;
}

absl::Status CheckSendRequest(const v1::SendMessageRequest& req) {
  if (!IsUuid(req.outbound_message_id())) {
    return absl::InvalidArgumentError("outbound_message_id: not a UUID");
  }
  cv1::Channel channel = req.endpoint().channel();
  if (channel != cv1::CHANNEL_MESSENGER && channel != cv1::CHANNEL_WHATSAPP) {
    return absl::InvalidArgumentError("endpoint.channel: required");
  }
  if (req.endpoint().id().empty()) return absl::InvalidArgumentError("endpoint.id: required");
  if (req.recipient_user_id().empty()) {
    return absl::InvalidArgumentError("recipient_user_id: required");
  }
  switch (req.messaging_type()) {
    case v1::MESSAGING_TYPE_RESPONSE:
      break;
    case v1::MESSAGING_TYPE_HUMAN_AGENT:
      if (channel == cv1::CHANNEL_WHATSAPP) {
        return absl::InvalidArgumentError("messaging_type: HUMAN_AGENT is Messenger only");
      }
      if (req.sender_kind() != cv1::SENDER_KIND_AGENT) {
        return absl::InvalidArgumentError(
            "messaging_type: HUMAN_AGENT requires sender_kind AGENT (a human agent)");
      }
      break;
    default:
      return absl::InvalidArgumentError("messaging_type: required (RESPONSE or HUMAN_AGENT)");
  }
  const auto& parts = req.content().parts();
  if (parts.empty()) return absl::InvalidArgumentError("content.parts: no parts");
  bool has_text = false;
  int attachments = 0;
  for (int i = 0; i < parts.size(); ++i) {
    if (absl::Status s = CheckPart(parts[i], i, channel); !s.ok()) return s;
    has_text |= parts[i].has_text();
    attachments += parts[i].has_attachment() ? 1 : 0;
  }
  if (attachments > kMaxAttachments) {
    return absl::InvalidArgumentError(
        absl::StrCat("content.parts: ", attachments, " attachments, at most ", kMaxAttachments));
  }
  return CheckQuickReplies(req, has_text);
}

}  // namespace parley::ingress

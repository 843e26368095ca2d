// The checks SendMessage makes before calling out: one failing field at a time.
#include "services/ingress/send_checks.h"

#include "gtest/gtest.h"

namespace parley::ingress {
namespace {

namespace cv1 = common::v1;

v1::SendMessageRequest Valid(cv1::Channel channel) {
  v1::SendMessageRequest r;
  r.set_outbound_message_id("0b7f6a3e-1c2d-4e5f-8a9b-0c1d2e3f4a5b");
  r.mutable_endpoint()->set_channel(channel);
  r.mutable_endpoint()->set_id(channel == cv1::CHANNEL_MESSENGER ? "1895382890692545"
                                                                 : "+14155238886");
  r.set_recipient_user_id("1412611362105802");
  r.mutable_content()->add_parts()->set_text("hello");
  r.set_messaging_type(v1::MESSAGING_TYPE_RESPONSE);
  r.set_sender_kind(cv1::SENDER_KIND_AGENT);
  return r;
}

std::string Error(const v1::SendMessageRequest& r) {
  absl::Status s = CheckSendRequest(r);
  if (s.ok()) return "OK";
  EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument);
  return std::string(s.message());
}

TEST(SendChecksTest, ValidRequestsPass) {
  EXPECT_EQ(Error(Valid(cv1::CHANNEL_MESSENGER)), "OK");
  EXPECT_EQ(Error(Valid(cv1::CHANNEL_WHATSAPP)), "OK");
}

TEST(SendChecksTest, TextLimitsPerChannelInCharacters) {
  auto m = Valid(cv1::CHANNEL_MESSENGER);
  std::string text;
  for (int i = 0; i < 2000; ++i) text += "ä";  // 2000 characters, 4000 bytes
  m.mutable_content()->mutable_parts(0)->set_text(text);
  EXPECT_EQ(Error(m), "OK");
  m.mutable_content()->mutable_parts(0)->set_text(text + "x");
  EXPECT_EQ(Error(m), "content.parts[0].text: 2001 characters, Messenger allows 2000");
  auto w = Valid(cv1::CHANNEL_WHATSAPP);
  w.mutable_content()->mutable_parts(0)->set_text(std::string(1600, 'a'));
  EXPECT_EQ(Error(w), "OK");
  w.mutable_content()->mutable_parts(0)->set_text(std::string(1601, 'a'));
  EXPECT_EQ(Error(w), "content.parts[0].text: 1601 characters, WhatsApp allows 1600");
}

TEST(SendChecksTest, RequiredFields) {
  auto r = Valid(cv1::CHANNEL_MESSENGER);
  r.set_outbound_message_id("not-a-uuid");
  EXPECT_EQ(Error(r), "outbound_message_id: not a UUID");
  r = Valid(cv1::CHANNEL_MESSENGER);
  r.set_recipient_user_id("");
  EXPECT_EQ(Error(r), "recipient_user_id: required");
  r = Valid(cv1::CHANNEL_MESSENGER);
  r.mutable_content()->clear_parts();
  EXPECT_EQ(Error(r), "content.parts: no parts");
  r = Valid(cv1::CHANNEL_MESSENGER);
  r.set_messaging_type(v1::MESSAGING_TYPE_UNSPECIFIED);
  EXPECT_EQ(Error(r), "messaging_type: required (RESPONSE or HUMAN_AGENT)");
  r = Valid(cv1::CHANNEL_MESSENGER);
  r.mutable_endpoint()->set_channel(cv1::CHANNEL_UNSPECIFIED);
  EXPECT_EQ(Error(r), "endpoint.channel: required");
}

TEST(SendChecksTest, PartsThatCannotGoOut) {
  auto r = Valid(cv1::CHANNEL_MESSENGER);
  r.mutable_content()->add_parts()->mutable_sticker()->set_sticker_id("369239263222822");
  EXPECT_EQ(Error(r), "content.parts[1]: inbound-only part; only text and attachment can be sent");
  r = Valid(cv1::CHANNEL_MESSENGER);
  r.mutable_content()->add_parts()->mutable_attachment()->set_kind(cv1::ATTACHMENT_KIND_IMAGE);
  EXPECT_EQ(Error(r),
            "content.parts[1].attachment.attachment_id: required for an outbound attachment");
}

TEST(SendChecksTest, HumanAgentTag) {
  auto r = Valid(cv1::CHANNEL_MESSENGER);
  r.set_messaging_type(v1::MESSAGING_TYPE_HUMAN_AGENT);
  EXPECT_EQ(Error(r), "OK");
  r.set_sender_kind(cv1::SENDER_KIND_BOT);
  EXPECT_EQ(Error(r), "messaging_type: HUMAN_AGENT requires sender_kind AGENT (a human agent)");
  auto w = Valid(cv1::CHANNEL_WHATSAPP);
  w.set_messaging_type(v1::MESSAGING_TYPE_HUMAN_AGENT);
  EXPECT_EQ(Error(w), "messaging_type: HUMAN_AGENT is Messenger only");
}

TEST(SendChecksTest, QuickReplies) {
  auto r = Valid(cv1::CHANNEL_MESSENGER);
  for (int i = 0; i < 13; ++i) {
    auto* q = r.mutable_content()->add_quick_replies();
    q->set_title("Red");
    q->set_payload("RED");
  }
  EXPECT_EQ(Error(r), "OK");
  r.mutable_content()->add_quick_replies()->set_title("x");
  EXPECT_EQ(Error(r), "content.quick_replies: 14 given, Messenger allows 13");
  r = Valid(cv1::CHANNEL_MESSENGER);
  auto* q = r.mutable_content()->add_quick_replies();
  q->set_title(std::string(21, 'a'));
  q->set_payload("P");
  EXPECT_EQ(Error(r), "content.quick_replies[0].title: 21 characters, must be 1..20");
  auto w = Valid(cv1::CHANNEL_WHATSAPP);
  w.mutable_content()->add_quick_replies()->set_title("Yes");
  EXPECT_EQ(Error(w),
            "content.quick_replies: not supported on WhatsApp (Twilio needs approved templates)");
}

}  // namespace
}  // namespace parley::ingress

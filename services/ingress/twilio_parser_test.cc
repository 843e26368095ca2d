// The Twilio form decoder and parser against every fixture of
// tests/fixtures/providers/twilio_whatsapp and its decoded fields in expected_extractions.json.
#include "services/ingress/twilio_parser.h"

#include <fstream>
#include <map>
#include <sstream>
#include <string>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"
#include "services/ingress/form_encoding.h"
#include "simdjson.h"

namespace parley::ingress {
namespace {

namespace common = parley::common::v1;

std::string ReadFixture(const std::string& relative) {
  std::ifstream in(absl::StrCat(PARLEY_PROVIDER_FIXTURES, "/", relative), std::ios::binary);
  EXPECT_TRUE(in.good()) << relative;
  std::stringstream buffer;
  buffer << in.rdbuf();
  return buffer.str();
}

std::vector<FormParam> Form(const std::string& file) {
  auto params = DecodeForm(ReadFixture("twilio_whatsapp/" + file));
  EXPECT_TRUE(params.ok()) << file << ": " << params.status();
  return params.ok() ? *params : std::vector<FormParam>{};
}

TEST(TwilioFixtures, EveryFormDecodesToItsExpectedFields) {
  const std::string text = ReadFixture("expected_extractions.json");
  simdjson::dom::parser parser;
  simdjson::dom::object forms;
  ASSERT_EQ(parser.parse(text)["twilio_whatsapp"].get(forms), simdjson::SUCCESS);
  int files = 0;
  for (auto field : forms) {
    const std::string file(field.key);
    const std::vector<FormParam> params = Form(file);
    std::map<std::string, std::string> got(params.begin(), params.end());
    std::map<std::string, std::string> want;
    for (auto kv : field.value.get_object()) {
      want[std::string(kv.key)] = std::string(kv.value.get_string().value());
    }
    EXPECT_EQ(got, want) << file;
    EXPECT_EQ(params.size(), want.size()) << file << ": no repeated names expected";
    ++files;
  }
  EXPECT_EQ(files, 16);
}

// On a URL shared by both hooks: every status_*.form is a status callback, every other form
// (not_from_twilio.form included) an inbound message.
TEST(TwilioFixtures, EveryFormTellsItsHookApart) {
  const std::string text = ReadFixture("expected_extractions.json");
  simdjson::dom::parser parser;
  simdjson::dom::object forms;
  ASSERT_EQ(parser.parse(text)["twilio_whatsapp"].get(forms), simdjson::SUCCESS);
  int statuses = 0;
  for (auto field : forms) {
    const std::string file(field.key);
    const bool status = absl::StartsWith(file, "status_");
    statuses += status ? 1 : 0;
    EXPECT_EQ(TwilioHookOf(Form(file)), status ? TwilioHook::kStatus : TwilioHook::kInbound)
        << file;
  }
  EXPECT_EQ(statuses, 5);
  EXPECT_EQ(TwilioHookOf({{"SmsStatus", "received"}, {"Body", "hi"}}), TwilioHook::kInbound);
  EXPECT_EQ(TwilioHookOf({{"SmsStatus", "sent"}, {"MessageStatus", "sent"}}), TwilioHook::kStatus);
}

absl::StatusOr<TwilioParse> Parse(const std::string& file, const std::string& sender) {
  const TwilioHook hook =
      absl::StartsWith(file, "status_") ? TwilioHook::kStatus : TwilioHook::kInbound;
  return ParseTwilioWebhook(hook, Form(file), ReadFixture("twilio_whatsapp/" + file), sender);
}

TEST(TwilioParser, InboundText) {
  auto p = Parse("inbound_text.form", "+14123456789");
  ASSERT_TRUE(p.ok()) << p.status();
  const auto& e = *p->event;
  EXPECT_EQ(e.dedup_key(), "msg:SM892512e202b34d4109b10a3893fa9640");
  EXPECT_EQ(e.endpoint().channel(), common::CHANNEL_WHATSAPP);
  EXPECT_EQ(e.endpoint().id(), "+14123456789");
  EXPECT_EQ(e.customer().user_id(), "+31612345678");
  EXPECT_EQ(e.message().provider_message_id(), "SM892512e202b34d4109b10a3893fa9640");
  ASSERT_EQ(e.message().content().parts_size(), 1);
  EXPECT_EQ(e.message().content().parts(0).text(), "test");
  EXPECT_EQ(e.raw_event(), ReadFixture("twilio_whatsapp/inbound_text.form"));
  EXPECT_FALSE(e.has_provider_time());
}

TEST(TwilioParser, InboundMediaWithEmptyBody) {
  auto p = Parse("inbound_media.form", "+14123456789");
  ASSERT_TRUE(p.ok()) << p.status();
  const auto& c = p->event->message().content();
  ASSERT_EQ(c.parts_size(), 1);
  EXPECT_EQ(c.parts(0).attachment().kind(), common::ATTACHMENT_KIND_IMAGE);
  EXPECT_EQ(c.parts(0).attachment().mime_type(), "image/jpeg");
  EXPECT_TRUE(absl::StartsWith(c.parts(0).attachment().provider_url(),
                               "https://api.twilio.com/2010-04-01/Accounts/"));
  EXPECT_EQ(c.parts(0).attachment().state(), common::ATTACHMENT_STATE_PENDING);
}

TEST(TwilioParser, InboundMultipleMediaAfterText) {
  auto p = Parse("inbound_media_multiple.form", "+14123456789");
  ASSERT_TRUE(p.ok()) << p.status();
  const auto& c = p->event->message().content();
  ASSERT_EQ(c.parts_size(), 3);
  EXPECT_EQ(c.parts(0).text(), "testing multiple media");
  EXPECT_EQ(c.parts(1).attachment().provider_url(), "https://chatwoot-assets.local/sample.png");
  EXPECT_EQ(c.parts(2).attachment().mime_type(), "image/jpeg");
  EXPECT_EQ(p->event->customer().user_id(), "+12345");
  EXPECT_EQ(p->event->dedup_key(), "msg:SMxx");  // SmsSid when MessageSid is absent
}

TEST(TwilioParser, Locations) {
  auto p = Parse("inbound_location.form", "+14123456789");
  ASSERT_TRUE(p.ok()) << p.status();
  const auto& loc = p->event->message().content().parts(0).location();
  EXPECT_DOUBLE_EQ(loc.latitude(), 52.303897857666016);
  EXPECT_DOUBLE_EQ(loc.longitude(), 4.750025749206543);
  EXPECT_EQ(loc.label(), "Microsoft");
  EXPECT_EQ(loc.address(), "Evert van de Beekstraat 354, Schiphol, North Holland 1118 CZ");
  auto q = Parse("inbound_location_messagetype.form", "+14123456789");
  ASSERT_TRUE(q.ok()) << q.status();
  EXPECT_DOUBLE_EQ(q->event->message().content().parts(0).location().latitude(), 12.160894393921);
}

TEST(TwilioParser, ProfileReplyContextReferralAndBsuid) {
  auto p = Parse("inbound_button_reply.form", "+4915123456");
  ASSERT_TRUE(p.ok()) << p.status();
  EXPECT_EQ(p->event->profile().display_name(), "Matthew Rider");
  EXPECT_EQ(p->event->profile().wa_id(), "491511234567");
  EXPECT_EQ(p->event->message().content().reply_to().provider_message_id(), "someUniqueId");
  auto n = Parse("inbound_text_nonascii.form", "+4915123456");
  ASSERT_TRUE(n.ok());
  EXPECT_EQ(n->event->profile().display_name(), "João Silva");
  auto r = Parse("inbound_referral_ctwa.form", "+4915123456");
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->event->message().referral().ad_id(), "120237244350960485");
  EXPECT_EQ(r->event->message().referral().ctwa_clid(), "AfjyUDlaIoiweZDnlzmDTEaG");
  EXPECT_EQ(r->event->message().referral().source(), "ad");
  EXPECT_EQ(r->event->message().referral().source_url(), "https://fb.me/4tBfhWhjr");
  auto b = Parse("inbound_bsuid.form", "+4915123456");
  ASSERT_TRUE(b.ok());
  EXPECT_EQ(b->event->customer().user_id(), "IN.2081978709342942");
}

TEST(TwilioParser, StatusCallbacks) {
  struct Case {
    const char* file;
    common::DeliveryStatus status;
    const char* sid;
  };
  for (const Case& c :
       {Case{"status_sent.form", common::DELIVERY_STATUS_SENT,
             "SM0cec4ed334e74bcbb64eb8b6684e9654"},
        Case{"status_delivered.form", common::DELIVERY_STATUS_DELIVERED,
             "SMdf55df64a2ff4920bb0748193cfbb640"},
        Case{"status_read.form", common::DELIVERY_STATUS_READ,
             "SM338ac551ecd04d698821b50ea5dXXXXX"},
        Case{"status_failed_63016.form", common::DELIVERY_STATUS_FAILED, "someValidMessageSid"},
        Case{"status_undelivered_63016.form", common::DELIVERY_STATUS_UNDELIVERED,
             "someValidMessageSid"}}) {
    auto p = Parse(c.file, "+14123456789");
    ASSERT_TRUE(p.ok()) << c.file << ": " << p.status();
    const auto& s = p->event->status();
    EXPECT_EQ(s.status(), c.status) << c.file;
    EXPECT_EQ(s.provider_message_id(), c.sid) << c.file;
    EXPECT_EQ(p->event->dedup_key(), absl::StrCat("status:", c.sid, ":", s.provider_status()));
    EXPECT_FALSE(p->event->customer().user_id().empty());
    EXPECT_FALSE(absl::StartsWith(p->event->customer().user_id(), "whatsapp:"));
  }
  auto f = Parse("status_failed_63016.form", "+4915123456");
  ASSERT_TRUE(f.ok());
  EXPECT_EQ(f->event->status().error_code(), 63016);
  EXPECT_EQ(f->event->status().error().reason(), common::DELIVERY_FAILURE_REASON_WINDOW_CLOSED);
  EXPECT_EQ(f->event->customer().user_id(), "+491511234567");
}

TEST(TwilioParser, MissingSidIsAnError) {
  auto p = Parse("not_from_twilio.form", "+14123456789");
  ASSERT_FALSE(p.ok());
  EXPECT_EQ(p.status().message(), "MessageSid: missing");
}

TEST(TwilioParser, BadNumbersAreErrorsUnknownStatusIsSkipped) {
  const std::vector<FormParam> base = {{"MessageSid", "SM1"}, {"From", "whatsapp:+1"}};
  auto media = base;
  media.emplace_back("NumMedia", "x");
  EXPECT_FALSE(ParseTwilioWebhook(TwilioHook::kInbound, media, "", "+2").ok());
  auto missing = base;
  missing.emplace_back("NumMedia", "1");
  EXPECT_FALSE(ParseTwilioWebhook(TwilioHook::kInbound, missing, "", "+2").ok());
  auto lat = base;
  lat.emplace_back("Latitude", "north");
  EXPECT_FALSE(ParseTwilioWebhook(TwilioHook::kInbound, lat, "", "+2").ok());
  const std::vector<FormParam> status = {
      {"MessageSid", "SM1"}, {"To", "whatsapp:+1"}, {"MessageStatus", "receiving"}};
  auto skipped = ParseTwilioWebhook(TwilioHook::kStatus, status, "", "+2");
  ASSERT_TRUE(skipped.ok());
  EXPECT_FALSE(skipped->event.has_value());
  EXPECT_TRUE(skipped->skipped.has_value());
  auto code = status;
  code[2].second = "failed";
  code.emplace_back("ErrorCode", "abc");
  EXPECT_FALSE(ParseTwilioWebhook(TwilioHook::kStatus, code, "", "+2").ok());
}

TEST(TwilioParser, EmptyMessageIsUnsupported) {
  const std::vector<FormParam> params = {
      {"MessageSid", "SM1"}, {"From", "whatsapp:+1"}, {"MessageType", "contacts"}};
  auto p = ParseTwilioWebhook(TwilioHook::kInbound, params, "", "+2");
  ASSERT_TRUE(p.ok());
  const auto& part = p->event->message().content().parts(0);
  EXPECT_EQ(part.unsupported().provider_type(), "MessageType=contacts");
  EXPECT_EQ(part.unsupported().display_text(), "Error: Customer sent an unsupported message type");
}

TEST(TwilioStatus, NeverUnknownForKnownStatuses) {
  EXPECT_EQ(MapTwilioStatus("queued"), common::DELIVERY_STATUS_QUEUED);
  EXPECT_EQ(MapTwilioStatus("accepted"), common::DELIVERY_STATUS_QUEUED);
  EXPECT_EQ(MapTwilioStatus("sending"), common::DELIVERY_STATUS_QUEUED);
  EXPECT_EQ(MapTwilioStatus("Delivered"), common::DELIVERY_STATUS_DELIVERED);
  EXPECT_FALSE(MapTwilioStatus("received").has_value());
  EXPECT_EQ(MapTwilioError(21211, "").reason(),
            common::DELIVERY_FAILURE_REASON_RECIPIENT_UNAVAILABLE);
  EXPECT_EQ(MapTwilioError(12345, "odd").reason(), common::DELIVERY_FAILURE_REASON_PROVIDER_ERROR);
}

}  // namespace
}  // namespace parley::ingress

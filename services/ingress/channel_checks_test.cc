#include "services/ingress/channel_checks.h"

#include "absl/strings/match.h"
#include "gtest/gtest.h"

namespace parley::ingress {
namespace {

constexpr char kWorkStream[] = "8a1f0b9e-3f2a-4d1b-8c7e-0123456789ab";
constexpr char kAppSecret[] = "0123456789abcdef0123456789abcdef";
constexpr char kAuthToken[] = "fedcba9876543210fedcba9876543210";

v1::FacebookApp App() {
  v1::FacebookApp a;
  a.set_name("Acme Support");
  a.set_meta_app_id("1821152484774199");
  a.set_app_secret(kAppSecret);
  return a;
}

v1::FacebookPage Page() {
  v1::FacebookPage p;
  p.set_page_id("1895382890692545");
  p.set_name("Acme");
  p.set_parent_app_id("0b5c1e7a-1111-4222-8333-444455556666");
  p.set_page_access_token("EAAGm0PX4ZCpsBA");
  p.mutable_settings()->set_work_stream_id(kWorkStream);
  return p;
}

v1::WhatsAppSender Sender() {
  v1::WhatsAppSender s;
  s.set_name("Support NL");
  s.set_account_sid("AC0123456789abcdef0123456789abcdef");
  s.set_auth_token(kAuthToken);
  s.set_phone_number("+14155238886");
  s.mutable_settings()->set_work_stream_id(kWorkStream);
  return s;
}

void ExpectInvalid(const absl::Status& s, const std::string& message) {
  EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument) << s;
  EXPECT_EQ(s.message(), message);
}

google::protobuf::FieldMask Mask(std::initializer_list<const char*> paths) {
  google::protobuf::FieldMask m;
  for (const char* p : paths) m.add_paths(p);
  return m;
}

TEST(ChannelChecksTest, ValidResourcesPass) {
  EXPECT_TRUE(CheckNewApp(App()).ok());
  EXPECT_TRUE(CheckNewPage(Page()).ok());
  EXPECT_TRUE(CheckNewSender(Sender()).ok());
}

TEST(ChannelChecksTest, AppFields) {
  v1::FacebookApp a = App();
  a.set_name("");
  ExpectInvalid(CheckNewApp(a), "app.name: empty");
  a.set_name(std::string(201, 'x'));
  ExpectInvalid(CheckNewApp(a), "app.name: 201 characters, at most 200 allowed");
  a.set_name(std::string(200, 'x'));
  EXPECT_TRUE(CheckNewApp(a).ok());
  a.set_name("\xc3\xa9" + std::string(199, 'x'));  // 200 code points, 201 bytes
  EXPECT_TRUE(CheckNewApp(a).ok());
  a = App();
  a.set_meta_app_id("12ab");
  ExpectInvalid(CheckNewApp(a), "app.meta_app_id: \"12ab\" is not a Meta App ID (1..32 digits)");
  a = App();
  a.set_app_secret("");
  ExpectInvalid(CheckNewApp(a), "app.app_secret: required");
  a.set_app_secret(std::string(31, 'a'));
  ExpectInvalid(CheckNewApp(a),
                "app.app_secret: 31 characters, expected 32..128 hexadecimal characters");
  a.set_app_secret(std::string(32, 'g'));
  ExpectInvalid(CheckNewApp(a),
                "app.app_secret: not hexadecimal (expected 32..128 hexadecimal characters)");
  a = App();
  a.set_id("x");
  ExpectInvalid(CheckNewApp(a), "app.id: output only; leave it empty");
  a = App();
  a.set_app_secret_set(true);
  ExpectInvalid(CheckNewApp(a), "app.app_secret_set: output only; leave it empty");
}

TEST(ChannelChecksTest, SecretsAreNeverQuotedInErrors) {
  v1::FacebookApp a = App();
  a.set_app_secret("zz-very-secret-value-zz-0123456789");
  const absl::Status s = CheckNewApp(a);
  EXPECT_FALSE(s.ok());
  EXPECT_FALSE(absl::StrContains(s.message(), "very-secret")) << s;
  v1::WhatsAppSender w = Sender();
  w.set_auth_token("secret-token-with-wrong-shape-xx");
  const absl::Status t = CheckNewSender(w);
  EXPECT_FALSE(t.ok());
  EXPECT_FALSE(absl::StrContains(t.message(), "secret-token")) << t;
  v1::FacebookPage p = Page();
  p.set_page_access_token("EAA\nsecret");
  const absl::Status u = CheckNewPage(p);
  ExpectInvalid(u, "page.page_access_token: contains a control character");
}

TEST(ChannelChecksTest, PageFields) {
  v1::FacebookPage p = Page();
  p.set_page_id("");
  ExpectInvalid(CheckNewPage(p), "page.page_id: \"\" is not a Facebook Page ID (1..32 digits)");
  p = Page();
  p.set_page_id(std::string(33, '1'));
  EXPECT_EQ(CheckNewPage(p).code(), absl::StatusCode::kInvalidArgument);
  p = Page();
  p.set_parent_app_id("");
  ExpectInvalid(CheckNewPage(p), "page.parent_app_id: required");
  p = Page();
  p.set_page_access_token(std::string(1025, 'a'));
  ExpectInvalid(CheckNewPage(p), "page.page_access_token: 1025 characters, at most 1024 allowed");
  p = Page();
  p.clear_settings();
  ExpectInvalid(CheckNewPage(p), "page.settings: required (at least work_stream_id)");
  p = Page();
  p.mutable_settings()->set_work_stream_id("");
  ExpectInvalid(CheckNewPage(p), "page.settings.work_stream_id: required");
  p.mutable_settings()->set_work_stream_id("8A1F0B9E-3F2A-4D1B-8C7E-0123456789AB");
  ExpectInvalid(CheckNewPage(p),
                "page.settings.work_stream_id: \"8A1F0B9E-3F2A-4D1B-8C7E-0123456789AB\" is not a "
                "UUID (lower case)");
  p = Page();
  p.set_callback_uri("https://x");
  ExpectInvalid(CheckNewPage(p), "page.callback_uri: output only; leave it empty");
  p = Page();
  p.mutable_settings()->set_human_agent_tag_enabled(true);
  EXPECT_TRUE(CheckNewPage(p).ok());
}

TEST(ChannelChecksTest, LanguageTags) {
  for (const char* good : {"en", "de", "pt-BR", "en-US", "zh-Hant-TW", "es-419", "fil"}) {
    v1::FacebookPage p = Page();
    p.mutable_settings()->set_language(good);
    EXPECT_TRUE(CheckNewPage(p).ok()) << good;
  }
  for (const char* bad :
       {"e", "en_US", "en-", "-en", "1a", "en--US", "en-abcdefghi", "'; DROP TABLE x; --"}) {
    v1::FacebookPage p = Page();
    p.mutable_settings()->set_language(bad);
    const absl::Status s = CheckNewPage(p);
    EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument) << bad;
    EXPECT_TRUE(absl::StartsWith(s.message(), "page.settings.language: ")) << s;
  }
  common::v1::EndpointSettings s;
  DefaultSettings(&s);
  EXPECT_EQ(s.language(), "en");
}

TEST(ChannelChecksTest, SenderFields) {
  v1::WhatsAppSender s = Sender();
  s.set_account_sid("AB0123456789abcdef0123456789abcdef");
  ExpectInvalid(CheckNewSender(s),
                "sender.account_sid: \"AB0123456789abcdef0123456789abcdef\" is not \"AC\" "
                "followed by 32 lower-case hexadecimal characters");
  // Twilio's AccountSid is lower case: an upper-case copy would never match a webhook's.
  s.set_account_sid("AC0123456789ABCDEF0123456789abcdef");
  ExpectInvalid(CheckNewSender(s),
                "sender.account_sid: \"AC0123456789ABCDEF0123456789abcdef\" is not \"AC\" "
                "followed by 32 lower-case hexadecimal characters");
  s = Sender();
  s.set_auth_token(std::string(33, 'a'));
  ExpectInvalid(CheckNewSender(s),
                "sender.auth_token: 33 characters, expected 32 hexadecimal characters");
  for (const char* bad :
       {"14155238886", "+1415", "+1234567890123456", "+1415523888a", "whatsapp:+14155238886"}) {
    s = Sender();
    s.set_phone_number(bad);
    const absl::Status st = CheckNewSender(s);
    EXPECT_EQ(st.code(), absl::StatusCode::kInvalidArgument) << bad;
    EXPECT_TRUE(absl::StrContains(st.message(), "is not E.164 (\"+\" and 8..15 digits)")) << st;
  }
  s = Sender();
  s.mutable_settings()->set_human_agent_tag_enabled(true);
  ExpectInvalid(CheckNewSender(s),
                "sender.settings.human_agent_tag_enabled: the Human Agent tag is Messenger only; "
                "must be false on WhatsApp");
  s = Sender();
  s.set_status_callback_uri("x");
  ExpectInvalid(CheckNewSender(s), "sender.status_callback_uri: output only; leave it empty");
}

TEST(ChannelChecksTest, UpdateMasks) {
  ExpectInvalid(CheckAppMask(Mask({})), "update_mask: empty; name the fields to change");
  EXPECT_TRUE(CheckAppMask(Mask({"name", "app_secret"})).ok());
  ExpectInvalid(CheckAppMask(Mask({"meta_app_id"})),
                "update_mask: \"meta_app_id\" cannot change (register a new application instead)");
  ExpectInvalid(CheckAppMask(Mask({"page_count"})), "update_mask: \"page_count\" is output only");
  ExpectInvalid(CheckAppMask(Mask({"nmae"})), "update_mask: unknown path \"nmae\"");
  ExpectInvalid(CheckAppMask(Mask({"settings"})), "update_mask: unknown path \"settings\"");

  EXPECT_TRUE(CheckPageMask(Mask({"name", "page_access_token", "settings"})).ok());
  EXPECT_TRUE(CheckPageMask(Mask({"settings.human_agent_tag_enabled", "settings.language"})).ok());
  ExpectInvalid(CheckPageMask(Mask({"settings.colour"})),
                "update_mask: unknown path \"settings.colour\"");
  ExpectInvalid(CheckPageMask(Mask({"page_id"})),
                "update_mask: \"page_id\" cannot change (add a new page instead)");
  ExpectInvalid(CheckPageMask(Mask({"parent_app_id"})),
                "update_mask: \"parent_app_id\" cannot change (a page stays with its application)");
  ExpectInvalid(CheckPageMask(Mask({"verify_token"})),
                "update_mask: \"verify_token\" is output only");

  EXPECT_TRUE(
      CheckSenderMask(Mask({"name", "account_sid", "auth_token", "settings.survey_enabled"})).ok());
  ExpectInvalid(CheckSenderMask(Mask({"phone_number"})),
                "update_mask: \"phone_number\" cannot change (register a new sender instead)");
}

TEST(ChannelChecksTest, ApplyMaskCopiesOnlyTheNamedFields) {
  v1::FacebookPage current = Page();
  current.mutable_settings()->set_language("de");
  v1::FacebookPage in;
  in.set_name("New name");
  in.set_page_id("999");
  in.mutable_settings()->set_human_agent_tag_enabled(true);
  in.mutable_settings()->set_language("fr");
  v1::FacebookPage next = current;
  ApplyMask(in, Mask({"name", "settings.human_agent_tag_enabled"}), &next);
  EXPECT_EQ(next.name(), "New name");
  EXPECT_EQ(next.page_id(), current.page_id());
  EXPECT_TRUE(next.settings().human_agent_tag_enabled());
  EXPECT_EQ(next.settings().language(), "de");
  EXPECT_EQ(next.settings().work_stream_id(), kWorkStream);

  v1::FacebookPage replaced = current;
  ApplyMask(in, Mask({"settings"}), &replaced);
  EXPECT_EQ(replaced.settings().language(), "fr");
  EXPECT_EQ(replaced.settings().work_stream_id(), "");
  ExpectInvalid(CheckUpdatedPage(replaced, Mask({"settings"})),
                "page.settings.work_stream_id: required");
}

TEST(ChannelChecksTest, EndpointRefs) {
  common::v1::EndpointRef e;
  e.set_id("123");
  ExpectInvalid(CheckEndpointRef(e),
                "endpoint.channel: unspecified (CHANNEL_MESSENGER or CHANNEL_WHATSAPP)");
  e.set_channel(common::v1::CHANNEL_MESSENGER);
  EXPECT_TRUE(CheckEndpointRef(e).ok());
  e.set_id("");
  ExpectInvalid(CheckEndpointRef(e), "endpoint.id: empty");
}

}  // namespace
}  // namespace parley::ingress

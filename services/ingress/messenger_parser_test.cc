// The Messenger parser against every fixture of tests/fixtures/providers/messenger and its
// record in expected_extractions.json, plus the event kinds the fixtures do not cover.
#include "services/ingress/messenger_parser.h"

#include <dirent.h>

#include <fstream>
#include <set>
#include <sstream>
#include <string>

#include "absl/strings/str_cat.h"
#include "google/protobuf/util/time_util.h"
#include "gtest/gtest.h"
#include "simdjson.h"

namespace parley::ingress {
namespace {

namespace common = parley::common::v1;
namespace sv1 = parley::session::v1;
using google::protobuf::util::TimeUtil;
using simdjson::dom::element;

std::string ReadFixture(const std::string& relative) {
  std::ifstream in(absl::StrCat(PARLEY_PROVIDER_FIXTURES, "/", relative), std::ios::binary);
  EXPECT_TRUE(in.good()) << relative;
  std::stringstream buffer;
  buffer << in.rdbuf();
  return buffer.str();
}

std::optional<element> Get(element e, const char* key) {
  element out;
  if (e[key].get(out) != simdjson::SUCCESS) return std::nullopt;
  return out;
}

std::string Str(element e, const char* key) {
  std::string_view s;
  if (e[key].get(s) != simdjson::SUCCESS) return "";
  return std::string(s);
}

// An expected number (or numeric string) as the decimal string the parser keeps.
std::string NumberText(element e) {
  std::string_view s;
  if (e.get(s) == simdjson::SUCCESS) return std::string(s);
  uint64_t u = 0;
  if (e.get(u) == simdjson::SUCCESS) return absl::StrCat(u);
  return "?";
}

std::string TextOf(const common::MessageContent& c) {
  for (const auto& p : c.parts()) {
    if (p.has_text()) return p.text();
  }
  return "";
}

const common::MessageContent* ContentOf(const sv1::InboundEvent& e) {
  if (e.has_message()) return &e.message().content();
  if (e.has_echo()) return &e.echo().content();
  return nullptr;
}

std::string KindOf(const sv1::InboundEvent& e) {
  if (e.has_message()) return "message";
  if (e.has_echo()) return "echo";
  if (e.has_delivery()) return "delivery";
  if (e.has_read()) return "read";
  if (e.has_postback()) return "postback";
  if (e.has_opt_in()) return "optin";
  return "other";
}

// Checks the content parts against an expected `attachments` list: every sticker id once as a
// Sticker part, the other attachments in order as Attachment or Location parts.
void CheckAttachments(element expected, const common::MessageContent& content,
                      const std::string& where) {
  std::set<std::string> expected_stickers;
  std::vector<element> others;
  for (element a : expected.get_array()) {
    if (auto sticker = Get(a, "sticker_id")) {
      expected_stickers.insert(NumberText(*sticker));
    } else {
      others.push_back(a);
    }
  }
  std::set<std::string> stickers;
  int sticker_parts = 0;
  std::vector<const common::ContentPart*> rest;
  for (const auto& p : content.parts()) {
    if (p.has_sticker()) {
      ++sticker_parts;
      stickers.insert(p.sticker().sticker_id());
      EXPECT_FALSE(p.sticker().provider_url().empty()) << where;
    } else if (p.has_attachment() || p.has_location()) {
      rest.push_back(&p);
    }
  }
  EXPECT_EQ(stickers, expected_stickers) << where;
  EXPECT_EQ(sticker_parts, static_cast<int>(expected_stickers.size())) << where << ": one per id";
  ASSERT_EQ(rest.size(), others.size()) << where;
  for (size_t i = 0; i < others.size(); ++i) {
    const std::string type = Str(others[i], "type");
    if (type == "location") {
      ASSERT_TRUE(rest[i]->has_location()) << where;
      EXPECT_EQ(rest[i]->location().latitude(), 0) << where;
      continue;
    }
    ASSERT_TRUE(rest[i]->has_attachment()) << where;
    const common::Attachment& a = rest[i]->attachment();
    if (type == "fallback") {
      EXPECT_EQ(a.kind(), common::ATTACHMENT_KIND_FALLBACK) << where;
      EXPECT_EQ(a.title(), Str(others[i], "title")) << where;
      EXPECT_EQ(a.state(), common::ATTACHMENT_STATE_NOT_APPLICABLE) << where;
      continue;
    }
    EXPECT_EQ(a.provider_url(), Str(others[i], "url")) << where;
    EXPECT_EQ(a.state(), common::ATTACHMENT_STATE_PENDING) << where;
    const common::AttachmentKind kind = type == "image"   ? common::ATTACHMENT_KIND_IMAGE
                                        : type == "audio" ? common::ATTACHMENT_KIND_AUDIO
                                        : type == "video" ? common::ATTACHMENT_KIND_VIDEO
                                                          : common::ATTACHMENT_KIND_FILE;
    EXPECT_EQ(a.kind(), kind) << where;
  }
}

void CheckEvent(element want, const sv1::InboundEvent& got, const std::string& where) {
  EXPECT_EQ(got.endpoint().channel(), common::CHANNEL_MESSENGER) << where;
  const std::string page = Str(want, "page_id");
  EXPECT_EQ(got.endpoint().id(), page.empty() ? Str(want, "recipient_id") : page) << where;
  EXPECT_EQ(got.customer().endpoint().id(), got.endpoint().id()) << where;
  EXPECT_EQ(got.customer().user_id(), Str(want, "user_psid")) << where;
  EXPECT_EQ(KindOf(got), Str(want, "kind")) << where;
  EXPECT_FALSE(got.dedup_key().empty()) << where;
  EXPECT_FALSE(got.raw_event().empty()) << where;
  if (auto ts = Get(want, "timestamp")) {
    int64_t ms = 0;
    ASSERT_EQ(ts->get(ms), simdjson::SUCCESS);
    EXPECT_EQ(TimeUtil::TimestampToMilliseconds(got.provider_time()), ms) << where;
  }
  const common::MessageContent* content = ContentOf(got);
  if (!Str(want, "mid").empty()) {
    const std::string mid =
        got.has_message() ? got.message().provider_message_id() : got.echo().provider_message_id();
    EXPECT_EQ(mid, Str(want, "mid")) << where;
    EXPECT_EQ(got.dedup_key(), absl::StrCat(got.has_echo() ? "echo:" : "msg:", mid)) << where;
  }
  if (content != nullptr) {
    EXPECT_EQ(TextOf(*content), Str(want, "text")) << where;
    EXPECT_EQ(content->reply_to().provider_message_id(), Str(want, "reply_to_mid")) << where;
    std::string qr;
    for (const auto& p : content->parts()) {
      if (p.has_quick_reply()) qr = p.quick_reply().payload();
    }
    EXPECT_EQ(qr, Str(want, "quick_reply_payload")) << where;
    if (auto atts = Get(want, "attachments")) {
      CheckAttachments(*atts, *content, where);
    } else if (auto sticker = Get(want, "sticker_id")) {
      ASSERT_EQ(content->parts_size(), 1) << where;
      EXPECT_EQ(content->parts(0).sticker().sticker_id(), NumberText(*sticker)) << where;
    }
    for (const auto& p : content->parts()) EXPECT_FALSE(p.has_unsupported()) << where;
  }
  if (auto app = Get(want, "app_id")) {
    EXPECT_EQ(got.echo().meta_app_id(), NumberText(*app)) << where;
  }
  if (auto wm = Get(want, "watermark")) {
    const std::string ms = NumberText(*wm);
    const auto& ts = got.has_delivery() ? got.delivery().watermark() : got.read().watermark();
    EXPECT_EQ(absl::StrCat(TimeUtil::TimestampToMilliseconds(ts)), ms) << where;
    EXPECT_EQ(got.dedup_key(), absl::StrCat(KindOf(got), ":", Str(want, "user_psid"), ":", ms));
  }
  if (auto mids = Get(want, "mids")) {
    std::vector<std::string> expected;
    for (element m : mids->get_array()) expected.emplace_back(m.get_string().value());
    EXPECT_EQ(std::vector<std::string>(got.delivery().provider_message_ids().begin(),
                                       got.delivery().provider_message_ids().end()),
              expected)
        << where;
  }
  if (got.has_postback()) {
    EXPECT_EQ(got.postback().postback().payload(), Str(want, "payload"));
  }
  if (got.has_opt_in()) {
    EXPECT_EQ(got.opt_in().ref(), Str(want, "ref"));
  }
}

TEST(MessengerFixtures, EveryFixtureYieldsItsExpectedExtraction) {
  const std::string expected_text = ReadFixture("expected_extractions.json");
  simdjson::dom::parser parser;
  element root;
  ASSERT_EQ(parser.parse(expected_text).get(root), simdjson::SUCCESS);
  simdjson::dom::object messenger;
  ASSERT_EQ(root["messenger"].get(messenger), simdjson::SUCCESS);
  std::set<std::string> covered;
  for (auto field : messenger) {
    const std::string file(field.key);
    covered.insert(file);
    absl::StatusOr<MessengerBatch> batch = ParseMessengerWebhook(ReadFixture("messenger/" + file));
    ASSERT_TRUE(batch.ok()) << file << ": " << batch.status();
    simdjson::dom::array events = field.value["events"].get_array();
    ASSERT_EQ(batch->events.size(), events.size()) << file;
    size_t i = 0;
    for (element want : events) {
      CheckEvent(want, batch->events[i], absl::StrCat(file, " event ", i));
      ++i;
    }
    for (const SkippedEvent& s : batch->skipped) {
      EXPECT_EQ(s.reason, SkipReason::kUnknownKind) << file << ": " << s.detail;
    }
  }
  // Every fixture file has an expectation.
  DIR* dir = opendir(absl::StrCat(PARLEY_PROVIDER_FIXTURES, "/messenger").c_str());
  ASSERT_NE(dir, nullptr);
  int files = 0;
  while (dirent* d = readdir(dir)) {
    const std::string name = d->d_name;
    if (name.size() < 5 || name.substr(name.size() - 5) != ".json") continue;
    ++files;
    EXPECT_TRUE(covered.count(name)) << name;
  }
  closedir(dir);
  EXPECT_EQ(files, 20);
}

TEST(MessengerParser, UnicodeEscapesDecode) {
  auto batch = ParseMessengerWebhook(ReadFixture("messenger/text_unicode_escaped.json"));
  ASSERT_TRUE(batch.ok());
  EXPECT_EQ(batch->events[0].message().content().parts(0).text(), "äöå");
}

TEST(MessengerParser, DualStickerIsOneSticker) {
  auto batch = ParseMessengerWebhook(ReadFixture("messenger/sticker_dual_attachment_2026.json"));
  ASSERT_TRUE(batch.ok());
  const auto& content = batch->events[0].message().content();
  ASSERT_EQ(content.parts_size(), 1);
  EXPECT_EQ(content.parts(0).sticker().sticker_id(), "369239263222822");
}

TEST(MessengerParser, NullPayloadDoesNotCrash) {
  auto batch = ParseMessengerWebhook(
      R"({"object":"page","entry":[{"id":"1","time":5,"messaging":[{"sender":{"id":"2"},)"
      R"("recipient":{"id":"1"},"timestamp":6,"message":{"mid":"m","attachments":[)"
      R"({"type":"image","payload":null},{"type":"location","payload":null},)"
      R"({"type":"ephemeral"},{"payload":{"url":"x"}},null,7]}}]}]})");
  ASSERT_TRUE(batch.ok()) << batch.status();
  const auto& parts = batch->events[0].message().content().parts();
  ASSERT_EQ(parts.size(), 6);
  for (const auto& p : parts) {
    EXPECT_TRUE(p.has_unsupported());
    EXPECT_EQ(p.unsupported().display_text(), kUnsupportedDisplayText);
  }
}

TEST(MessengerParser, EchoIsNotACustomerMessage) {
  auto batch = ParseMessengerWebhook(ReadFixture("messenger/echo.json"));
  ASSERT_TRUE(batch.ok());
  const auto& e = batch->events[0];
  ASSERT_TRUE(e.has_echo());
  EXPECT_FALSE(e.has_message());
  EXPECT_EQ(e.echo().meta_app_id(), "1821152484774199");
  EXPECT_EQ(e.endpoint().id(), "1134713619900975");
  EXPECT_EQ(e.customer().user_id(), "1244813222196986");
}

constexpr char kEnvelope[] =
    R"({"object":"page","entry":[{"id":"100","time":1700000000000,"messaging":[%s],)"
    R"("standby":[%s]},{"id":200,"time":1700000000001,"messaging":[%s]}]})";

std::string Body(const std::string& a, const std::string& standby, const std::string& b) {
  std::string out = kEnvelope;
  for (const std::string* part : {&a, &standby, &b}) out.replace(out.find("%s"), 2, *part);
  return out;
}

TEST(MessengerParser, SeveralEntriesSeveralEventsStandbyAndKinds) {
  const std::string user =
      R"("sender":{"id":"9"},"recipient":{"id":"100"},"timestamp":1700000000123)";
  const std::string body = Body(
      absl::StrCat(
          R"({)", user, R"(,"message":{"mid":"m1","text":"hi"}},)",  //
          R"({)", user,
          R"(,"reaction":{"mid":"m1","action":"react","reaction":"love","emoji":"\u2764"}},)",
          R"({)", user, R"(,"message_edit":{"mid":"m1","text":"hey","num_edit":2}},)", R"({)", user,
          R"(,"referral":{"ref":"r","source":"SHORTLINK","type":"OPEN_THREAD"}},)", R"({)", user,
          R"(,"game_play":{"game_id":"1"}},)", R"({)", user,
          R"(,"postback":{"title":"Get Started","payload":"GS","mid":"m9"}})"),
      absl::StrCat(R"({)", user, R"(,"message":{"mid":"m2","text":"standby"}})"),
      R"({"sender":{"id":"8"},"recipient":{"id":"200"},"timestamp":1,"message":{"mid":"m3","text":"x","sticker_id":369239263222822}})");
  auto batch = ParseMessengerWebhook(body);
  ASSERT_TRUE(batch.ok()) << batch.status();
  ASSERT_EQ(batch->events.size(), 7u);
  EXPECT_EQ(batch->events[0].dedup_key(), "msg:m1");
  EXPECT_EQ(batch->events[1].dedup_key(), "reaction:9:m1:react:love:1700000000123");
  EXPECT_EQ(batch->events[1].reaction().emoji(), "❤");
  EXPECT_EQ(batch->events[1].reaction().action(), common::REACTION_ACTION_REACT);
  EXPECT_EQ(batch->events[2].dedup_key(), "edit:m1:2");
  EXPECT_EQ(batch->events[2].edit().text(), "hey");
  EXPECT_EQ(batch->events[3].dedup_key(), "referral:9:1700000000123");
  EXPECT_EQ(batch->events[3].referral().source(), "SHORTLINK");
  EXPECT_EQ(batch->events[4].dedup_key(), "postback:m9");
  EXPECT_EQ(batch->events[4].postback().postback().title(), "Get Started");
  EXPECT_TRUE(batch->events[5].standby());
  EXPECT_FALSE(batch->events[4].standby());
  EXPECT_EQ(batch->events[6].endpoint().id(), "200");  // a numeric entry.id stays a string
  EXPECT_EQ(batch->events[6].message().content().parts(1).sticker().sticker_id(),
            "369239263222822");
  ASSERT_EQ(batch->skipped.size(), 1u);
  EXPECT_EQ(batch->skipped[0].reason, SkipReason::kUnknownKind);
  EXPECT_NE(batch->skipped[0].detail.find("game_play"), std::string::npos);
}

TEST(MessengerParser, BrokenEventsAreSkippedNotFatal) {
  const std::string body =
      Body(R"({"sender":{"id":"9"},"recipient":{"id":"100"},"message":{"text":"no mid"}},)"
           R"({"recipient":{"id":"100"},"message":{"mid":"m"}},)"
           R"({"sender":{"id":"9"},"read":{"watermark":"soon"}},)"
           R"({"sender":{"id":"9"},"read":{"watermark":null}},)"
           R"("just a string",)"
           R"({"sender":{"id":"9"},"read":{"watermark":"1648581633369"}})",
           "", R"({"sender":{"id":"8"},"delivery":{"watermark":12}})");
  auto batch = ParseMessengerWebhook(body);
  ASSERT_TRUE(batch.ok()) << batch.status();
  ASSERT_EQ(batch->events.size(), 2u);
  EXPECT_EQ(batch->events[0].dedup_key(), "read:9:1648581633369");
  EXPECT_EQ(batch->events[1].dedup_key(), "delivery:8:12");
  ASSERT_EQ(batch->skipped.size(), 5u);
  for (const auto& s : batch->skipped) EXPECT_EQ(s.reason, SkipReason::kMalformedEvent) << s.detail;
}

TEST(MessengerParser, MalformedBodiesAreErrors) {
  EXPECT_FALSE(ParseMessengerWebhook("").ok());
  EXPECT_FALSE(ParseMessengerWebhook("{").ok());
  EXPECT_FALSE(ParseMessengerWebhook("[]").ok());
  EXPECT_FALSE(ParseMessengerWebhook(R"({"object":"page"})").ok());
  EXPECT_FALSE(ParseMessengerWebhook(R"({"object":"page","entry":{}})").ok());
  EXPECT_FALSE(ParseMessengerWebhook("{\"entry\":[],\"x\":\"\xff\"}").ok());  // not UTF-8
  EXPECT_FALSE(ParseMessengerWebhook(std::string("{\"entry\":[]}\0", 13)).ok());
}

TEST(MessengerParser, OtherObjectsAreSkipped) {
  auto batch =
      ParseMessengerWebhook(R"({"object":"instagram","entry":[{"id":"1","messaging":[]}]})");
  ASSERT_TRUE(batch.ok());
  EXPECT_TRUE(batch->events.empty());
  EXPECT_EQ(batch->skipped.size(), 1u);
}

TEST(MessengerParser, RawEventIsTheEventsBytesAsReceived) {
  const std::string body = ReadFixture("messenger/delivery.json");  // pretty-printed
  auto batch = ParseMessengerWebhook(body);
  ASSERT_TRUE(batch.ok());
  const std::string& raw = batch->events[0].raw_event();
  EXPECT_NE(body.find(raw), std::string::npos) << raw;
  EXPECT_EQ(raw.front(), '{');
  EXPECT_EQ(raw.back(), '}');
  EXPECT_NE(raw.find("\n"), std::string::npos);
  auto escaped = ParseMessengerWebhook(ReadFixture("messenger/text_unicode_escaped.json"));
  ASSERT_TRUE(escaped.ok());
  EXPECT_NE(escaped->events[0].raw_event().find("\\u00e4"), std::string::npos);
  // Non-object events and several lists keep the bytes aligned with their events.
  auto mixed = ParseMessengerWebhook(
      R"({"entry":[7,{"id":"1","standby":[{"sender":{"id":"2"},"timestamp":3,"read":{"watermark":9}}],)"
      R"("messaging":[null,{"sender":{"id":"2"},"timestamp":4,"read":{"watermark":8}}]}]})");
  ASSERT_TRUE(mixed.ok());
  ASSERT_EQ(mixed->events.size(), 2u);
  EXPECT_EQ(mixed->events[0].raw_event(),
            R"({"sender":{"id":"2"},"timestamp":4,"read":{"watermark":8}})");
  EXPECT_TRUE(mixed->events[1].standby());
  EXPECT_EQ(mixed->events[1].raw_event(),
            R"({"sender":{"id":"2"},"timestamp":3,"read":{"watermark":9}})");
}

TEST(MessengerParser, EventTimeFallsBackToEntryTime) {
  auto batch = ParseMessengerWebhook(ReadFixture("messenger/text_modern_mid.json"));
  ASSERT_TRUE(batch.ok());
  EXPECT_EQ(TimeUtil::TimestampToMilliseconds(batch->events[0].provider_time()), 1648581633369);
}

}  // namespace
}  // namespace parley::ingress

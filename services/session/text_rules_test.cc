#include "services/session/text_rules.h"

#include "gtest/gtest.h"

namespace parley::session {
namespace {

TEST(TextRulesTest, Utf8Validity) {
  EXPECT_TRUE(IsValidUtf8("plain"));
  EXPECT_TRUE(IsValidUtf8("caf\xc3\xa9 \xe2\x9d\xa4\xef\xb8\x8f \xf0\x9f\x98\x80"));
  EXPECT_FALSE(IsValidUtf8("\xc3"));              // truncated
  EXPECT_FALSE(IsValidUtf8("\xc0\xaf"));          // overlong '/'
  EXPECT_FALSE(IsValidUtf8("\xed\xa0\x80"));      // surrogate
  EXPECT_FALSE(IsValidUtf8("\xf4\x90\x80\x80"));  // above U+10FFFF
  EXPECT_FALSE(IsValidUtf8("\xff"));
}

TEST(TextRulesTest, CountsCodePointsAndDropsNul) {
  EXPECT_EQ(CodePoints("caf\xc3\xa9"), 4u);
  std::string s("a\0b\0c", 5);
  EXPECT_EQ(DropNul(&s), 2u);
  EXPECT_EQ(s, "abc");
}

TEST(TextRulesTest, CheckTextNamesFieldAndProblem) {
  EXPECT_TRUE(CheckText("text", "hello", 1, 10).ok());
  EXPECT_EQ(CheckText("text", "", 1, 10).message(), "text: must not be empty");
  EXPECT_EQ(CheckText("text", "hello world", 1, 10).message(),
            "text: 11 characters, at most 10 allowed");
  const absl::Status bad = CheckText("note.text", "\xff", 1, 10);
  EXPECT_EQ(bad.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(bad.message(), "note.text: not valid UTF-8");
}

TEST(TextRulesTest, Uuids) {
  EXPECT_TRUE(IsUuid("5c1e0b9e-3f2a-4d1b-8c7e-0123456789ab"));
  EXPECT_FALSE(IsUuid("5c1e0b9e3f2a4d1b8c7e0123456789ab"));
  EXPECT_FALSE(IsUuid("5c1e0b9e-3f2a-4d1b-8c7e-0123456789ag"));
  EXPECT_EQ(CheckUuid("conversation_id", "nope", true).message(),
            "conversation_id: 'nope' is not a UUID");
  EXPECT_EQ(CheckUuid("conversation_id", "", true).message(), "conversation_id: is required");
  EXPECT_TRUE(CheckUuid("agent_id", "", false).ok());
}

TEST(TextRulesTest, SearchConfigFollowsTheLanguage) {
  EXPECT_STREQ(SearchConfigForLanguage("en"), "english");
  EXPECT_STREQ(SearchConfigForLanguage("en-US"), "english");
  EXPECT_STREQ(SearchConfigForLanguage("FR_ca"), "french");
  EXPECT_STREQ(SearchConfigForLanguage("es"), "spanish");
  EXPECT_STREQ(SearchConfigForLanguage("de-DE"), "german");
  EXPECT_STREQ(SearchConfigForLanguage("pt-BR"), "portuguese");
  EXPECT_STREQ(SearchConfigForLanguage("ja"), "simple");
  EXPECT_STREQ(SearchConfigForLanguage(""), "simple");
}

}  // namespace
}  // namespace parley::session

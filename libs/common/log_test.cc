#include "libs/common/log.h"

#include "gtest/gtest.h"

namespace parley::log {
namespace {

TEST(LogTest, FormatsOneJsonObjectWithFieldsInOrder) {
  EXPECT_EQ(FormatLine("2026-11-22T10:00:00.000Z", Level::kInfo, "session", "listening",
                       {{"port", "50053"}}),
            R"({"ts":"2026-11-22T10:00:00.000Z","level":"info","svc":"session",)"
            R"("msg":"listening","port":"50053"})");
}

TEST(LogTest, EscapesQuotesBackslashesAndControlCharacters) {
  const std::string line =
      FormatLine("t", Level::kError, "s", "a \"quoted\"\\path\nnext\x01", {{"k\"", "\t"}});
  EXPECT_EQ(line, R"({"ts":"t","level":"error","svc":"s","msg":"a \"quoted\"\\path\nnext\u0001",)"
                  R"("k\"":"\t"})");
}

TEST(LogTest, KeepsValidUtf8AndReplacesInvalidBytes) {
  EXPECT_NE(FormatLine("t", Level::kWarn, "s", "caf\xC3\xA9 \xF0\x9F\x98\x80", {})
                .find("caf\xC3\xA9 \xF0\x9F\x98\x80"),
            std::string::npos);
  // A lone continuation byte, a truncated sequence and an overlong encoding.
  EXPECT_NE(FormatLine("t", Level::kWarn, "s", "a\x80z\xE2\x82", {}).find("a\xEF\xBF\xBDz"),
            std::string::npos);
  EXPECT_EQ(FormatLine("t", Level::kWarn, "s", "\xC0\xAF", {}).find("\xC0"), std::string::npos);
}

TEST(LogTest, ParsesLevels) {
  Level level = Level::kInfo;
  EXPECT_TRUE(ParseLevel("debug", &level));
  EXPECT_EQ(level, Level::kDebug);
  EXPECT_FALSE(ParseLevel("verbose", &level));
  EXPECT_EQ(level, Level::kDebug);
}

}  // namespace
}  // namespace parley::log

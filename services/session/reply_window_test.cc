#include "services/session/reply_window.h"

#include "gtest/gtest.h"

namespace parley::session {
namespace {

const absl::Time kLast = absl::FromUnixSeconds(1700000000);

TEST(ReplyWindowTest, StandardWindowIs24Hours) {
  const ReplyDeadlines d = ComputeReplyDeadlines(common::v1::CHANNEL_WHATSAPP, false, kLast);
  EXPECT_EQ(d.standard, kLast + absl::Hours(24));
  EXPECT_EQ(d.deadline, kLast + absl::Hours(24));
  EXPECT_EQ(WindowAt(d, kLast + absl::Hours(23)), v1::REPLY_WINDOW_OPEN);
  EXPECT_EQ(WindowAt(d, kLast + absl::Hours(24)), v1::REPLY_WINDOW_CLOSED);
}

TEST(ReplyWindowTest, HumanAgentTagGivesSevenDaysOnMessengerOnly) {
  const ReplyDeadlines m = ComputeReplyDeadlines(common::v1::CHANNEL_MESSENGER, true, kLast);
  EXPECT_EQ(m.standard, kLast + absl::Hours(24));
  EXPECT_EQ(m.deadline, kLast + absl::Hours(24 * 7));
  EXPECT_EQ(WindowAt(m, kLast + absl::Hours(1)), v1::REPLY_WINDOW_OPEN);
  EXPECT_EQ(WindowAt(m, kLast + absl::Hours(25)), v1::REPLY_WINDOW_HUMAN_AGENT_ONLY);
  EXPECT_EQ(WindowAt(m, kLast + absl::Hours(24 * 7)), v1::REPLY_WINDOW_CLOSED);

  const ReplyDeadlines w = ComputeReplyDeadlines(common::v1::CHANNEL_WHATSAPP, true, kLast);
  EXPECT_EQ(w.deadline, kLast + absl::Hours(24));
  const ReplyDeadlines untagged =
      ComputeReplyDeadlines(common::v1::CHANNEL_MESSENGER, false, kLast);
  EXPECT_EQ(untagged.deadline, kLast + absl::Hours(24));
}

}  // namespace
}  // namespace parley::session

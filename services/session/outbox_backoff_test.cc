#include "gtest/gtest.h"
#include "services/session/outbox_relay.h"

namespace parley::session {
namespace {

TEST(OutboxBackoffTest, DoublesFromTheInitialDelayUpToTheCap) {
  const absl::Duration initial = absl::Seconds(1);
  const absl::Duration max = absl::Seconds(30);
  EXPECT_EQ(OutboxBackoff(1, initial, max), absl::Seconds(1));
  EXPECT_EQ(OutboxBackoff(2, initial, max), absl::Seconds(2));
  EXPECT_EQ(OutboxBackoff(5, initial, max), absl::Seconds(16));
  EXPECT_EQ(OutboxBackoff(6, initial, max), absl::Seconds(30));
  EXPECT_EQ(OutboxBackoff(1000, initial, max), absl::Seconds(30));
}

}  // namespace
}  // namespace parley::session

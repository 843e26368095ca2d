#include "libs/common/failure_log.h"

#include "gtest/gtest.h"

namespace parley::log {
namespace {

const absl::Status kDown = absl::UnavailableError("postgresql unavailable");

TEST(FailureLogTest, WritesTheFirstFailureThenOnePerIntervalThenTheRecovery) {
  FailureLog log("outbox relay round", absl::Minutes(1));
  const absl::Time t0 = absl::FromUnixSeconds(1000);
  EXPECT_TRUE(log.Failed(kDown, t0));
  EXPECT_FALSE(log.Failed(kDown, t0 + absl::Milliseconds(200)));
  EXPECT_FALSE(log.Failed(kDown, t0 + absl::Seconds(59)));
  EXPECT_TRUE(log.Failed(kDown, t0 + absl::Seconds(60)));
  EXPECT_FALSE(log.Failed(kDown, t0 + absl::Seconds(61)));
  EXPECT_TRUE(log.Succeeded());
  EXPECT_FALSE(log.Succeeded());  // nothing to report twice
  // A new outage is reported at once, whatever the interval.
  EXPECT_TRUE(log.Failed(kDown, t0 + absl::Seconds(62)));
}

TEST(FailureLogTest, SuccessWithoutFailureWritesNothing) {
  FailureLog log("sweep");
  EXPECT_FALSE(log.Succeeded());
}

}  // namespace
}  // namespace parley::log

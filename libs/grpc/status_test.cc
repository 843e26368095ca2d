#include "libs/grpc/status.h"

#include "gtest/gtest.h"

namespace parley {
namespace {

TEST(StatusTest, KeepsCodeAndMessageBothWays) {
  const absl::Status original =
      absl::FailedPreconditionError("conversation 42: the reply window closed");
  const grpc::Status wire = ToGrpcStatus(original);
  EXPECT_EQ(wire.error_code(), grpc::StatusCode::FAILED_PRECONDITION);
  EXPECT_EQ(wire.error_message(), "conversation 42: the reply window closed");
  EXPECT_EQ(FromGrpcStatus(wire), original);
}

TEST(StatusTest, EveryCanonicalCodeMapsToTheSameNumber) {
  for (int code = 0; code <= 16; ++code) {
    const absl::Status s(static_cast<absl::StatusCode>(code), code == 0 ? "" : "m");
    EXPECT_EQ(static_cast<int>(ToGrpcStatus(s).error_code()), code);
  }
  EXPECT_TRUE(ToGrpcStatus(absl::OkStatus()).ok());
}

}  // namespace
}  // namespace parley

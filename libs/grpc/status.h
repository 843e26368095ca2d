// The one conversion between absl::Status (how Parley's code reports expected errors) and
// grpc::Status (what goes over the wire). The codes are the same canonical codes; the message
// travels unchanged, so it must already say what is wrong and which field.
#pragma once

#include "absl/status/status.h"
#include "grpcpp/support/status.h"

namespace parley {

grpc::Status ToGrpcStatus(const absl::Status& status);
absl::Status FromGrpcStatus(const grpc::Status& status);

}  // namespace parley

// Small helpers of the engine: ids and times as the engine stores them (milliseconds since the
// Unix epoch, as decimal strings in Redis).
#pragma once

#include <cstdint>
#include <string>

#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "google/protobuf/duration.pb.h"
#include "google/protobuf/timestamp.pb.h"

namespace parley::router::engine {

// A random (version 4) UUID, lower case.
std::string NewUuid();
bool IsUuid(absl::string_view s);

int64_t NowMs();
int64_t ToMs(const google::protobuf::Timestamp& ts);
int64_t ToMs(const google::protobuf::Duration& d);
void SetMs(int64_t ms, google::protobuf::Timestamp* out);
void SetDurationMs(int64_t ms, google::protobuf::Duration* out);

}  // namespace parley::router::engine

// Validation of RoutingAdminService input as router.proto states it, before any SQL:
// InvalidArgument naming the field and the problem. Also the shared pieces of the admin API:
// paging tokens (AIP-158), update masks (AIP-134), durations. Pure functions.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "google/protobuf/duration.pb.h"
#include "google/protobuf/field_mask.pb.h"
#include "google/protobuf/repeated_field.h"
#include "parley/router/v1/router.pb.h"

namespace parley::router {

absl::Status CheckUuid(absl::string_view field, absl::string_view value);
// Each a UUID, none repeated.
absl::Status CheckUuidList(absl::string_view field,
                           const google::protobuf::RepeatedPtrField<std::string>& ids);

struct Page {
  int size = 50;   // rows to return
  int offset = 0;  // rows to skip
};
// `list` tags the token with the list and its filters, so a token of another list is refused.
absl::StatusOr<Page> ParsePage(absl::string_view list, int page_size, absl::string_view token);
std::string NextPageToken(absl::string_view list, const Page& page);

int64_t ToNanos(const google::protobuf::Duration& d);
google::protobuf::Duration FromNanos(int64_t nanos);

// Create: defaults (capacity_cost 1, offer_timeout 60 s) applied, then everything checked,
// output-only fields refused. The same checks run on the merged resource of an update.
void ApplyDefaults(v1::WorkStream* ws);
absl::Status CheckWorkStream(const v1::WorkStream& ws, bool create);
absl::Status CheckQueue(const v1::Queue& q, bool create);
absl::Status CheckRule(const v1::RoutingRule& r, bool create);
absl::Status CheckAgent(const v1::Agent& a, bool create);

// The paths of an update mask: not empty, each one of `mutable_paths`; `immutable` paths get
// "<path> cannot be changed", output-only and unknown ones their own message.
absl::StatusOr<std::vector<std::string>> CheckMask(
    const google::protobuf::FieldMask& mask, const std::vector<absl::string_view>& mutable_paths,
    const std::vector<absl::string_view>& immutable_paths);

}  // namespace parley::router

// Paging as common.proto states it (AIP-158): page_size 0 → 50, above 500 → 500, negative →
// InvalidArgument; page tokens are opaque (an offset with a tag of the list they belong to),
// and a token that is not one of ours is InvalidArgument.
#pragma once

#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace parley {

struct Page {
  int size = 50;   // rows to return
  int offset = 0;  // rows to skip
};

// `field_prefix` names the fields in errors, e.g. "" or "message_".
absl::StatusOr<Page> ParsePage(absl::string_view list, int page_size, absl::string_view token,
                               absl::string_view field_prefix = "");

// The token of the page after `page` (`list` tags it).
std::string NextPageToken(absl::string_view list, const Page& page);

}  // namespace parley

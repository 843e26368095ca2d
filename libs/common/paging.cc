#include "libs/common/paging.h"

#include <algorithm>

#include "absl/strings/escaping.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/strip.h"

namespace parley {

absl::StatusOr<Page> ParsePage(absl::string_view list, int page_size, absl::string_view token,
                               absl::string_view field_prefix) {
  Page page;
  if (page_size < 0) {
    return absl::InvalidArgumentError(
        absl::StrCat(field_prefix, "page_size: ", page_size, " is negative"));
  }
  if (page_size > 0) page.size = std::min(page_size, 500);
  if (token.empty()) return page;
  std::string raw;
  absl::string_view rest;
  int offset = 0;
  const std::string tag = absl::StrCat(list, ":");
  if (!absl::WebSafeBase64Unescape(token, &raw) || !absl::StartsWith(rest = raw, tag) ||
      !absl::SimpleAtoi(rest.substr(tag.size()), &offset) || offset < 0) {
    return absl::InvalidArgumentError(
        absl::StrCat(field_prefix, "page_token: not a token of this list"));
  }
  page.offset = offset;
  return page;
}

std::string NextPageToken(absl::string_view list, const Page& page) {
  return absl::WebSafeBase64Escape(absl::StrCat(list, ":", page.offset + page.size));
}

}  // namespace parley

#include "libs/http/message.h"

#include "absl/strings/match.h"

namespace parley::http {

void Headers::Add(std::string name, std::string value) {
  fields_.emplace_back(std::move(name), std::move(value));
}

absl::string_view Headers::Get(absl::string_view name) const {
  for (const auto& [n, v] : fields_) {
    if (absl::EqualsIgnoreCase(n, name)) return v;
  }
  return "";
}

bool Headers::Has(absl::string_view name) const {
  for (const auto& field : fields_) {
    if (absl::EqualsIgnoreCase(field.first, name)) return true;
  }
  return false;
}

Response Text(int status, std::string body) {
  return Response{.status = status, .body = std::move(body)};
}

}  // namespace parley::http

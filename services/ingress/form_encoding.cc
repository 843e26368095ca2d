#include "services/ingress/form_encoding.h"

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "simdjson.h"

namespace parley::ingress {
namespace {

int HexValue(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  const char lower = absl::ascii_tolower(static_cast<unsigned char>(c));
  if (lower >= 'a' && lower <= 'f') return lower - 'a' + 10;
  return -1;
}

absl::StatusOr<std::string> Unescape(absl::string_view in, absl::string_view what) {
  std::string out;
  out.reserve(in.size());
  for (size_t i = 0; i < in.size(); ++i) {
    const char c = in[i];
    if (c == '+') {
      out.push_back(' ');
      continue;
    }
    if (c != '%') {
      out.push_back(c);
      continue;
    }
    const int hi = i + 2 < in.size() ? HexValue(in[i + 1]) : -1;
    const int lo = i + 2 < in.size() ? HexValue(in[i + 2]) : -1;
    if (hi < 0 || lo < 0) {
      return absl::InvalidArgumentError(absl::StrCat(what, ": bad % escape at byte ", i));
    }
    out.push_back(static_cast<char>(hi * 16 + lo));
    i += 2;
  }
  if (!simdjson::validate_utf8(out.data(), out.size())) {
    return absl::InvalidArgumentError(absl::StrCat(what, ": not UTF-8"));
  }
  return out;
}

}  // namespace

absl::StatusOr<std::vector<FormParam>> DecodeForm(absl::string_view body) {
  std::vector<FormParam> params;
  for (absl::string_view pair : absl::StrSplit(body, '&')) {
    if (pair.empty()) continue;
    const size_t eq = pair.find('=');
    const absl::string_view raw_name = pair.substr(0, eq);
    const absl::string_view raw_value =
        eq == absl::string_view::npos ? absl::string_view() : pair.substr(eq + 1);
    absl::StatusOr<std::string> name = Unescape(raw_name, "form parameter name");
    if (!name.ok()) return name.status();
    absl::StatusOr<std::string> value = Unescape(raw_value, absl::StrCat("form parameter ", *name));
    if (!value.ok()) return value.status();
    params.emplace_back(*std::move(name), *std::move(value));
  }
  return params;
}

std::string FormValue(const std::vector<FormParam>& params, absl::string_view name) {
  for (const auto& [n, v] : params) {
    if (n == name) return v;
  }
  return "";
}

bool FormHas(const std::vector<FormParam>& params, absl::string_view name) {
  for (const auto& p : params) {
    if (p.first == name) return true;
  }
  return false;
}

}  // namespace parley::ingress

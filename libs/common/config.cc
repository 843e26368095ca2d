#include "libs/common/config.h"

#include <cstdlib>
#include <functional>

#include "absl/strings/ascii.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/strip.h"

namespace parley {

std::string EnvName(absl::string_view setting) {
  return absl::StrCat("PARLEY_", absl::AsciiStrToUpper(setting));
}

std::string Redact(absl::string_view value, Visibility visibility) {
  switch (visibility) {
    case Visibility::kPlain:
      return std::string(value);
    case Visibility::kSecret:
      return "***";
    case Visibility::kUriPassword:
      break;
  }
  // scheme://user:password@host... -> scheme://user:***@host...
  const size_t scheme_end = value.find("://");
  const size_t at = value.find('@');
  if (scheme_end == absl::string_view::npos || at == absl::string_view::npos) {
    return std::string(value);
  }
  const size_t colon = value.find(':', scheme_end + 3);
  if (colon == absl::string_view::npos || colon > at) return std::string(value);
  return absl::StrCat(value.substr(0, colon + 1), "***", value.substr(at));
}

Config::Config(std::vector<Setting> settings) : settings_(std::move(settings)) {
  for (const Setting& s : settings_) values_[s.name] = s.default_value;
}

absl::Status Config::Load(int argc, const char* const* argv,
                          const std::function<const char*(const char*)>& getenv) {
  for (const Setting& s : settings_) {
    if (const char* v = getenv(EnvName(s.name).c_str()); v != nullptr) values_[s.name] = v;
  }
  for (int i = 1; i < argc; ++i) {
    absl::string_view arg = argv[i];
    if (!absl::ConsumePrefix(&arg, "--")) {
      positional_.emplace_back(arg);
      continue;
    }
    if (arg == "help") {
      help_requested_ = true;
      continue;
    }
    absl::string_view name = arg;
    std::string value;
    if (auto eq = arg.find('='); eq != absl::string_view::npos) {
      name = arg.substr(0, eq);
      value = std::string(arg.substr(eq + 1));
    } else if (i + 1 < argc) {
      value = argv[++i];
    } else {
      return absl::InvalidArgumentError(absl::StrCat("flag --", name, " needs a value"));
    }
    auto it = values_.find(name);
    if (it == values_.end()) {
      return absl::InvalidArgumentError(
          absl::StrCat("unknown flag --", name, " (--help lists the settings)"));
    }
    it->second = std::move(value);
  }
  return absl::OkStatus();
}

const std::string& Config::Get(absl::string_view name) const {
  auto it = values_.find(name);
  if (it == values_.end()) {
    absl::FPrintF(stderr, "internal error: setting '%s' is not declared\n", name);
    std::abort();
  }
  return it->second;
}

absl::StatusOr<int> Config::GetInt(absl::string_view name) const {
  int out = 0;
  if (!absl::SimpleAtoi(Get(name), &out)) {
    return absl::InvalidArgumentError(
        absl::StrCat("setting ", name, ": '", Get(name), "' is not an integer"));
  }
  return out;
}

absl::StatusOr<bool> Config::GetBool(absl::string_view name) const {
  bool out = false;
  if (!absl::SimpleAtob(Get(name), &out)) {
    return absl::InvalidArgumentError(
        absl::StrCat("setting ", name, ": '", Get(name), "' is not true or false"));
  }
  return out;
}

absl::StatusOr<absl::Duration> Config::GetDuration(absl::string_view name) const {
  absl::Duration out;
  if (!absl::ParseDuration(Get(name), &out) || out < absl::ZeroDuration()) {
    return absl::InvalidArgumentError(absl::StrCat("setting ", name, ": '", Get(name),
                                                   "' is not a duration such as 500ms or 10s"));
  }
  return out;
}

std::string Config::Help() const {
  std::string out;
  for (const Setting& s : settings_) {
    absl::StrAppendFormat(&out, "  --%s (env %s, default \"%s\")\n      %s\n", s.name,
                          EnvName(s.name), Redact(s.default_value, s.visibility), s.help);
  }
  return out;
}

std::vector<std::pair<std::string, std::string>> Config::Effective() const {
  std::vector<std::pair<std::string, std::string>> out;
  for (const Setting& s : settings_) {
    out.emplace_back(s.name, Redact(values_.find(s.name)->second, s.visibility));
  }
  return out;
}

}  // namespace parley

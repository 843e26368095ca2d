// Settings of a Parley binary. Every setting is declared with a default that works on a
// developer's machine; a value comes, by precedence, from the flag `--name=value`, the
// environment variable `PARLEY_NAME` (upper-cased), or the default. Reading a value of the
// wrong type is a clear error naming the setting, so a misconfigured pod stops at start-up.
#pragma once

#include <functional>
#include <map>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"

namespace parley {

// How a setting's value may be shown in logs and --help.
enum class Visibility {
  kPlain,        // shown as is
  kSecret,       // never shown
  kUriPassword,  // a URI whose password (user:password@) is masked
};

// One declared setting.
struct Setting {
  std::string name;           // lower_snake_case; the flag is --name, the variable PARLEY_NAME
  std::string default_value;  // used when neither the flag nor the variable is given
  std::string help;           // one line for --help
  Visibility visibility = Visibility::kPlain;
};

class Config {
 public:
  explicit Config(std::vector<Setting> settings);

  // Reads `--name=value` flags (and `--name value`) from argv and PARLEY_* variables through
  // `getenv`. Words that are not flags are kept as positional arguments (e.g. "migrate").
  // InvalidArgument for an undeclared flag or a flag without a value.
  absl::Status Load(int argc, const char* const* argv,
                    const std::function<const char*(const char*)>& getenv);

  // The raw value of a declared setting. Asking for an undeclared one is a programming error
  // and aborts.
  const std::string& Get(absl::string_view name) const;
  // The value as an integer, InvalidArgument naming the setting when it is not one.
  absl::StatusOr<int> GetInt(absl::string_view name) const;
  // true/false/1/0/yes/no, InvalidArgument otherwise.
  absl::StatusOr<bool> GetBool(absl::string_view name) const;
  // A duration in absl syntax ("250ms", "10s", "1h"), InvalidArgument otherwise.
  absl::StatusOr<absl::Duration> GetDuration(absl::string_view name) const;

  const std::vector<std::string>& positional() const { return positional_; }
  bool help_requested() const { return help_requested_; }
  // One line per setting: flag, variable, default and help.
  std::string Help() const;
  // name=value pairs of the effective configuration, secrets masked; for the start-up log.
  std::vector<std::pair<std::string, std::string>> Effective() const;

 private:
  std::vector<Setting> settings_;
  std::map<std::string, std::string, std::less<>> values_;
  std::vector<std::string> positional_;
  bool help_requested_ = false;
};

// The environment variable name of a setting: "grpc_port" -> "PARLEY_GRPC_PORT".
std::string EnvName(absl::string_view setting);

// `value` as it may be shown under `visibility`.
std::string Redact(absl::string_view value, Visibility visibility);

}  // namespace parley

// Structured logging: one JSON object per line on stderr, e.g.
//   {"ts":"2026-11-22T10:00:00.123Z","level":"info","svc":"session","msg":"listening",
//    "grpc":"0.0.0.0:50053"}
// so that a log pipeline can index the fields. Secrets never go through here: callers pass
// only values that may be shown (see Redact in config.h).
#pragma once

#include <initializer_list>
#include <string>
#include <utility>

#include "absl/strings/string_view.h"

namespace parley::log {

enum class Level { kDebug = 0, kInfo = 1, kWarn = 2, kError = 3 };

using Fields = std::initializer_list<std::pair<absl::string_view, absl::string_view>>;

// Process-wide settings, set once by main before threads start.
void SetComponent(absl::string_view component);
void SetMinLevel(Level level);
// Parses "debug", "info", "warn" or "error"; false for anything else.
bool ParseLevel(absl::string_view text, Level* level);

// Writes one line if `level` is at or above the minimum. Thread-safe.
void Write(Level level, absl::string_view msg, Fields fields = {});

inline void Debug(absl::string_view msg, Fields f = {}) { Write(Level::kDebug, msg, f); }
inline void Info(absl::string_view msg, Fields f = {}) { Write(Level::kInfo, msg, f); }
inline void Warn(absl::string_view msg, Fields f = {}) { Write(Level::kWarn, msg, f); }
inline void Error(absl::string_view msg, Fields f = {}) { Write(Level::kError, msg, f); }

// The JSON line Write prints, without the newline; exposed for tests. Strings are escaped
// as JSON requires; bytes that are not valid UTF-8 are replaced by U+FFFD.
std::string FormatLine(absl::string_view ts, Level level, absl::string_view component,
                       absl::string_view msg, Fields fields);

}  // namespace parley::log

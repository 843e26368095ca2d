#include "libs/common/log.h"

#include <atomic>
#include <cstdio>
#include <mutex>

#include "absl/strings/str_format.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"

namespace parley::log {
namespace {

std::atomic<Level> g_min_level{Level::kInfo};
std::string& Component() {
  static std::string* component = new std::string("parley");
  return *component;
}

absl::string_view LevelName(Level level) {
  switch (level) {
    case Level::kDebug:
      return "debug";
    case Level::kInfo:
      return "info";
    case Level::kWarn:
      return "warn";
    case Level::kError:
      return "error";
  }
  return "info";
}

// Length of the valid UTF-8 sequence at the start of `s`, or 0 when it is not one.
size_t Utf8SequenceLength(absl::string_view s) {
  const auto b0 = static_cast<unsigned char>(s[0]);
  size_t len = 0;
  if (b0 < 0x80) return 1;
  if (b0 >= 0xC2 && b0 <= 0xDF) len = 2;
  if (b0 >= 0xE0 && b0 <= 0xEF) len = 3;
  if (b0 >= 0xF0 && b0 <= 0xF4) len = 4;
  if (len == 0 || s.size() < len) return 0;
  for (size_t i = 1; i < len; ++i) {
    if ((static_cast<unsigned char>(s[i]) & 0xC0) != 0x80) return 0;
  }
  const auto b1 = static_cast<unsigned char>(s[1]);
  if (b0 == 0xE0 && b1 < 0xA0) return 0;  // overlong
  if (b0 == 0xED && b1 > 0x9F) return 0;  // surrogate
  if (b0 == 0xF0 && b1 < 0x90) return 0;  // overlong
  if (b0 == 0xF4 && b1 > 0x8F) return 0;  // above U+10FFFF
  return len;
}

void AppendJsonString(std::string* out, absl::string_view s) {
  out->push_back('"');
  while (!s.empty()) {
    const auto c = static_cast<unsigned char>(s[0]);
    if (c == '"' || c == '\\') {
      out->push_back('\\');
      out->push_back(static_cast<char>(c));
    } else if (c == '\n') {
      out->append("\\n");
    } else if (c == '\r') {
      out->append("\\r");
    } else if (c == '\t') {
      out->append("\\t");
    } else if (c < 0x20) {
      absl::StrAppendFormat(out, "\\u%04x", c);
    } else if (c >= 0x80) {
      const size_t len = Utf8SequenceLength(s);
      if (len == 0) {
        out->append("\xEF\xBF\xBD");
        s.remove_prefix(1);
        continue;
      }
      out->append(s.data(), len);
      s.remove_prefix(len);
      continue;
    } else {
      out->push_back(static_cast<char>(c));
    }
    s.remove_prefix(1);
  }
  out->push_back('"');
}

void AppendField(std::string* out, absl::string_view key, absl::string_view value) {
  out->push_back(',');
  AppendJsonString(out, key);
  out->push_back(':');
  AppendJsonString(out, value);
}

}  // namespace

void SetComponent(absl::string_view component) { Component() = std::string(component); }

void SetMinLevel(Level level) { g_min_level.store(level); }

bool ParseLevel(absl::string_view text, Level* level) {
  for (Level l : {Level::kDebug, Level::kInfo, Level::kWarn, Level::kError}) {
    if (text == LevelName(l)) {
      *level = l;
      return true;
    }
  }
  return false;
}

std::string FormatLine(absl::string_view ts, Level level, absl::string_view component,
                       absl::string_view msg, Fields fields) {
  std::string line = "{\"ts\":";
  AppendJsonString(&line, ts);
  AppendField(&line, "level", LevelName(level));
  AppendField(&line, "svc", component);
  AppendField(&line, "msg", msg);
  for (const auto& [key, value] : fields) AppendField(&line, key, value);
  line.push_back('}');
  return line;
}

void Write(Level level, absl::string_view msg, Fields fields) {
  if (level < g_min_level.load()) return;
  const std::string ts = absl::FormatTime("%Y-%m-%dT%H:%M:%E3SZ", absl::Now(), absl::UTCTimeZone());
  std::string line = FormatLine(ts, level, Component(), msg, fields);
  line.push_back('\n');
  static std::mutex mu;
  std::lock_guard<std::mutex> lock(mu);
  std::fwrite(line.data(), 1, line.size(), stderr);
  std::fflush(stderr);
}

}  // namespace parley::log

#include "services/session/text_rules.h"

#include <algorithm>
#include <cstdint>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"

namespace parley::session {

bool IsValidUtf8(absl::string_view s) {
  size_t i = 0;
  while (i < s.size()) {
    const auto c = static_cast<uint8_t>(s[i]);
    size_t len = 0;
    uint32_t cp = 0;
    if (c < 0x80) {
      ++i;
      continue;
    } else if ((c & 0xE0) == 0xC0) {
      len = 2;
      cp = c & 0x1F;
    } else if ((c & 0xF0) == 0xE0) {
      len = 3;
      cp = c & 0x0F;
    } else if ((c & 0xF8) == 0xF0) {
      len = 4;
      cp = c & 0x07;
    } else {
      return false;
    }
    if (i + len > s.size()) return false;
    for (size_t k = 1; k < len; ++k) {
      const auto cc = static_cast<uint8_t>(s[i + k]);
      if ((cc & 0xC0) != 0x80) return false;
      cp = (cp << 6) | (cc & 0x3F);
    }
    static constexpr uint32_t kMin[] = {0, 0, 0x80, 0x800, 0x10000};
    if (cp < kMin[len] || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) return false;
    i += len;
  }
  return true;
}

size_t CodePoints(absl::string_view s) {
  return static_cast<size_t>(
      std::count_if(s.begin(), s.end(), [](char c) { return (c & 0xC0) != 0x80; }));
}

size_t DropNul(std::string* s) {
  const size_t before = s->size();
  s->erase(std::remove(s->begin(), s->end(), '\0'), s->end());
  return before - s->size();
}

bool IsUuid(absl::string_view s) {
  if (s.size() != 36) return false;
  for (size_t i = 0; i < s.size(); ++i) {
    if (i == 8 || i == 13 || i == 18 || i == 23) {
      if (s[i] != '-') return false;
    } else if (!absl::ascii_isxdigit(static_cast<unsigned char>(s[i]))) {
      return false;
    }
  }
  return true;
}

absl::Status CheckText(absl::string_view field, absl::string_view value, size_t min, size_t max) {
  if (!IsValidUtf8(value)) {
    return absl::InvalidArgumentError(absl::StrCat(field, ": not valid UTF-8"));
  }
  if (value.find('\0') != absl::string_view::npos) {
    return absl::InvalidArgumentError(absl::StrCat(field, ": contains a NUL character"));
  }
  const size_t n = CodePoints(value);
  if (n < min) {
    return absl::InvalidArgumentError(
        min == 1 ? absl::StrCat(field, ": must not be empty")
                 : absl::StrCat(field, ": ", n, " characters, at least ", min, " required"));
  }
  if (n > max) {
    return absl::InvalidArgumentError(
        absl::StrCat(field, ": ", n, " characters, at most ", max, " allowed"));
  }
  return absl::OkStatus();
}

absl::Status CheckUuid(absl::string_view field, absl::string_view value, bool required) {
  if (value.empty()) {
    return required ? absl::InvalidArgumentError(absl::StrCat(field, ": is required"))
                    : absl::OkStatus();
  }
  if (IsUuid(value)) return absl::OkStatus();
  if (!IsValidUtf8(value) || value.size() > 64) {
    return absl::InvalidArgumentError(absl::StrCat(field, ": not a UUID"));
  }
  return absl::InvalidArgumentError(absl::StrCat(field, ": '", value, "' is not a UUID"));
}

const char* SearchConfigForLanguage(absl::string_view language) {
  struct Entry {
    const char* code;
    const char* config;
  };
  // The snowball configurations PostgreSQL 13+ ships, by ISO 639-1 code.
  static constexpr Entry kConfigs[] = {
      {"ar", "arabic"},     {"hy", "armenian"},   {"eu", "basque"},    {"ca", "catalan"},
      {"da", "danish"},     {"nl", "dutch"},      {"en", "english"},   {"fi", "finnish"},
      {"fr", "french"},     {"de", "german"},     {"el", "greek"},     {"hi", "hindi"},
      {"hu", "hungarian"},  {"id", "indonesian"}, {"ga", "irish"},     {"it", "italian"},
      {"lt", "lithuanian"}, {"ne", "nepali"},     {"no", "norwegian"}, {"nb", "norwegian"},
      {"nn", "norwegian"},  {"pt", "portuguese"}, {"ro", "romanian"},  {"ru", "russian"},
      {"sr", "serbian"},    {"es", "spanish"},    {"sv", "swedish"},   {"ta", "tamil"},
      {"tr", "turkish"},    {"yi", "yiddish"},
  };
  const size_t end = language.find_first_of("-_");
  const std::string primary = absl::AsciiStrToLower(language.substr(0, end));
  for (const Entry& e : kConfigs) {
    if (primary == e.code) return e.config;
  }
  return "simple";
}

const char* AllSearchConfigs() {
  return "simple,arabic,armenian,basque,catalan,danish,dutch,english,finnish,french,german,"
         "greek,hindi,hungarian,indonesian,irish,italian,lithuanian,nepali,norwegian,"
         "portuguese,romanian,russian,serbian,spanish,swedish,tamil,turkish,yiddish";
}

}  // namespace parley::session

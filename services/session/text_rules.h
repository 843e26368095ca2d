// Checks and repairs of text and ids that every session request and inbound event goes
// through: UTF-8 validity, length in characters (Unicode code points), NUL characters
// (PostgreSQL text cannot hold U+0000), UUID syntax, and the PostgreSQL text-search
// configuration for an endpoint's language. Pure functions, unit-tested.
#pragma once

#include <cstddef>
#include <string>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"

namespace parley::session {

// Whether `s` is well-formed UTF-8 (no overlongs, no surrogates, nothing above U+10FFFF).
bool IsValidUtf8(absl::string_view s);

// Number of code points of well-formed UTF-8 `s`.
size_t CodePoints(absl::string_view s);

// Removes every NUL byte from `s`; returns how many were removed.
size_t DropNul(std::string* s);

// Whether `s` is a UUID in the canonical 8-4-4-4-12 hex form (either case).
bool IsUuid(absl::string_view s);

// InvalidArgument "<field>: ..." unless `value` is valid UTF-8 without NUL characters, of
// min..max code points.
absl::Status CheckText(absl::string_view field, absl::string_view value, size_t min, size_t max);

// InvalidArgument "<field>: '<value>' is not a UUID" (or "is required" when empty and
// required).
absl::Status CheckUuid(absl::string_view field, absl::string_view value, bool required);

// The PostgreSQL text-search configuration for a BCP 47 language tag ("en-US" → "english",
// "pt-BR" → "portuguese"); "simple" (no stemming) for languages PostgreSQL has none for.
const char* SearchConfigForLanguage(absl::string_view language);

// Every configuration SearchConfigForLanguage returns, comma-separated.
const char* AllSearchConfigs();

}  // namespace parley::session

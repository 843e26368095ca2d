#include "services/router/engine/util.h"

#include <openssl/rand.h>

#include <cstdlib>

#include "absl/strings/ascii.h"
#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"

namespace parley::router::engine {

std::string NewUuid() {
  unsigned char b[16];
  if (RAND_bytes(b, sizeof(b)) != 1) std::abort();  // no randomness: nothing safe to do
  b[6] = static_cast<unsigned char>((b[6] & 0x0f) | 0x40);
  b[8] = static_cast<unsigned char>((b[8] & 0x3f) | 0x80);
  const std::string hex =
      absl::BytesToHexString(absl::string_view(reinterpret_cast<const char*>(b), sizeof(b)));
  return absl::StrCat(hex.substr(0, 8), "-", hex.substr(8, 4), "-", hex.substr(12, 4), "-",
                      hex.substr(16, 4), "-", hex.substr(20));
}

bool IsUuid(absl::string_view s) {
  if (s.size() != 36) return false;
  for (size_t i = 0; i < s.size(); ++i) {
    const bool dash = i == 8 || i == 13 || i == 18 || i == 23;
    if (dash != (s[i] == '-')) return false;
    if (!dash && !(absl::ascii_isdigit(s[i]) || (s[i] >= 'a' && s[i] <= 'f'))) return false;
  }
  return true;
}

int64_t NowMs() { return absl::ToUnixMillis(absl::Now()); }

int64_t ToMs(const google::protobuf::Timestamp& ts) {
  return ts.seconds() * 1000 + ts.nanos() / 1000000;
}

int64_t ToMs(const google::protobuf::Duration& d) {
  return d.seconds() * 1000 + d.nanos() / 1000000;
}

void SetMs(int64_t ms, google::protobuf::Timestamp* out) {
  out->set_seconds(ms / 1000);
  out->set_nanos(static_cast<int32_t>((ms % 1000) * 1000000));
}

void SetDurationMs(int64_t ms, google::protobuf::Duration* out) {
  out->set_seconds(ms / 1000);
  out->set_nanos(static_cast<int32_t>((ms % 1000) * 1000000));
}

}  // namespace parley::router::engine

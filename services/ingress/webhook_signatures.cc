#include "services/ingress/webhook_signatures.h"

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/sha.h>

#include <algorithm>
#include <map>
#include <set>

#include "absl/strings/ascii.h"
#include "absl/strings/escaping.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"

namespace parley::ingress {
namespace {

std::string Hmac(const EVP_MD* md, absl::string_view key, absl::string_view message) {
  unsigned char out[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  const unsigned char* data = reinterpret_cast<const unsigned char*>(message.data());
  if (HMAC(md, key.data(), static_cast<int>(key.size()), data, message.size(), out, &len) ==
      nullptr) {
    return "";
  }
  return std::string(reinterpret_cast<const char*>(out), len);
}

// Decodes exactly 2*n hex characters; false for anything else.
bool DecodeHex(absl::string_view hex, std::string* out) {
  if (hex.size() % 2 != 0) return false;
  for (char c : hex) {
    if (!absl::ascii_isxdigit(static_cast<unsigned char>(c))) return false;
  }
  *out = absl::HexStringToBytes(hex);
  return true;
}

// The parts of an absolute URL that the port variants change.
struct UrlParts {
  std::string scheme;    // "https"
  std::string userinfo;  // "user:pass@" or ""
  std::string host;      // "example.com" or "[::1]"
  std::string port;      // "8443" or ""
  std::string rest;      // "/path?query" or ""
  bool parsed = false;
};

UrlParts SplitUrl(absl::string_view url) {
  UrlParts parts;
  const size_t scheme_end = url.find("://");
  if (scheme_end == absl::string_view::npos) return parts;
  parts.scheme = std::string(url.substr(0, scheme_end));
  absl::string_view after = url.substr(scheme_end + 3);
  const size_t authority_end = after.find_first_of("/?#");
  absl::string_view authority = after.substr(0, authority_end);
  parts.rest =
      authority_end == absl::string_view::npos ? "" : std::string(after.substr(authority_end));
  const size_t at = authority.rfind('@');
  if (at != absl::string_view::npos) {
    parts.userinfo = std::string(authority.substr(0, at + 1));
    authority.remove_prefix(at + 1);
  }
  size_t port_colon = authority.rfind(':');
  const size_t bracket = authority.rfind(']');
  if (port_colon != absl::string_view::npos && bracket != absl::string_view::npos &&
      port_colon < bracket) {
    port_colon = absl::string_view::npos;
  }
  parts.host = std::string(authority.substr(0, port_colon));
  if (port_colon != absl::string_view::npos) {
    parts.port = std::string(authority.substr(port_colon + 1));
  }
  parts.parsed = !parts.host.empty();
  return parts;
}

std::string JoinUrl(const UrlParts& p, absl::string_view port) {
  return absl::StrCat(p.scheme, "://", p.userinfo, p.host, port.empty() ? "" : ":", port, p.rest);
}

// Escapes in the query what a WHATWG URL serialiser escapes there for special schemes.
std::string EscapeQueryLikeWhatwg(absl::string_view url) {
  const size_t q = url.find('?');
  if (q == absl::string_view::npos) return std::string(url);
  std::string out(url.substr(0, q + 1));
  for (char c : url.substr(q + 1)) {
    const unsigned char u = static_cast<unsigned char>(c);
    const bool escape =
        u <= 0x20 || u >= 0x7f || c == '"' || c == '#' || c == '<' || c == '>' || c == '\'';
    if (!escape) {
      out.push_back(c);
      continue;
    }
    absl::StrAppend(&out, "%",
                    absl::AsciiStrToUpper(absl::BytesToHexString(absl::string_view(&c, 1))));
  }
  return out;
}

// The value of the last `name=` parameter in the URL's query, not decoded; "" when absent.
std::string QueryParam(absl::string_view url, absl::string_view name) {
  const size_t q = url.find('?');
  if (q == absl::string_view::npos) return "";
  std::string value;
  for (absl::string_view pair : absl::StrSplit(url.substr(q + 1), '&')) {
    const size_t eq = pair.find('=');
    if (eq == absl::string_view::npos || pair.substr(0, eq) != name) continue;
    value = std::string(pair.substr(eq + 1));
  }
  return value;
}

}  // namespace

bool ConstantTimeEquals(absl::string_view a, absl::string_view b) {
  if (a.size() != b.size()) return false;
  return CRYPTO_memcmp(a.data(), b.data(), a.size()) == 0;
}

std::string Sha256Hex(absl::string_view data) {
  unsigned char digest[SHA256_DIGEST_LENGTH];
  SHA256(reinterpret_cast<const unsigned char*>(data.data()), data.size(), digest);
  return absl::BytesToHexString(
      absl::string_view(reinterpret_cast<const char*>(digest), sizeof digest));
}

bool VerifyHubSignature(HubAlgorithm algorithm, absl::string_view app_secret,
                        absl::string_view body, absl::string_view presented) {
  if (app_secret.empty()) return false;
  const absl::string_view prefix = algorithm == HubAlgorithm::kSha256 ? "sha256=" : "sha1=";
  if (!absl::ConsumePrefix(&presented, prefix)) return false;
  std::string digest;
  if (!DecodeHex(presented, &digest)) return false;
  const EVP_MD* md = algorithm == HubAlgorithm::kSha256 ? EVP_sha256() : EVP_sha1();
  const std::string expected = Hmac(md, app_secret, body);
  return !expected.empty() && ConstantTimeEquals(expected, digest);
}

std::string HubSignature256(absl::string_view key, absl::string_view message) {
  return absl::StrCat("sha256=", absl::BytesToHexString(Hmac(EVP_sha256(), key, message)));
}

std::string TwilioSignedString(absl::string_view url, const std::vector<FormParam>& params) {
  std::map<std::string, std::set<std::string>> sorted;
  for (const auto& [name, value] : params) sorted[name].insert(value);
  std::string out(url);
  for (const auto& [name, values] : sorted) {
    for (const std::string& value : values) absl::StrAppend(&out, name, value);
  }
  return out;
}

std::string TwilioSignature(absl::string_view auth_token, absl::string_view url,
                            const std::vector<FormParam>& params) {
  return absl::Base64Escape(Hmac(EVP_sha1(), auth_token, TwilioSignedString(url, params)));
}

std::vector<std::string> TwilioUrlVariants(absl::string_view url) {
  std::vector<std::string> forms = {std::string(url)};
  const UrlParts parts = SplitUrl(url);
  if (parts.parsed) {
    forms.push_back(JoinUrl(parts, ""));
    const std::string scheme = absl::AsciiStrToLower(parts.scheme);
    const absl::string_view default_port =
        scheme == "https" ? "443" : (scheme == "http" ? "80" : "");
    if (parts.port.empty() && !default_port.empty()) forms.push_back(JoinUrl(parts, default_port));
  }
  const size_t n = forms.size();
  for (size_t i = 0; i < n; ++i) forms.push_back(EscapeQueryLikeWhatwg(forms[i]));
  std::vector<std::string> unique;
  for (std::string& f : forms) {
    if (std::find(unique.begin(), unique.end(), f) == unique.end()) unique.push_back(std::move(f));
  }
  return unique;
}

bool VerifyTwilioSignature(absl::string_view auth_token, absl::string_view url,
                           const std::vector<FormParam>& params, absl::string_view raw_body,
                           absl::string_view presented) {
  if (auth_token.empty() || presented.empty()) return false;
  const std::string body_sha = QueryParam(url, "bodySHA256");
  const std::vector<FormParam> none;
  const std::vector<FormParam>& signed_params = body_sha.empty() ? params : none;
  bool match = false;
  for (const std::string& form : TwilioUrlVariants(url)) {
    // Every variant is computed, so the time does not depend on which one matched.
    match |= ConstantTimeEquals(TwilioSignature(auth_token, form, signed_params), presented);
  }
  if (!match) return false;
  return body_sha.empty() ||
         ConstantTimeEquals(Sha256Hex(raw_body), absl::AsciiStrToLower(body_sha));
}

}  // namespace parley::ingress

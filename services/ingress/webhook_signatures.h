// Authenticity checks of the providers' webhooks, on the exact bytes received (OpenSSL HMAC,
// compared with CRYPTO_memcmp so that the time taken does not tell how much of a forged
// signature was right).
//
// Messenger: X-Hub-Signature-256 is "sha256=" + hex(HMAC-SHA256(App Secret, raw body)). The
// older X-Hub-Signature ("sha1=" + hex HMAC-SHA1) is understood for the published vectors but
// the webhook handler only accepts the SHA-256 header.
//
// Twilio: X-Twilio-Signature is base64(HMAC-SHA1(Auth Token, URL + every POST parameter name
// and value, sorted by name; a repeated name's values sorted and de-duplicated)). The URL is the
// public one Twilio called (TLS ends at a proxy), and is accepted as given, with its port
// removed, and with the scheme's default port added, as Twilio's own libraries do. A request
// whose URL carries `bodySHA256` (JSON bodies) is signed over the URL alone, and the raw body's
// SHA-256 must match that parameter.
#pragma once

#include <string>
#include <utility>
#include <vector>

#include "absl/strings/string_view.h"

namespace parley::ingress {

enum class HubAlgorithm { kSha256, kSha1 };

// Whether `presented` (the header value, e.g. "sha256=3967ee...") is the signature of `body`
// under `app_secret`. False for an empty secret, a missing or wrong prefix, a digest of the
// wrong length or with non-hex characters.
bool VerifyHubSignature(HubAlgorithm algorithm, absl::string_view app_secret,
                        absl::string_view body, absl::string_view presented);

// "sha256=" + lower-case hex of HMAC-SHA256(key, message): what Meta sends. For tests and the
// provider simulator.
std::string HubSignature256(absl::string_view key, absl::string_view message);

// One decoded form parameter, in body order.
using FormParam = std::pair<std::string, std::string>;

// The string Twilio signs for `url` and `params` (no port variants applied).
std::string TwilioSignedString(absl::string_view url, const std::vector<FormParam>& params);

// base64(HMAC-SHA1(auth_token, TwilioSignedString(url, params))).
std::string TwilioSignature(absl::string_view auth_token, absl::string_view url,
                            const std::vector<FormParam>& params);

// Whether `presented` (the X-Twilio-Signature value) signs the request. `url` is the full public
// URL with its query; `params` the decoded form parameters (empty for a JSON body); `raw_body`
// the body bytes, used only when the URL carries bodySHA256. False for an empty token.
bool VerifyTwilioSignature(absl::string_view auth_token, absl::string_view url,
                           const std::vector<FormParam>& params, absl::string_view raw_body,
                           absl::string_view presented);

// The URL forms Twilio's libraries accept for `url`: as given, with the port removed, with the
// scheme's default port added (https 443, http 80), and each of those with the query escaped
// the way a WHATWG URL serialises it (e.g. ' as %27). Duplicates removed; `url` first.
std::vector<std::string> TwilioUrlVariants(absl::string_view url);

// Lower-case hex of SHA-256(data).
std::string Sha256Hex(absl::string_view data);

// Whether `a` and `b` are equal, in time that depends only on their lengths.
bool ConstantTimeEquals(absl::string_view a, absl::string_view b);

}  // namespace parley::ingress

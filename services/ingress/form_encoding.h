// application/x-www-form-urlencoded, as Twilio posts its webhooks and as query strings carry
// Meta's verification handshake: '&'-separated name=value pairs, '+' for a space, %XX escapes.
#pragma once

#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "services/ingress/webhook_signatures.h"

namespace parley::ingress {

// The decoded pairs in body order (repeated names kept). A pair without '=' is a name with an
// empty value; empty pairs ("a=1&&b=2") are skipped. InvalidArgument for a bad % escape or a
// decoded name or value that is not UTF-8.
absl::StatusOr<std::vector<FormParam>> DecodeForm(absl::string_view body);

// The value of the first pair called `name`; "" when absent.
std::string FormValue(const std::vector<FormParam>& params, absl::string_view name);

// Whether a pair called `name` is present.
bool FormHas(const std::vector<FormParam>& params, absl::string_view name);

}  // namespace parley::ingress

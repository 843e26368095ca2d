// What the channel store and the channel cache share about the rows of migrations/0002:
// new ids and random tokens, the column lists they read, and the mapping of rows to the API's
// protos (secrets never included: only whether they are set).
#pragma once

#include <pqxx/pqxx>
#include <string>

#include "absl/strings/string_view.h"
#include "parley/ingress/v1/ingress.pb.h"

namespace parley::ingress {

// A random (version 4) UUID in lower case, from OpenSSL's RAND_bytes.
std::string NewUuid();
// 32 random URL-safe characters (24 random bytes, base64url): callback keys, verify tokens.
std::string RandomUrlToken();

// Columns of ingress.facebook_apps a, in the order AppFromRow reads them.
extern const char* const kAppColumns;
v1::FacebookApp AppFromRow(const pqxx::row& row);

// Columns of ingress.facebook_pages p, in the order PageFromRow reads them (from index
// `first`). The callback URI is `base_url` + "/webhooks/messenger/" + callback_key.
extern const char* const kPageColumns;
v1::FacebookPage PageFromRow(const pqxx::row& row, const std::string& base_url, int first = 0);

// Columns of ingress.whatsapp_senders s, in the order SenderFromRow reads them.
extern const char* const kSenderColumns;
v1::WhatsAppSender SenderFromRow(const pqxx::row& row, const std::string& base_url, int first = 0);

// The settings columns (language, work_stream_id, then the five flags) starting at `first`.
common::v1::EndpointSettings SettingsFromRow(const pqxx::row& row, int first);

std::string MessengerCallbackUri(absl::string_view base_url, absl::string_view key);
std::string TwilioCallbackUri(absl::string_view base_url, absl::string_view key);
std::string TwilioStatusCallbackUri(absl::string_view base_url, absl::string_view key);

}  // namespace parley::ingress

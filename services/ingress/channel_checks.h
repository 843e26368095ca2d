// The input rules of ChannelConfigService (ingress.proto): formats and lengths of every field,
// output-only fields, update masks. Pure functions; each error is INVALID_ARGUMENT naming the
// field ("page.settings.work_stream_id: not a UUID") and never quoting a secret's value.
#pragma once

#include <string>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"
#include "google/protobuf/field_mask.pb.h"
#include "parley/ingress/v1/ingress.pb.h"

namespace parley::ingress {

// A lower-case UUID (8-4-4-4-12 hexadecimal digits); `required` rejects an empty value.
absl::Status CheckUuid(absl::string_view field, absl::string_view value, bool required);

// Whole resources as they must be on create (output-only fields empty, required ones set).
absl::Status CheckNewApp(const v1::FacebookApp& app);
absl::Status CheckNewPage(const v1::FacebookPage& page);
absl::Status CheckNewSender(const v1::WhatsAppSender& sender);

// The resource after an update: every mutable field valid (secrets only when `mask` names
// them: an unchanged secret is not sent back).
absl::Status CheckUpdatedApp(const v1::FacebookApp& app, const google::protobuf::FieldMask& mask);
absl::Status CheckUpdatedPage(const v1::FacebookPage& page,
                              const google::protobuf::FieldMask& mask);
absl::Status CheckUpdatedSender(const v1::WhatsAppSender& sender,
                                const google::protobuf::FieldMask& mask);

// Update masks: non-empty, every path known and mutable. Allowed paths: app "name",
// "app_secret"; page "name", "page_access_token", "settings", "settings.<field>"; sender "name",
// "account_sid", "auth_token", "settings", "settings.<field>".
absl::Status CheckAppMask(const google::protobuf::FieldMask& mask);
absl::Status CheckPageMask(const google::protobuf::FieldMask& mask);
absl::Status CheckSenderMask(const google::protobuf::FieldMask& mask);

// Copies the fields `mask` names from `from` into `to` (same message type; the mask already
// checked). "settings" replaces all settings; "settings.<field>" one of them.
void ApplyMask(const google::protobuf::Message& from, const google::protobuf::FieldMask& mask,
               google::protobuf::Message* to);

// Fills defaults of settings left empty (language "en").
void DefaultSettings(common::v1::EndpointSettings* settings);

// An EndpointRef as GetEndpointSettings needs it.
absl::Status CheckEndpointRef(const common::v1::EndpointRef& endpoint);

// Unicode code points in valid UTF-8 text.
int CodePoints(absl::string_view text);

// A (non-secret) value as error messages quote it: at most the first 40 bytes (whole
// characters), with '"', '\\' and control characters escaped; no quotes added.
std::string ShowValue(absl::string_view value);

}  // namespace parley::ingress

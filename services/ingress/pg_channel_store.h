// The channel configuration in PostgreSQL (schema ingress, migrations/0002_channels.sql):
// Facebook applications, their pages and Twilio WhatsApp senders, as ChannelConfigService
// exposes them. Every method validates its input as ingress.proto documents (errors name the
// field, and never quote a secret), seals secrets with the SecretBox before they reach the
// database, and never returns them (only the *_set flags). Creating a page or sender generates
// its Callback URI key and Verify Token (32 random URL-safe characters each).
//
// Work streams belong to router: only their presence and UUID form are checked here; the
// FAILED_PRECONDITION "work stream does not exist / wrong channel" of the proto needs a call
// to router and is not made.
#pragma once

#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "libs/pg/pool.h"
#include "parley/ingress/v1/ingress.pb.h"
#include "services/ingress/secret_box.h"

namespace parley::ingress {

class PgChannelStore {
 public:
  // `public_base_url` (no trailing slash) prefixes the Callback URIs. `pool` and `box` must
  // outlive the store.
  PgChannelStore(pg::Pool& pool, const SecretBox& box, std::string public_base_url);

  // Facebook applications.
  absl::StatusOr<v1::FacebookApp> CreateApp(const v1::CreateFacebookAppRequest& request);
  absl::StatusOr<v1::FacebookApp> GetApp(const std::string& id);
  absl::StatusOr<v1::ListFacebookAppsResponse> ListApps(const v1::ListFacebookAppsRequest& request);
  absl::StatusOr<v1::FacebookApp> UpdateApp(const v1::UpdateFacebookAppRequest& request);
  absl::Status DeleteApp(const std::string& id);

  // Facebook pages.
  absl::StatusOr<v1::FacebookPage> CreatePage(const v1::CreateFacebookPageRequest& request);
  absl::StatusOr<v1::FacebookPage> GetPage(const std::string& id);
  absl::StatusOr<v1::ListFacebookPagesResponse> ListPages(
      const v1::ListFacebookPagesRequest& request);
  absl::StatusOr<v1::FacebookPage> UpdatePage(const v1::UpdateFacebookPageRequest& request);
  absl::Status DeletePage(const std::string& id);

  // Twilio WhatsApp senders.
  absl::StatusOr<v1::WhatsAppSender> CreateSender(const v1::CreateWhatsAppSenderRequest& request);
  absl::StatusOr<v1::WhatsAppSender> GetSender(const std::string& id);
  absl::StatusOr<v1::ListWhatsAppSendersResponse> ListSenders(
      const v1::ListWhatsAppSendersRequest& request);
  absl::StatusOr<v1::WhatsAppSender> UpdateSender(const v1::UpdateWhatsAppSenderRequest& request);
  absl::Status DeleteSender(const std::string& id);

  // The current settings and name of a page or sender by its provider id.
  absl::StatusOr<v1::GetEndpointSettingsResponse> GetEndpointSettings(
      const common::v1::EndpointRef& endpoint);

  // Re-seals, under the current key, every secret still sealed under another key of the ring
  // (after a rotation); returns how many. Secrets under a key the ring lacks are left as they
  // are and counted in the log, not here.
  absl::StatusOr<int> ResealSecrets();

 private:
  pg::Pool& pool_;
  const SecretBox& box_;
  const std::string base_url_;
};

// Where each secret is bound (the SecretBox context): "<table>/<record id>/<column>". The cache
// opens them with the same strings.
std::string AppSecretContext(absl::string_view app_id);
std::string PageTokenContext(absl::string_view page_record_id);
std::string AuthTokenContext(absl::string_view sender_id);

}  // namespace parley::ingress

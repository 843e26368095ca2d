// Downloading a customer's file from the provider's URL (Messenger attachment `payload.url`,
// Twilio `MediaUrlN`), the provider half of ProviderGatewayService.FetchInboundMedia:
//   - only https URLs on the channel's media hosts (Messenger: fbcdn.net, fbsbx.com,
//     facebook.com, cdninstagram.com and their subdomains; WhatsApp: twilio.com, twiliocdn.com
//     and their subdomains), or on an extra origin from the settings (e.g. the provider
//     simulator's "http://127.0.0.1:8090");
//   - Basic auth (Twilio: Account SID and Auth Token) sent to the first host only; redirects
//     (up to 5) followed only to allowed hosts, without the credentials when the host changes;
//   - the provider's answer mapped to the contract's codes: 401/403/404/410 (and other 4xx)
//     FAILED_PRECONDITION (the file is gone or the credentials are wrong: final), 429/5xx and
//     transport failures UNAVAILABLE (retry later), a file over the size limit
//     FAILED_PRECONDITION.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "libs/http_client/http_client.h"
#include "parley/common/v1/common.pb.h"

namespace parley::ingress {

struct MediaFetchOptions {
  // Origins ("scheme://host[:port]") allowed besides the channel's own hosts, any channel.
  std::vector<std::string> extra_origins;
  absl::Duration timeout = absl::Seconds(60);
  size_t max_bytes = 26214400;  // the largest file any channel allows (Messenger 25 MiB)
};

struct FetchedMedia {
  std::string bytes;
  std::string content_type;  // as the provider declared it; "" when absent
  std::string url;           // the URL the bytes came from (after redirects)
};

// OK when `url` may be fetched for `channel`; InvalidArgument naming the problem otherwise.
absl::Status CheckMediaUrl(common::v1::Channel channel, absl::string_view url,
                           const std::vector<std::string>& extra_origins);

absl::StatusOr<FetchedMedia> FetchMedia(http_client::Client& client, common::v1::Channel channel,
                                        const std::string& url,
                                        const std::optional<http_client::BasicAuth>& auth,
                                        const MediaFetchOptions& options);

}  // namespace parley::ingress

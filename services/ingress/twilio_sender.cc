#include "services/ingress/twilio_sender.h"

#include "absl/strings/str_cat.h"
#include "absl/strings/strip.h"

namespace parley::ingress {

std::vector<std::pair<std::string, std::string>> TwilioRequestParams(const TwilioMessage& m) {
  std::vector<std::pair<std::string, std::string>> params = {
      {"To", absl::StrCat("whatsapp:", m.to_user)},
      {"From", absl::StrCat("whatsapp:", m.from_number)},
  };
  if (!m.body.empty()) params.emplace_back("Body", m.body);
  for (const std::string& url : m.media_urls) params.emplace_back("MediaUrl", url);
  if (!m.status_callback.empty()) params.emplace_back("StatusCallback", m.status_callback);
  return params;
}

ProviderOutcome TwilioSender::Send(const TwilioMessage& m) const {
  std::string url = absl::StrCat(absl::StripSuffix(options_.base_url, "/"), "/2010-04-01/Accounts/",
                                 http_client::UrlEscape(m.account_sid), "/Messages.json");
  absl::StatusOr<http_client::Response> response =
      client_.Send({.method = "POST",
                    .url = std::move(url),
                    .headers = {{"Content-Type", "application/x-www-form-urlencoded"},
                                {"Accept", "application/json"}},
                    .body = http_client::FormEncode(TwilioRequestParams(m)),
                    .basic_auth = http_client::BasicAuth{m.account_sid, m.auth_token},
                    .timeout = options_.timeout,
                    .max_response_bytes = 1 << 20});
  if (!response.ok()) return ClassifyTransportFailure(response.status());
  return ClassifyTwilioReply({.http_status = response->status,
                              .body = response->body,
                              .retry_after = response->Header("Retry-After")},
                             absl::Now());
}

}  // namespace parley::ingress

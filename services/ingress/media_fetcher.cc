#include "services/ingress/media_fetcher.h"

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"

namespace parley::ingress {
namespace {

namespace cv1 = common::v1;

constexpr int kMaxRedirects = 5;

bool HostIn(absl::string_view host, std::initializer_list<absl::string_view> domains) {
  for (absl::string_view d : domains) {
    if (host == d || absl::EndsWith(host, absl::StrCat(".", d))) return true;
  }
  return false;
}

std::string Origin(const http_client::UrlParts& p) {
  return absl::StrCat(p.scheme, "://", p.host, ":", p.port);
}

// "scheme://host[:port]" with the port made explicit.
std::string NormalOrigin(absl::string_view origin) {
  absl::StatusOr<http_client::UrlParts> p = http_client::ParseUrl(origin);
  return p.ok() ? Origin(*p) : "";
}

}  // namespace

absl::Status CheckMediaUrl(cv1::Channel channel, absl::string_view url,
                           const std::vector<std::string>& extra_origins) {
  if (url.size() > 4096) {
    return absl::InvalidArgumentError("provider_url: over 4096 characters");
  }
  absl::StatusOr<http_client::UrlParts> p = http_client::ParseUrl(url);
  if (!p.ok())
    return absl::InvalidArgumentError(absl::StrCat("provider_url: ", p.status().message()));
  for (const std::string& origin : extra_origins) {
    if (NormalOrigin(origin) == Origin(*p)) return absl::OkStatus();
  }
  if (p->scheme != "https") {
    return absl::InvalidArgumentError("provider_url: not an https URL");
  }
  bool allowed =
      channel == cv1::CHANNEL_WHATSAPP
          ? HostIn(p->host, {"twilio.com", "twiliocdn.com"})
          : HostIn(p->host, {"fbcdn.net", "fbsbx.com", "facebook.com", "cdninstagram.com"});
  if (!allowed) {
    return absl::InvalidArgumentError(
        absl::StrCat("provider_url: host ", p->host, " is not a media host of the channel"));
  }
  return absl::OkStatus();
}

absl::StatusOr<FetchedMedia> FetchMedia(http_client::Client& client, cv1::Channel channel,
                                        const std::string& url,
                                        const std::optional<http_client::BasicAuth>& auth,
                                        const MediaFetchOptions& options) {
  if (absl::Status s = CheckMediaUrl(channel, url, options.extra_origins); !s.ok()) return s;
  std::string current = url;
  std::string first_host = http_client::ParseUrl(url)->host;
  for (int hop = 0; hop <= kMaxRedirects; ++hop) {
    std::optional<http_client::BasicAuth> creds;
    if (http_client::ParseUrl(current)->host == first_host) creds = auth;
    absl::StatusOr<http_client::Response> r =
        client.Send({.url = current,
                     .basic_auth = creds,
                     .timeout = options.timeout,
                     .max_response_bytes = options.max_bytes});
    if (!r.ok()) {
      if (r.status().code() == absl::StatusCode::kResourceExhausted) {
        return absl::FailedPreconditionError(absl::StrCat(
            "provider file is larger than ", options.max_bytes, " bytes; not fetched"));
      }
      return absl::UnavailableError(absl::StrCat("provider media: ", r.status().message()));
    }
    int status = r->status;
    if (status >= 200 && status < 300) {
      return FetchedMedia{.bytes = std::move(r->body),
                          .content_type = std::string(r->Header("Content-Type")),
                          .url = current};
    }
    if (status == 301 || status == 302 || status == 303 || status == 307 || status == 308) {
      absl::StatusOr<std::string> next = http_client::ResolveUrl(current, r->Header("Location"));
      if (!next.ok()) return absl::FailedPreconditionError(next.status().message());
      if (absl::Status s = CheckMediaUrl(channel, *next, options.extra_origins); !s.ok()) {
        return absl::FailedPreconditionError(
            absl::StrCat("provider media redirected to a disallowed URL: ", s.message()));
      }
      current = *std::move(next);
      continue;
    }
    if (status == 429 || status >= 500) {
      return absl::UnavailableError(
          absl::StrCat("provider media answered HTTP ", status, "; retry later"));
    }
    if (status == 401) {
      return absl::FailedPreconditionError(
          "provider media answered HTTP 401: the credentials were refused");
    }
    return absl::FailedPreconditionError(absl::StrCat(
        "provider media answered HTTP ", status, ": the file is gone (URL expired or removed)"));
  }
  return absl::FailedPreconditionError(
      absl::StrCat("provider media: more than ", kMaxRedirects, " redirects"));
}

}  // namespace parley::ingress

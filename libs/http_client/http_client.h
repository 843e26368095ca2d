// Outbound HTTP for Parley (provider APIs, media downloads, the provider simulator's webhooks):
// a thin layer over libcurl that keeps connections alive between calls, bounds every call in
// time, and reports transport failures as absl::Status. HTTP error statuses are not errors
// here: any answer the server gave is a Response, and the caller decides what it means.
//
// Thread-safe: calls run concurrently, each on an easy handle taken from a small pool. A handle
// keeps its connections (and TLS sessions, DNS answers) after a call, so the next call to the
// same host reuses the connection (keep-alive). Redirects are never followed: a caller that
// accepts them (media downloads) checks each Location itself.
#pragma once

#include <cstddef>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"

namespace parley::http_client {

// Header fields in order; names compare case-insensitively.
using HeaderList = std::vector<std::pair<std::string, std::string>>;

// The value of the first field called `name` (any case); "" when absent.
absl::string_view FindHeader(const HeaderList& headers, absl::string_view name);

struct BasicAuth {
  std::string username;
  std::string password;
};

struct Request {
  std::string method = "GET";  // GET, POST, ...
  std::string url;             // absolute http:// or https:// URL
  HeaderList headers;          // e.g. {"Content-Type", "application/json"}
  std::string body;            // sent as is (with Content-Length) when not empty or POST
  std::optional<BasicAuth> basic_auth;
  // Per-call limits; unset means the client's defaults.
  std::optional<absl::Duration> timeout;
  std::optional<size_t> max_response_bytes;
};

struct Response {
  int status = 0;
  HeaderList headers;  // of the final response, in order
  std::string body;

  absl::string_view Header(absl::string_view name) const { return FindHeader(headers, name); }
};

struct Options {
  absl::Duration connect_timeout = absl::Seconds(5);  // TCP + TLS handshake
  absl::Duration timeout = absl::Seconds(30);         // the whole call
  size_t max_response_bytes = 32 << 20;
  std::string user_agent = "parley/0.1";
  // Most idle handles (each with its connections) kept for reuse.
  int max_idle_handles = 16;
};

// Transport failures, told apart because a caller must know whether the request may have
// reached the server:
//   Unavailable         nothing was sent: bad host name, refused or failed connect, TLS
//                       handshake failure, connect timeout; safe to retry.
//   DeadlineExceeded    connected, the request went out, no full answer in time: the server
//                       may have acted on it.
//   ResourceExhausted   the answer was larger than max_response_bytes (rest discarded).
//   InvalidArgument     the request itself is wrong (not an http(s) URL, ...).
//   Internal            any other libcurl failure, with libcurl's message.
class Client {
 public:
  explicit Client(Options options = {});
  ~Client();
  Client(const Client&) = delete;
  Client& operator=(const Client&) = delete;

  absl::StatusOr<Response> Send(const Request& request);

  const Options& options() const { return options_; }

 private:
  struct Handle;
  std::unique_ptr<Handle> Acquire();
  void Release(std::unique_ptr<Handle> handle);

  Options options_;
  struct Pool;
  std::unique_ptr<Pool> pool_;
};

// The parts of an absolute URL as libcurl's URL parser reads it (lower-case scheme and host).
struct UrlParts {
  std::string scheme;
  std::string host;
  int port = 0;  // explicit or the scheme's default
};
// InvalidArgument when `url` is not an absolute URL libcurl accepts.
absl::StatusOr<UrlParts> ParseUrl(absl::string_view url);
// `location` (absolute or relative, as in a Location header) resolved against `base`.
absl::StatusOr<std::string> ResolveUrl(absl::string_view base, absl::string_view location);

// application/x-www-form-urlencoded body from pairs in order (repeated names allowed): every
// byte but A-Z a-z 0-9 - . _ ~ is %XX-escaped (a space is %20).
std::string FormEncode(const std::vector<std::pair<std::string, std::string>>& params);

// RFC 3986 percent-encoding of one query or path component (same alphabet as FormEncode).
std::string UrlEscape(absl::string_view text);

}  // namespace parley::http_client

#include "libs/http_client/http_client.h"

#include <curl/curl.h>

#include <mutex>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/strip.h"

namespace parley::http_client {
namespace {

void GlobalInit() {
  static std::once_flag once;
  std::call_once(once, [] { curl_global_init(CURL_GLOBAL_DEFAULT); });
}

// What one call collects from libcurl's callbacks.
struct Sink {
  Response* response;
  size_t max_body;
  bool too_large = false;
};

size_t OnBody(char* data, size_t size, size_t count, void* user) {
  auto* sink = static_cast<Sink*>(user);
  size_t n = size * count;
  if (sink->response->body.size() + n > sink->max_body) {
    sink->too_large = true;
    return 0;  // aborts the transfer with CURLE_WRITE_ERROR
  }
  sink->response->body.append(data, n);
  return n;
}

size_t OnHeader(char* data, size_t size, size_t count, void* user) {
  auto* sink = static_cast<Sink*>(user);
  size_t n = size * count;
  absl::string_view line(data, n);
  line = absl::StripSuffix(line, "\n");
  line = absl::StripSuffix(line, "\r");
  if (absl::StartsWith(line, "HTTP/")) {
    // A new response begins (after a 100 Continue or an informational answer).
    sink->response->headers.clear();
    return n;
  }
  size_t colon = line.find(':');
  if (colon == absl::string_view::npos) return n;
  sink->response->headers.emplace_back(
      std::string(absl::StripAsciiWhitespace(line.substr(0, colon))),
      std::string(absl::StripAsciiWhitespace(line.substr(colon + 1))));
  return n;
}

struct SlistDeleter {
  void operator()(curl_slist* list) const { curl_slist_free_all(list); }
};

long Millis(absl::Duration d) { return static_cast<long>(absl::ToInt64Milliseconds(d)); }

absl::Status TransportError(CURLcode code, CURL* curl, const char* message, const Sink& sink,
                            const Request& request) {
  std::string what = absl::StrCat(request.method, " ", request.url.substr(0, request.url.find('?')),
                                  ": ", message[0] != '\0' ? message : curl_easy_strerror(code));
  if (sink.too_large) {
    return absl::ResourceExhaustedError(
        absl::StrCat(request.method, " ", request.url.substr(0, request.url.find('?')),
                     ": response larger than ", sink.max_body, " bytes"));
  }
  long request_size = 0;
  curl_easy_getinfo(curl, CURLINFO_REQUEST_SIZE, &request_size);
  switch (code) {
    case CURLE_URL_MALFORMAT:
    case CURLE_UNSUPPORTED_PROTOCOL:
      return absl::InvalidArgumentError(what);
    case CURLE_COULDNT_RESOLVE_HOST:
    case CURLE_COULDNT_RESOLVE_PROXY:
    case CURLE_COULDNT_CONNECT:
    case CURLE_SSL_CONNECT_ERROR:
    case CURLE_PEER_FAILED_VERIFICATION:
      return absl::UnavailableError(what);
    case CURLE_OPERATION_TIMEDOUT:
    case CURLE_SEND_ERROR:
    case CURLE_RECV_ERROR:
    case CURLE_GOT_NOTHING:
    case CURLE_PARTIAL_FILE:
      // Whether the request left: a connect that never finished sent nothing.
      if (request_size == 0) return absl::UnavailableError(what);
      return absl::DeadlineExceededError(what);
    default:
      return absl::InternalError(what);
  }
}

}  // namespace

absl::string_view FindHeader(const HeaderList& headers, absl::string_view name) {
  for (const auto& [n, v] : headers) {
    if (absl::EqualsIgnoreCase(n, name)) return v;
  }
  return "";
}

struct Client::Handle {
  CURL* curl;
  explicit Handle(CURL* c) : curl(c) {}
  ~Handle() { curl_easy_cleanup(curl); }
};

struct Client::Pool {
  std::mutex mu;
  std::vector<std::unique_ptr<Handle>> idle;
};

Client::Client(Options options) : options_(std::move(options)), pool_(std::make_unique<Pool>()) {
  GlobalInit();
}

Client::~Client() = default;

std::unique_ptr<Client::Handle> Client::Acquire() {
  {
    std::lock_guard<std::mutex> lock(pool_->mu);
    if (!pool_->idle.empty()) {
      std::unique_ptr<Handle> h = std::move(pool_->idle.back());
      pool_->idle.pop_back();
      return h;
    }
  }
  CURL* curl = curl_easy_init();
  if (curl == nullptr) return nullptr;
  return std::make_unique<Handle>(curl);
}

void Client::Release(std::unique_ptr<Handle> handle) {
  std::lock_guard<std::mutex> lock(pool_->mu);
  if (static_cast<int>(pool_->idle.size()) < options_.max_idle_handles) {
    pool_->idle.push_back(std::move(handle));
  }
}

absl::StatusOr<Response> Client::Send(const Request& request) {
  if (!absl::StartsWith(request.url, "http://") && !absl::StartsWith(request.url, "https://")) {
    return absl::InvalidArgumentError(
        absl::StrCat("url: \"", request.url.substr(0, 64), "\" is not an http(s) URL"));
  }
  std::unique_ptr<Handle> handle = Acquire();
  if (handle == nullptr) return absl::InternalError("curl_easy_init failed");
  CURL* curl = handle->curl;
  // Reset keeps the handle's live connections, TLS sessions and DNS cache.
  curl_easy_reset(curl);

  Response response;
  Sink sink{.response = &response,
            .max_body = request.max_response_bytes.value_or(options_.max_response_bytes)};
  char error[CURL_ERROR_SIZE] = {0};

  std::unique_ptr<curl_slist, SlistDeleter> headers;
  auto add_header = [&headers](const std::string& line) {
    headers.reset(curl_slist_append(headers.release(), line.c_str()));
  };
  for (const auto& [name, value] : request.headers) add_header(absl::StrCat(name, ": ", value));
  add_header("Expect:");  // no 100-continue round trip for bodies

  curl_easy_setopt(curl, CURLOPT_URL, request.url.c_str());
  curl_easy_setopt(curl, CURLOPT_PROTOCOLS_STR, "http,https");
  curl_easy_setopt(curl, CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt(curl, CURLOPT_ERRORBUFFER, error);
  curl_easy_setopt(curl, CURLOPT_CONNECTTIMEOUT_MS, Millis(options_.connect_timeout));
  curl_easy_setopt(curl, CURLOPT_TIMEOUT_MS, Millis(request.timeout.value_or(options_.timeout)));
  curl_easy_setopt(curl, CURLOPT_USERAGENT, options_.user_agent.c_str());
  curl_easy_setopt(curl, CURLOPT_FOLLOWLOCATION, 0L);
  curl_easy_setopt(curl, CURLOPT_HTTPHEADER, headers.get());
  curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, OnBody);
  curl_easy_setopt(curl, CURLOPT_WRITEDATA, &sink);
  curl_easy_setopt(curl, CURLOPT_HEADERFUNCTION, OnHeader);
  curl_easy_setopt(curl, CURLOPT_HEADERDATA, &sink);
  if (request.basic_auth.has_value()) {
    curl_easy_setopt(curl, CURLOPT_HTTPAUTH, CURLAUTH_BASIC);
    curl_easy_setopt(curl, CURLOPT_USERNAME, request.basic_auth->username.c_str());
    curl_easy_setopt(curl, CURLOPT_PASSWORD, request.basic_auth->password.c_str());
  }
  if (request.method == "POST") {
    curl_easy_setopt(curl, CURLOPT_POST, 1L);
    curl_easy_setopt(curl, CURLOPT_POSTFIELDSIZE_LARGE,
                     static_cast<curl_off_t>(request.body.size()));
    curl_easy_setopt(curl, CURLOPT_POSTFIELDS, request.body.data());
  } else if (request.method == "HEAD") {
    curl_easy_setopt(curl, CURLOPT_NOBODY, 1L);
  } else if (request.method != "GET") {
    curl_easy_setopt(curl, CURLOPT_CUSTOMREQUEST, request.method.c_str());
    if (!request.body.empty()) {
      curl_easy_setopt(curl, CURLOPT_POSTFIELDSIZE_LARGE,
                       static_cast<curl_off_t>(request.body.size()));
      curl_easy_setopt(curl, CURLOPT_POSTFIELDS, request.body.data());
    }
  }

  CURLcode code = curl_easy_perform(curl);
  if (code != CURLE_OK) {
    absl::Status status = TransportError(code, curl, error, sink, request);
    // A handle whose transfer failed may hold a broken connection: drop it.
    return status;
  }
  long status = 0;
  curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &status);
  response.status = static_cast<int>(status);
  curl_easy_setopt(curl, CURLOPT_HTTPHEADER, nullptr);
  Release(std::move(handle));
  return response;
}

namespace {

struct UrlDeleter {
  void operator()(CURLU* u) const { curl_url_cleanup(u); }
};

std::string UrlPart(CURLU* u, CURLUPart part, unsigned int flags) {
  char* value = nullptr;
  if (curl_url_get(u, part, &value, flags) != CURLUE_OK || value == nullptr) return "";
  std::string out(value);
  curl_free(value);
  return out;
}

}  // namespace

absl::StatusOr<UrlParts> ParseUrl(absl::string_view url) {
  std::unique_ptr<CURLU, UrlDeleter> u(curl_url());
  std::string text(url);
  if (curl_url_set(u.get(), CURLUPART_URL, text.c_str(), 0) != CURLUE_OK) {
    return absl::InvalidArgumentError(absl::StrCat("\"", url.substr(0, 64), "\" is not a URL"));
  }
  UrlParts parts;
  parts.scheme = absl::AsciiStrToLower(UrlPart(u.get(), CURLUPART_SCHEME, 0));
  parts.host = absl::AsciiStrToLower(UrlPart(u.get(), CURLUPART_HOST, 0));
  std::string port = UrlPart(u.get(), CURLUPART_PORT, CURLU_DEFAULT_PORT);
  if (!absl::SimpleAtoi(port, &parts.port) || parts.host.empty()) {
    return absl::InvalidArgumentError(absl::StrCat("\"", url.substr(0, 64), "\" has no host"));
  }
  return parts;
}

absl::StatusOr<std::string> ResolveUrl(absl::string_view base, absl::string_view location) {
  std::unique_ptr<CURLU, UrlDeleter> u(curl_url());
  std::string b(base), l(location);
  if (curl_url_set(u.get(), CURLUPART_URL, b.c_str(), 0) != CURLUE_OK ||
      curl_url_set(u.get(), CURLUPART_URL, l.c_str(), 0) != CURLUE_OK) {
    return absl::InvalidArgumentError(
        absl::StrCat("Location \"", location.substr(0, 64), "\" is not a URL"));
  }
  return UrlPart(u.get(), CURLUPART_URL, 0);
}

std::string UrlEscape(absl::string_view text) {
  static constexpr char kHex[] = "0123456789ABCDEF";
  std::string out;
  out.reserve(text.size());
  for (unsigned char c : text) {
    if (absl::ascii_isalnum(c) || c == '-' || c == '.' || c == '_' || c == '~') {
      out.push_back(static_cast<char>(c));
    } else {
      out.push_back('%');
      out.push_back(kHex[c >> 4]);
      out.push_back(kHex[c & 0xF]);
    }
  }
  return out;
}

std::string FormEncode(const std::vector<std::pair<std::string, std::string>>& params) {
  std::string out;
  for (const auto& [name, value] : params) {
    if (!out.empty()) out.push_back('&');
    absl::StrAppend(&out, UrlEscape(name), "=", UrlEscape(value));
  }
  return out;
}

}  // namespace parley::http_client

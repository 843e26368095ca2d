#include "libs/http/connection.h"

#include <array>
#include <chrono>
#include <exception>
#include <optional>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "boost/asio/co_spawn.hpp"
#include "boost/asio/redirect_error.hpp"
#include "boost/asio/use_awaitable.hpp"
#include "boost/beast/core/flat_buffer.hpp"
#include "boost/beast/core/tcp_stream.hpp"
#include "boost/beast/http.hpp"
#include "libs/common/log.h"

namespace parley::http::internal {
namespace {

namespace beast = boost::beast;
namespace bhttp = boost::beast::http;
namespace net = boost::asio;
using tcp = net::ip::tcp;
using BeastRequest = bhttp::request<bhttp::string_body>;
using Clock = std::chrono::steady_clock;

constexpr size_t kMaxHeaderBytes = size_t{16} * 1024;
constexpr size_t kReadChunk = 4096;
// After an error response the client may still be sending the rejected request: it is read
// and dropped for up to this long, so that closing does not reset the connection before the
// client has read the response.
constexpr auto kLingerTime = std::chrono::seconds(2);
constexpr absl::string_view kUnmatched = "unmatched";

auto Redirect(beast::error_code& ec) { return net::redirect_error(net::use_awaitable, ec); }

std::chrono::nanoseconds Chrono(absl::Duration d) { return absl::ToChronoNanoseconds(d); }

absl::string_view View(beast::string_view s) { return {s.data(), s.size()}; }

// Counts one request in flight for the lifetime of the scope.
class InFlight {
 public:
  explicit InFlight(Drain& drain) : drain_(drain) { drain_.Begin(); }
  ~InFlight() { drain_.End(); }
  InFlight(const InFlight&) = delete;
  InFlight& operator=(const InFlight&) = delete;

 private:
  Drain& drain_;
};

// The status that answers a request that could not be read, or nullopt to close silently
// (the client went away, was too slow, or the server is stopping).
std::optional<int> StatusForReadError(const beast::error_code& ec) {
  if (ec == bhttp::error::body_limit) return 413;
  if (ec == bhttp::error::header_limit) return 431;
  if (ec == bhttp::error::end_of_stream || ec == bhttp::error::partial_message) return {};
  if (ec.category() == bhttp::make_error_code(bhttp::error::bad_method).category()) return 400;
  return {};
}

Response ErrorResponse(int status) {
  switch (status) {
    case 400:
      return Text(400, "malformed request\n");
    case 413:
      return Text(413, "request body too large\n");
    case 431:
      return Text(431, "request header too large\n");
    default:
      return Text(500, "internal error\n");
  }
}

Request ToRequest(BeastRequest&& in, const std::string& peer) {
  Request out{.method = std::string(View(in.method_string())), .peer = peer};
  const absl::string_view target = View(in.target());
  const size_t q = target.find('?');
  out.path = std::string(target.substr(0, q));
  if (q != absl::string_view::npos) out.query = std::string(target.substr(q + 1));
  for (const auto& field : in) {
    out.headers.Add(std::string(View(field.name_string())), std::string(View(field.value())));
  }
  out.body = std::move(in.body());
  return out;
}

bool Valid(const Response& r) {
  if (r.status < 200 || r.status > 599) return false;
  return r.body.empty() || (r.status != 204 && r.status != 304);
}

// Runs the matched handler; never throws.
Response Dispatch(const Router::Match& match, const Request& request) {
  if (match.route == nullptr) return Text(404, "not found\n");
  if (match.handler == nullptr) {
    Response r = Text(405, "method not allowed\n");
    r.headers.Add("Allow", match.allow);
    return r;
  }
  std::string error;
  try {
    Response r = (*match.handler)(request);
    if (Valid(r)) return r;
    error =
        absl::StrCat("invalid response: status ", r.status, " with ", r.body.size(), " body bytes");
  } catch (const std::exception& e) {
    error = e.what();
  } catch (...) {
    error = "unknown exception";
  }
  log::Error("http handler failed",
             {{"method", request.method}, {"route", *match.route}, {"error", error}});
  return Text(500, "internal error\n");
}

class Connection {
 public:
  Connection(tcp::socket socket, const Env& env) : stream_(std::move(socket)), env_(env) {
    beast::error_code ec;
    const tcp::endpoint peer = stream_.socket().remote_endpoint(ec);
    if (!ec) peer_ = absl::StrCat(peer.address().to_string(), ":", peer.port());
  }

  net::awaitable<void> Run() {
    for (bool first = true;; first = false) {
      const bool started = co_await AwaitRequestStart(first);
      if (!started) co_return;
      InFlight in_flight(env_.drain);
      const bool keep_alive = co_await ServeRequest();
      if (!keep_alive) co_return;
    }
  }

 private:
  // Waits for the first byte of the next request; false when the connection should close
  // (the client closed it or stayed silent too long).
  net::awaitable<bool> AwaitRequestStart(bool first) {
    if (buffer_.size() > 0) co_return true;  // a pipelined request is already here
    const Options& o = env_.options;
    stream_.expires_after(Chrono(first ? o.header_timeout : o.idle_timeout));
    beast::error_code ec;
    const size_t n = co_await stream_.async_read_some(buffer_.prepare(kReadChunk), Redirect(ec));
    if (ec) co_return false;
    buffer_.commit(n);
    co_return true;
  }

  // Reads one request and answers it; whether the connection stays open.
  net::awaitable<bool> ServeRequest() {
    bhttp::request_parser<bhttp::string_body> parser;
    parser.header_limit(kMaxHeaderBytes);
    parser.body_limit(env_.options.max_body_bytes);
    beast::error_code ec;
    stream_.expires_after(Chrono(env_.options.header_timeout));
    co_await bhttp::async_read_header(stream_, buffer_, parser, Redirect(ec));
    if (!ec && absl::EqualsIgnoreCase(View(parser.get()[bhttp::field::expect]), "100-continue")) {
      bhttp::response<bhttp::empty_body> go_on{bhttp::status::continue_, 11};
      stream_.expires_after(Chrono(env_.options.write_timeout));
      co_await bhttp::async_write(stream_, go_on, Redirect(ec));
    }
    if (!ec) {
      stream_.expires_after(Chrono(env_.options.body_timeout));
      co_await bhttp::async_read(stream_, buffer_, parser, Redirect(ec));
    }
    const auto start = Clock::now();
    BeastRequest& in = parser.get();
    const absl::string_view target = View(in.target());
    const Router::Match match =
        env_.router.Find(View(in.method_string()), target.substr(0, target.find('?')));
    if (ec) {
      const std::optional<int> status = StatusForReadError(ec);
      if (!status.has_value()) co_return false;
      const bool written = co_await Write(ErrorResponse(*status), in.version(), false);
      if (written) Observe(View(in.method_string()), match, *status, start);
      co_await LingeringClose();
      co_return false;
    }
    const unsigned version = in.version();
    const bool wants_keep_alive = in.keep_alive();
    const Request request = ToRequest(std::move(in), peer_);
    Response response;
    if (match.runs == Runs::kBlocking) {
      // On a handler thread; this connection's coroutine resumes on its own strand afterwards.
      response = co_await net::co_spawn(
          env_.handlers, [&]() -> net::awaitable<Response> { co_return Dispatch(match, request); },
          net::use_awaitable);
    } else {
      response = Dispatch(match, request);
    }
    const int status = response.status;
    const bool keep_alive = wants_keep_alive && !env_.drain.draining();
    const bool written = co_await Write(std::move(response), version, keep_alive);
    if (written) Observe(request.method, match, status, start);
    if (written && keep_alive) co_return true;
    stream_.socket().shutdown(tcp::socket::shutdown_send, ec);
    co_return false;
  }

  // Writes `response` in HTTP/`version` (10 or 11); false when it could not be written.
  net::awaitable<bool> Write(Response response, unsigned version, bool keep_alive) {
    bhttp::response<bhttp::string_body> out{static_cast<bhttp::status>(response.status),
                                            version == 10 ? 10u : 11u};
    if (!response.content_type.empty()) out.set(bhttp::field::content_type, response.content_type);
    for (const auto& [name, value] : response.headers.fields()) out.insert(name, value);
    out.body() = std::move(response.body);
    out.keep_alive(keep_alive);
    out.prepare_payload();
    beast::error_code ec;
    stream_.expires_after(Chrono(env_.options.write_timeout));
    co_await bhttp::async_write(stream_, out, Redirect(ec));
    co_return !ec;
  }

  void Observe(absl::string_view method, const Router::Match& match, int status,
               Clock::time_point start) const {
    if (!env_.options.observer) return;
    const std::chrono::duration<double> seconds = Clock::now() - start;
    env_.options.observer(method, match.route != nullptr ? *match.route : kUnmatched, status,
                          seconds.count());
  }

  net::awaitable<void> LingeringClose() {
    beast::error_code ec;
    stream_.socket().shutdown(tcp::socket::shutdown_send, ec);
    stream_.expires_after(kLingerTime);
    std::array<char, kReadChunk> discard;
    while (!ec) co_await stream_.async_read_some(net::buffer(discard), Redirect(ec));
  }

  beast::tcp_stream stream_;
  beast::flat_buffer buffer_;
  std::string peer_;
  const Env& env_;
};

}  // namespace

void Drain::Begin() {
  absl::MutexLock lock(&mu_);
  ++in_flight_;
}

void Drain::End() {
  absl::MutexLock lock(&mu_);
  --in_flight_;
}

bool Drain::WaitIdle(absl::Duration timeout) {
  absl::MutexLock lock(&mu_);
  return mu_.AwaitWithTimeout(absl::Condition(
                                  +[](int* n) { return *n == 0; }, &in_flight_),
                              timeout);
}

net::awaitable<void> ServeConnection(tcp::socket socket, const Env& env) {
  Connection connection(std::move(socket), env);
  co_await connection.Run();
}

}  // namespace parley::http::internal

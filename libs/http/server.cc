#include "libs/http/server.h"

#include <algorithm>
#include <atomic>
#include <exception>
#include <thread>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "boost/asio/co_spawn.hpp"
#include "boost/asio/io_context.hpp"
#include "boost/asio/post.hpp"
#include "boost/asio/redirect_error.hpp"
#include "boost/asio/steady_timer.hpp"
#include "boost/asio/strand.hpp"
#include "boost/asio/thread_pool.hpp"
#include "boost/asio/use_awaitable.hpp"
#include "libs/common/log.h"
#include "libs/http/connection.h"

namespace parley::http {
namespace {

namespace net = boost::asio;
using tcp = net::ip::tcp;
using boost::system::error_code;

// "host:port" or "[v6]:port" to an endpoint; host names are resolved.
absl::StatusOr<tcp::endpoint> ParseEndpoint(net::io_context& ioc, const std::string& address) {
  const size_t colon = address.rfind(':');
  int port = -1;
  if (colon == std::string::npos || !absl::SimpleAtoi(address.substr(colon + 1), &port) ||
      port < 0 || port > 65535) {
    return absl::InvalidArgumentError(absl::StrCat("http: '", address, "' is not host:port"));
  }
  std::string host = address.substr(0, colon);
  if (host.size() >= 2 && host.front() == '[' && host.back() == ']') {
    host = host.substr(1, host.size() - 2);
  }
  error_code ec;
  tcp::resolver resolver(ioc);
  const auto results = resolver.resolve(host, absl::StrCat(port), tcp::resolver::passive, ec);
  if (ec || results.empty()) {
    return absl::InvalidArgumentError(
        absl::StrCat("http: cannot resolve '", host, "': ", ec.message()));
  }
  return results.begin()->endpoint();
}

// Completion of a detached coroutine: an exception that escaped it is logged, not rethrown.
void LogEscapedException(absl::string_view what, const std::exception_ptr& e) {
  if (e == nullptr) return;
  try {
    std::rethrow_exception(e);
  } catch (const std::exception& x) {
    log::Error("http: unexpected exception", {{"in", what}, {"error", x.what()}});
  }
}

}  // namespace

struct Server::Impl {
  Impl(Options o, Router r) : options(std::move(o)), router(std::move(r)) {}

  net::awaitable<void> Accept();

  const Options options;
  const Router router;
  internal::Drain drain;
  // Runs the blocking handlers; created with the server, joined by Shutdown.
  std::unique_ptr<net::thread_pool> handlers =
      std::make_unique<net::thread_pool>(std::max(options.handler_threads, 1));
  const internal::Env env{options, router, drain, *handlers};
  // Declared after what the connections use: destroying the context destroys them.
  std::unique_ptr<net::io_context> ioc;
  std::unique_ptr<tcp::acceptor> acceptor;
  std::vector<std::thread> threads;
  int port = 0;
  std::atomic<bool> shut_down{false};
};

net::awaitable<void> Server::Impl::Accept() {
  for (;;) {
    tcp::socket socket(net::make_strand(*ioc));
    error_code ec;
    co_await acceptor->async_accept(socket, net::redirect_error(net::use_awaitable, ec));
    if (ec == net::error::operation_aborted || !acceptor->is_open()) co_return;
    if (ec) {
      // E.g. out of file descriptors: back off rather than spin.
      log::Warn("http: accept failed", {{"error", ec.message()}});
      net::steady_timer pause(acceptor->get_executor(), std::chrono::milliseconds(100));
      co_await pause.async_wait(net::redirect_error(net::use_awaitable, ec));
      continue;
    }
    const auto executor = socket.get_executor();
    net::co_spawn(executor, internal::ServeConnection(std::move(socket), env),
                  [](const std::exception_ptr& e) { LogEscapedException("connection", e); });
  }
}

Server::Server(Options options, Router router)
    : impl_(std::make_unique<Impl>(std::move(options), std::move(router))) {}

Server::~Server() { Shutdown(absl::ZeroDuration()); }

int Server::port() const { return impl_->port; }

absl::Status Server::Start() {
  Impl& s = *impl_;
  if (s.options.threads < 1) return absl::InvalidArgumentError("http: threads must be >= 1");
  if (s.options.handler_threads < 1) {
    return absl::InvalidArgumentError("http: handler_threads must be >= 1");
  }
  auto ioc = std::make_unique<net::io_context>(s.options.threads);
  absl::StatusOr<tcp::endpoint> endpoint = ParseEndpoint(*ioc, s.options.address);
  if (!endpoint.ok()) return endpoint.status();
  auto acceptor = std::make_unique<tcp::acceptor>(net::make_strand(*ioc));
  error_code ec;
  acceptor->open(endpoint->protocol(), ec);
  if (!ec) acceptor->set_option(net::socket_base::reuse_address(true), ec);
  if (!ec) acceptor->bind(*endpoint, ec);
  if (!ec) acceptor->listen(net::socket_base::max_listen_connections, ec);
  if (ec) {
    return absl::UnavailableError(
        absl::StrCat("http: cannot listen on ", s.options.address, ": ", ec.message()));
  }
  s.port = acceptor->local_endpoint().port();
  s.ioc = std::move(ioc);
  s.acceptor = std::move(acceptor);
  net::co_spawn(s.acceptor->get_executor(), s.Accept(),
                [](const std::exception_ptr& e) { LogEscapedException("accept", e); });
  for (int i = 0; i < s.options.threads; ++i) {
    s.threads.emplace_back([ioc = s.ioc.get()] { ioc->run(); });
  }
  return absl::OkStatus();
}

void Server::Shutdown(absl::Duration grace) {
  Impl& s = *impl_;
  if (s.ioc == nullptr || s.shut_down.exchange(true)) return;
  s.drain.Start();
  net::post(s.acceptor->get_executor(), [&s] {
    error_code ec;
    s.acceptor->close(ec);
  });
  s.drain.WaitIdle(grace);
  s.ioc->stop();
  for (std::thread& t : s.threads) t.join();
  s.threads.clear();
  s.handlers->join();  // a blocking handler still running after the grace: waited for
  s.acceptor.reset();
  s.ioc.reset();  // destroys the remaining connections, which closes them
}

}  // namespace parley::http

// Internal to libs/http: serving one accepted TCP connection as an Asio coroutine (read a
// request under its timeouts, answer it through the router, repeat while kept alive), and the
// count of requests in flight that lets Server::Shutdown drain them. Only server.cc uses it.
#pragma once

#include <atomic>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "boost/asio/awaitable.hpp"
#include "boost/asio/ip/tcp.hpp"
#include "boost/asio/thread_pool.hpp"
#include "libs/http/router.h"
#include "libs/http/server.h"

namespace parley::http::internal {

// Requests in flight, from their first byte until their response is written.
class Drain {
 public:
  void Begin();
  void End();
  // From now on responses close their connections.
  void Start() { draining_ = true; }
  bool draining() const { return draining_.load(); }
  // Waits until no request is in flight or `timeout` passed; false on timeout.
  bool WaitIdle(absl::Duration timeout);

 private:
  std::atomic<bool> draining_{false};
  absl::Mutex mu_;
  int in_flight_ ABSL_GUARDED_BY(mu_) = 0;
};

// What every connection of a server shares; outlives the connections.
struct Env {
  const Options& options;
  const Router& router;
  Drain& drain;
  boost::asio::thread_pool& handlers;  // runs the Runs::kBlocking handlers
};

// Serves `socket` until the client closes it, a timeout or an error response closes it, or the
// server stops. Runs on the socket's executor (a strand).
boost::asio::awaitable<void> ServeConnection(boost::asio::ip::tcp::socket socket, const Env& env);

}  // namespace parley::http::internal

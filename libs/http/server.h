// An HTTP/1.1 server on Boost.Beast and Asio for the endpoints providers call (webhooks) and
// Kubernetes probes. Connections are served asynchronously on a small pool of threads, so a
// client that trickles its request holds a socket and a timer but never a thread; inline
// handlers run on those threads, blocking ones (Runs::kBlocking) on handler threads of their
// own, so that webhooks waiting for a commit never keep a probe waiting. What it guarantees:
//   - keep-alive (HTTP/1.1 default, HTTP/1.0 on request) and Expect: 100-continue;
//   - 413 when Content-Length or a chunked body goes past max_body_bytes, 431 for a header
//     over 16 KiB, 400 for a malformed request (these three close the connection: the rest
//     of the request is unread); 404 for an unknown path, 405 with Allow for a known path
//     asked with another method, 500 (generic body, a log line) when a handler throws;
//   - a request's header must arrive within header_timeout of its first byte (and a new
//     connection must start one within header_timeout), its body within body_timeout, the next
//     request on a kept-alive connection within idle_timeout; otherwise the connection closes;
//   - Shutdown stops accepting, lets requests in flight finish for up to a grace period, and
//     closes every connection.
// Boost stays out of this header (see server.cc) so users do not compile Beast.
#pragma once

#include <cstddef>
#include <functional>
#include <memory>
#include <string>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "libs/http/router.h"

namespace parley::http {

// Told of every answered request, after its response was written: the method as sent, the
// registered route ("unmatched" when the path has none, so labels stay bounded), the status
// and the seconds from the end of the request (the last byte read) to the end of the response,
// which leaves out how slowly the client sent it. Called on the server's threads,
// concurrently; keep it cheap (e.g. Prometheus counters).
using Observer = std::function<void(absl::string_view method, absl::string_view route, int status,
                                    double seconds)>;

struct Options {
  // host:port to listen on; the host a name, an IPv4 or a bracketed IPv6 address. Port 0
  // picks a free port.
  std::string address = "0.0.0.0:8080";
  // Threads that run the connections and the inline handlers.
  int threads = 2;
  // Threads that run the blocking handlers: at most this many run at once, the others' requests
  // wait (their connections idle, no thread held) until one is free.
  int handler_threads = 4;
  size_t max_body_bytes = 1 << 20;
  absl::Duration header_timeout = absl::Seconds(10);
  absl::Duration body_timeout = absl::Seconds(30);
  absl::Duration idle_timeout = absl::Seconds(60);
  // How long writing a response may take (a client that stops reading is dropped).
  absl::Duration write_timeout = absl::Seconds(10);
  Observer observer;  // optional
};

class Server {
 public:
  Server(Options options, Router router);
  ~Server();  // Shutdown(absl::ZeroDuration()) if still running
  Server(const Server&) = delete;
  Server& operator=(const Server&) = delete;

  // Binds and starts serving. InvalidArgument for an address that is not host:port,
  // Unavailable when it cannot be bound. Called once.
  absl::Status Start();
  // The bound port, after Start.
  int port() const;

  // Stops accepting connections, lets requests in flight finish (their responses say
  // Connection: close) for up to `grace`, then closes every connection and joins the threads.
  // A handler still running after the grace delays the return until it returns. Idempotent.
  void Shutdown(absl::Duration grace);

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace parley::http

// Which handler answers a request: one handler per exact path and method, registered before
// the server starts and read-only afterwards (so lookups need no lock). A path that is known
// with another method is told apart from an unknown path, so the server can answer 405 with
// an Allow header rather than 404.
#pragma once

#include <functional>
#include <map>
#include <string>

#include "absl/strings/string_view.h"
#include "libs/http/message.h"

namespace parley::http {

// Answers one request, possibly concurrently with itself. An exception becomes a 500 response.
using Handler = std::function<Response(const Request&)>;

// Where a handler runs. kInline: on a connection thread; it must not wait for anything (a
// probe, a lookup in memory). kBlocking: on the server's handler threads, for handlers that
// wait on another service (a webhook waiting for its commit); the connection threads go on
// serving every other connection and the inline routes meanwhile.
enum class Runs { kInline, kBlocking };

class Router {
 public:
  // Registers `handler` for `method` ("GET", "POST", ...) on exactly `path` ("/readyz").
  // A path ending in "/*" ("/webhooks/messenger/*") is a prefix route: it answers every path
  // that starts with the part before the '*' and goes on after it, unless an exact route
  // matches; the longest prefix wins. Its label (Match::route) stays the registered pattern.
  // Registering the same method and path twice is a programming error and aborts.
  Router& Handle(absl::string_view method, absl::string_view path, Handler handler,
                 Runs runs = Runs::kInline);
  Router& Get(absl::string_view path, Handler handler, Runs runs = Runs::kInline);
  Router& Post(absl::string_view path, Handler handler, Runs runs = Runs::kInline);

  struct Match {
    const Handler* handler = nullptr;    // null when nothing answers this method on this path
    const std::string* route = nullptr;  // the registered path; null when the path is unknown
    std::string allow;                   // the path's methods ("GET, POST") when handler is null
    Runs runs = Runs::kInline;           // where `handler` runs
  };
  Match Find(absl::string_view method, absl::string_view path) const;

 private:
  struct Entry {
    Handler handler;
    Runs runs;
  };
  // path -> method -> handler
  using Routes = std::map<std::string, std::map<std::string, Entry, std::less<>>, std::less<>>;
  Routes::const_iterator FindPrefix(absl::string_view path) const;
  Routes routes_;
};

}  // namespace parley::http

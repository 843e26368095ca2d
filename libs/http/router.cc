#include "libs/http/router.h"

#include <cstdio>
#include <cstdlib>

#include "absl/strings/str_join.h"

namespace parley::http {

Router& Router::Handle(absl::string_view method, absl::string_view path, Handler handler) {
  auto& methods = routes_[std::string(path)];
  const bool inserted = methods.emplace(std::string(method), std::move(handler)).second;
  if (!inserted) {
    std::fprintf(stderr, "http: route %s %s registered twice\n", std::string(method).c_str(),
                 std::string(path).c_str());
    std::abort();
  }
  return *this;
}

Router& Router::Get(absl::string_view path, Handler handler) {
  return Handle("GET", path, std::move(handler));
}

Router& Router::Post(absl::string_view path, Handler handler) {
  return Handle("POST", path, std::move(handler));
}

Router::Match Router::Find(absl::string_view method, absl::string_view path) const {
  const auto route = routes_.find(path);
  if (route == routes_.end()) return {};
  Match match{.route = &route->first};
  const auto handler = route->second.find(method);
  if (handler != route->second.end()) {
    match.handler = &handler->second;
    return match;
  }
  match.allow = absl::StrJoin(
      route->second, ", ", [](std::string* out, const auto& entry) { out->append(entry.first); });
  return match;
}

}  // namespace parley::http
